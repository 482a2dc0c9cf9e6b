"""Tensors as NumPy views for the library, argument checks in PyTorch's words, and library errors in them
(internal to ``xent.torch``)."""

import math
import re

import numpy as np
import torch

import xent

#: The dtypes the ops take; bfloat16 is computed in float32.
FLOAT_DTYPES = (torch.float32, torch.float64, torch.bfloat16)
REDUCTIONS = ("none", "mean", "sum")

_LABEL_ERROR = re.compile(r"label (-?\d+) at row (\d+)")


def compute_dtype(dtype):
    """The dtype the library computes in (and the saved gradients have): float32 for bfloat16."""
    return torch.float32 if dtype == torch.bfloat16 else dtype


def rows_layout(t):
    """``t`` (2-D) itself when the library can read it in place (rows contiguous, row stride >= cols), else one
    contiguous copy."""
    rows, cols = t.shape
    if (cols <= 1 or t.stride(1) == 1) and (rows <= 1 or t.stride(0) >= cols):
        return t
    return t.contiguous()


def contiguous_as(t, dtype):
    """``t`` converted to ``dtype`` and contiguous, in at most one copy (none when it already is both)."""
    if t.dtype == dtype:
        return t.contiguous()  # (.to with a memory_format returns t itself when the dtype matches)
    return t.to(dtype, memory_format=torch.contiguous_format)


def as_compute(t):
    """A 2-D float tensor in the library's layout and compute dtype (bfloat16 widened once, contiguous)."""
    if t.dtype == torch.bfloat16:
        return contiguous_as(t, torch.float32)
    return rows_layout(t)


def view(t):
    """The NumPy array sharing ``t``'s memory (float32/float64/int64 CPU tensor; no copy)."""
    return t.detach().numpy()


def bf16_view(t):
    """The bfloat16 tensor ``t``'s bits as a uint16 NumPy array sharing its memory."""
    return t.detach().view(torch.int16).numpy().view(np.uint16)


def labels(target):
    """The class indices as an int64 NumPy array (a view when ``target`` is contiguous int64)."""
    return view(contiguous_as(target, torch.int64))


def class_weights(weight):
    """The class weights as the float64 NumPy array the library reads (a copy of ``classes`` values), or None."""
    if weight is None:
        return None
    return view(contiguous_as(weight.detach(), torch.float64))


def library_options(reduction, ignore_index, floats, weight):
    """The NumPy API's keywords for the ops' options (``floats``: label_smoothing, z_loss, soft_cap), with the class
    weights and the thread count."""
    label_smoothing, z_loss, soft_cap = floats
    return dict(
        reduction=reduction,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        z_loss=z_loss,
        soft_cap=soft_cap,
        class_weights=class_weights(weight),
        num_threads=num_threads(),
    )


def num_threads():
    """The library's thread count: PyTorch's intra-op setting, so ``torch.set_num_threads`` bounds it too."""
    return max(torch.get_num_threads(), 1)


def translate_errors(call, classes, ignore_index):
    """``call()``, with a label out of range reported as PyTorch does (``IndexError: Target 7 is out of
    bounds.``), naming its row; other :class:`xent.XentError` pass unchanged."""
    try:
        return call()
    except xent.XentError as e:
        m = _LABEL_ERROR.search(e.detail or "")
        if e.status != xent.ERR_LABEL_OUT_OF_RANGE or m is None:
            raise
        raise IndexError(
            f"Target {m.group(1)} is out of bounds (row {m.group(2)} of target; class indices must lie in "
            f"[0, {classes}) or equal ignore_index={ignore_index})."
        ) from e


def nan_if_no_weight(loss, target, weight, ignore_index, reduction):
    """PyTorch's ``"mean"`` over a zero total weight (every row ignored, or only zero-weight classes) is NaN
    (0 / 0); the library gives 0. Called with the library's loss, changed in place (only when it is 0)."""
    if reduction != "mean" or loss.item() != 0.0:
        return
    valid = target != ignore_index
    total = weight[target[valid]].sum() if weight is not None else valid.sum()
    if total.item() == 0:
        loss.fill_(math.nan)


def check_loss_options(name, reduction, label_smoothing, z_loss, soft_cap):
    """The reduction and the float options, with PyTorch's exception types and wording where it has one."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    for value, what in ((z_loss, "z_loss"), (soft_cap, "soft_cap")):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name}: {what} must be finite and >= 0, got {value}")


def check_common(name, input, target, weight, reduction, label_smoothing, z_loss, soft_cap, classes):
    """The checks both functions share, with PyTorch's exception types and wording where it has one."""
    if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(f"{name}: input and target must be torch.Tensor")
    for t, what in ((input, "input"), (target, "target"), (weight, "weight")):
        if t is not None and t.device.type != "cpu":
            raise RuntimeError(f"{name}: libxent runs on the CPU; {what} is on {t.device}")
    if input.dtype not in FLOAT_DTYPES:
        raise RuntimeError(f"{name}: expected input of dtype float32, float64 or bfloat16, got {input.dtype}")
    if target.dtype.is_floating_point or target.dtype.is_complex:
        raise NotImplementedError(
            f"{name}: only class-index targets are supported (int64); for class probabilities use "
            "torch.nn.functional or xent.soft_cross_entropy"
        )
    if target.dtype not in (torch.int64, torch.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {target.dtype}")
    check_loss_options(name, reduction, label_smoothing, z_loss, soft_cap)
    if weight is not None:
        if not weight.dtype.is_floating_point:
            raise RuntimeError(f"{name}: weight must be a floating-point tensor, got {weight.dtype}")
        if weight.dim() != 1 or weight.shape[0] != classes:
            raise RuntimeError(
                f"weight tensor should be defined either for all {classes} classes or no classes but got weight "
                f"tensor of shape: {list(weight.shape)}"
            )


def check_batch(input, target):
    """A (N, C) input needs a (N,) target, a (C,) input a 0-dim one (PyTorch's wording)."""
    if input.dim() == 2:
        if target.dim() != 1 or target.shape[0] != input.shape[0]:
            if target.dim() == 1:
                raise ValueError(
                    f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({target.shape[0]})."
                )
            raise RuntimeError(
                f"expected a 1-D target of {input.shape[0]} class indices, got shape {tuple(target.shape)}"
            )
    elif target.dim() != 0:
        raise RuntimeError(f"a 1-D input (one sample) takes a 0-dim target, got shape {tuple(target.shape)}")
