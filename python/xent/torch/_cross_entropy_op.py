"""The custom op ``xent::cross_entropy``: the loss of (N, C) logits and, when asked, its gradient, which the backward
scales by the upstream gradient (internal to ``xent.torch``).

The op returns ``(loss, grad)``. ``grad`` is the gradient of the loss with respect to the logits, scaled as the
reduction scales it (``1/denominator`` for ``"mean"``, 1 for ``"sum"`` and per row for ``"none"``), in the compute
dtype (float32 for bfloat16 logits, so the backward rounds once); it is an empty tensor when not asked for. The
backward multiplies it by the upstream gradient: the scalar for ``"mean"``/``"sum"``, row i by ``g_i`` for
``"none"`` (each row's gradient depends on that row alone), which is exact for any upstream gradient.
"""

from typing import List, Optional

import numpy as np
import torch

import xent

from . import _buffers
from . import _tensors as tt


def _z_loss_added(loss, z):
    """``loss + z`` (z the library's float64 z-loss) rounded once into ``loss`` (a float32/float64 array)."""
    loss[...] = np.asarray(loss, np.float64) + z


@torch.library.custom_op("xent::cross_entropy", mutates_args=(), device_types="cpu")
def cross_entropy_op(
    input: torch.Tensor,
    target: torch.Tensor,
    weight: Optional[torch.Tensor],
    reduction: str,
    ignore_index: int,
    floats: List[float],
    compute_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    label_smoothing, z_loss, soft_cap = floats
    rows, classes = input.shape
    cdt = tt.compute_dtype(input.dtype)
    logits = tt.rows_layout(input)
    loss = torch.empty(() if reduction != "none" else (rows,), dtype=cdt)
    grad = _buffers.empty((rows, classes) if compute_grad else (0,), cdt)
    kwargs = dict(tt.library_options(reduction, ignore_index, floats, weight), return_z_loss=z_loss > 0)
    labels = tt.labels(target)
    if logits.dtype == torch.bfloat16 and compute_grad and soft_cap > 0 and weight is not None and label_smoothing > 0:
        # the library cannot form this gradient over the widened logits in place: widen them here instead
        logits = tt.contiguous_as(logits, torch.float32)
    if logits.dtype == torch.bfloat16:
        if compute_grad:
            kwargs.update(grad="f32", grad_out=tt.view(grad))

        def call():
            return xent.cross_entropy_bf16(tt.bf16_view(logits), labels, **kwargs)
    else:
        if compute_grad:
            kwargs.update(grad_out=tt.view(grad))
        loss_view = tt.view(loss) if cdt == input.dtype else None
        kwargs.update(out=loss_view)

        def call():
            return xent.cross_entropy(tt.view(logits), labels, **kwargs)

    res = tt.translate_errors(call, classes, ignore_index)
    if cdt != input.dtype:  # bfloat16: the library returned a new float32 loss
        tt.view(loss)[...] = res if isinstance(res, (np.ndarray, np.generic)) else res.loss
    tt.nan_if_no_weight(loss, target, weight, ignore_index, reduction)  # (on the cross-entropy alone)
    if z_loss > 0:
        _z_loss_added(tt.view(loss), res.z_loss)
    return loss.to(input.dtype), grad


@cross_entropy_op.register_fake
def _(input, target, weight, reduction, ignore_index, floats, compute_grad):
    rows, classes = input.shape
    cdt = tt.compute_dtype(input.dtype)
    loss = input.new_empty(() if reduction != "none" else (rows,))
    return loss, input.new_empty((rows, classes) if compute_grad else (0,), dtype=cdt)


def _setup_context(ctx, inputs, output):
    input, target, weight, reduction, ignore_index, floats, compute_grad = inputs
    ctx.options = (reduction, ignore_index, floats)
    ctx.dtype = input.dtype
    ctx.computed = compute_grad
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)  # no rows x classes zeros for the saved gradient's (unused) upstream
    # the logits are kept only when the backward must compute the gradient itself (rows x classes memory)
    ctx.save_for_backward(None if compute_grad else input, target, weight, output[1])


def _backward(ctx, grad_loss, _grad_grad):
    no_double_backward(grad_loss)
    if grad_loss is None or not ctx.needs_input_grad[0]:
        return (None,) * 7
    input, target, weight, grad = ctx.saved_tensors
    if not ctx.computed:  # the forward did not compute it (the graph was built without input needing it)
        grad = torch.ops.xent.cross_entropy(input, target, weight, *ctx.options, True)[1]
    grad_input = scale_rows(grad, grad_loss, ctx.options[0], target != ctx.options[1])
    return (grad_input.to(ctx.dtype),) + (None,) * 6


def is_eager(t):
    """True for a plain tensor outside any tracing (``torch.compile``, ``make_fx``, functorch): its values may be
    read to pick a fast path."""
    return (
        type(t) is torch.Tensor
        and not torch.compiler.is_compiling()
        and not torch._C._functorch.is_functorch_wrapped_tensor(t)
        and torch._C._get_dispatch_mode(torch._C._TorchDispatchModeKey.PROXY) is None
        and torch._C._get_dispatch_mode(torch._C._TorchDispatchModeKey.FAKE) is None
    )


def no_double_backward(grad_loss):
    """The backward scales gradients saved by the forward, which are constants to autograd: a graph of the
    backward (``create_graph=True``) would give wrong second derivatives, so it is refused."""
    if torch.is_grad_enabled() and is_eager(grad_loss):
        raise RuntimeError(
            "xent.torch: double backward (create_graph=True, higher-order gradients) is not supported; use "
            "torch.nn.functional for them"
        )


def upstream_rows(grad_loss, counted, dtype):
    """The upstream gradient of a ``"none"`` loss as ``dtype``, 0 on ignored rows: their gradient is 0 whatever
    it is (as PyTorch's, also for an infinite or NaN upstream value)."""
    return torch.where(counted, grad_loss.to(dtype), 0)


def scale_rows(grad, grad_loss, reduction, counted):
    """``grad`` times the upstream gradient: a scalar, or row i times ``g_i`` for ``"none"`` (``counted``: the
    rows not ignored). In eager mode an upstream gradient of exactly 1 returns ``grad`` itself (no copy)."""
    if reduction == "none":
        g = upstream_rows(grad_loss, counted, grad.dtype)
        if is_eager(g) and bool(((g == 1) | ~counted).all()):
            return grad
        return grad * g.unsqueeze(-1)
    if is_eager(grad_loss) and grad_loss.item() == 1.0:
        return grad
    return grad * grad_loss.to(grad.dtype)


cross_entropy_op.register_autograd(_backward, setup_context=_setup_context)
