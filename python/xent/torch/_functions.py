"""``xent.torch.cross_entropy`` and ``xent.torch.linear_cross_entropy``: PyTorch's signatures and checks in front
of the custom ops (internal to ``xent.torch``; documented in its package docstring)."""

from typing import Optional

import torch

from . import _cross_entropy_op, _linear_op  # noqa: F401  (importing them registers the ops)
from . import _tensors as tt


def _wants_grad(t):
    return t is not None and t.requires_grad and torch.is_grad_enabled()


def _op_options(reduction, ignore_index, label_smoothing, z_loss, soft_cap):
    """The options as the ops' schemas take them: reduction, ignore_index, [label_smoothing, z_loss, soft_cap]."""
    return reduction, int(ignore_index), [float(label_smoothing), float(z_loss), float(soft_cap)]


def _long(target):
    return target.long() if target.dtype == torch.uint8 else target


def cross_entropy(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: Optional[torch.Tensor] = None,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    soft_cap: float = 0.0,
) -> torch.Tensor:
    """As :func:`torch.nn.functional.cross_entropy` for ``(N, C)`` or ``(C,)`` logits and class-index targets,
    computed by libxent, plus ``z_loss`` and ``soft_cap`` (see :mod:`xent.torch`)."""
    name = "xent.torch.cross_entropy"
    tt.check_common(
        name, input, target, weight, reduction, label_smoothing, z_loss, soft_cap, input.shape[-1] if input.dim() else 0
    )
    if input.dim() not in (1, 2):
        raise ValueError(
            f"{name}: expected input of shape (N, C) or (C,), got {tuple(input.shape)} (for (N, C, d1, ...) move "
            "the class dimension last and flatten the others into N)"
        )
    tt.check_batch(input, target)
    one = input.dim() == 1
    loss, _ = torch.ops.xent.cross_entropy(
        input.unsqueeze(0) if one else input,
        _long(target).reshape(1) if one else _long(target),
        weight,
        *_op_options(reduction, ignore_index, label_smoothing, z_loss, soft_cap),
        _wants_grad(input),
    )
    return loss.reshape(()) if one else loss


def linear_cross_entropy(
    input: torch.Tensor,
    linear_weight: torch.Tensor,
    target: torch.Tensor,
    *,
    linear_bias: Optional[torch.Tensor] = None,
    weight: Optional[torch.Tensor] = None,
    reduction: str = "mean",
    ignore_index: Optional[int] = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    soft_cap: float = 0.0,
    options=None,
) -> torch.Tensor:
    """As :func:`torch.nn.functional.linear_cross_entropy` (PyTorch >= 2.11) for ``(N, in_features)`` or
    ``(in_features,)`` input, ``(C, in_features)`` ``linear_weight`` and class-index targets: the cross-entropy of
    ``input @ linear_weight.T + linear_bias``, fused by libxent (the logits never exist whole), differentiable in
    ``input``, ``linear_weight`` and ``linear_bias``; plus ``z_loss`` and ``soft_cap`` (see :mod:`xent.torch`).
    ``options`` is accepted for PyTorch's signature and ignored."""
    name = "xent.torch.linear_cross_entropy"
    if not all(isinstance(t, torch.Tensor) for t in (input, linear_weight, target)):
        raise TypeError(f"{name}: input, linear_weight and target must be torch.Tensor")
    if input.dim() not in (1, 2):
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() != 2:
        raise RuntimeError(
            f"{name}: expected linear_weight of shape (C, in_features), got {tuple(linear_weight.shape)} "
            "(K-dimensional losses are not supported)"
        )
    classes, in_features = linear_weight.shape
    if input.shape[-1] != in_features:
        raise RuntimeError(
            "expected equal input and linear_weight last dimensions (in_features), "
            f"got {input.shape[-1]} and {in_features}, respectively"
        )
    if linear_bias is not None and tuple(linear_bias.shape) != (classes,):
        raise RuntimeError(f"expected linear_bias shape {(classes,)}, got {tuple(linear_bias.shape)}")
    ignore_index = -100 if ignore_index is None else ignore_index
    tt.check_common(name, input, target, weight, reduction, label_smoothing, z_loss, soft_cap, classes)
    for t, what in ((linear_weight, "linear_weight"), (linear_bias, "linear_bias")):
        if t is not None and (t.dtype != input.dtype or t.device.type != "cpu"):
            raise RuntimeError(
                f"{name}: {what} must be a CPU tensor of input's dtype {input.dtype}, got {t.dtype} on {t.device}"
            )
    tt.check_batch(input, target)
    one = input.dim() == 1
    grad_weight, grad_bias = _wants_grad(linear_weight), _wants_grad(linear_bias)
    if reduction == "none" and torch.compiler.is_compiling():
        # in a graph the backward cannot read the upstream gradient to pick the forward's weight and bias
        # gradients, so it always recomputes them exactly: the forward need not make them
        grad_weight = grad_bias = False
    loss = torch.ops.xent.linear_cross_entropy(
        input.unsqueeze(0) if one else input,
        linear_weight,
        _long(target).reshape(1) if one else _long(target),
        linear_bias,
        weight,
        *_op_options(reduction, ignore_index, label_smoothing, z_loss, soft_cap),
        _wants_grad(input),
        grad_weight,
        grad_bias,
    )[0]
    return loss.reshape(()) if one else loss
