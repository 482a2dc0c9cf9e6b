"""The custom ops of the fused linear cross-entropy (internal to ``xent.torch``).

``xent::linear_cross_entropy`` returns ``(loss, grad_input, grad_weight, grad_bias)``: the loss of the logits
``input @ linear_weight.T + linear_bias`` and the gradients the flags ask for, computed by one library call
(``xent.linear_cross_entropy``) and scaled as the reduction scales them (row i with weight 1 for ``"none"``), in the
compute dtype (float32 for bfloat16, rounded once by the backward); gradients not asked for are empty tensors.

The backward multiplies them by the upstream gradient ``g``. That is exact for a scalar ``g`` and, for
``"none"``, for ``grad_input`` (row i times ``g_i``). The weight and bias gradients of ``"none"``,
``sum_i g_i G_i^T input_i`` and ``sum_i g_i G_i``, do not factor: the forward's are used when ``g`` is the same
on every counted row (in eager mode), and otherwise ``xent::linear_cross_entropy_none_backward`` recomputes them
exactly from row blocks of the logits (``torch.mm``, ``xent.cross_entropy`` in place, rows scaled by ``g``,
``torch.mm``), with bounded memory.
"""

from typing import List, Optional

import numpy as np
import torch

import xent

from . import _buffers
from . import _tensors as tt
from ._cross_entropy_op import is_eager, no_double_backward, scale_rows, upstream_rows

#: Bytes of logits one row block of the exact ``"none"`` backward holds.
BLOCK_BYTES = 32 << 20


def _operands(input, linear_weight, linear_bias):
    """hidden, weight and bias in the compute dtype and a layout the library reads in place."""
    bias = None
    if linear_bias is not None:
        bias = tt.contiguous_as(linear_bias, tt.compute_dtype(linear_bias.dtype))
    return tt.as_compute(input), tt.as_compute(linear_weight), bias


def _grad_buffer(wanted, shape, dtype):
    return _buffers.empty(shape if wanted else (0,), dtype)


@torch.library.custom_op("xent::linear_cross_entropy", mutates_args=(), device_types="cpu")
def linear_cross_entropy_op(
    input: torch.Tensor,
    linear_weight: torch.Tensor,
    target: torch.Tensor,
    linear_bias: Optional[torch.Tensor],
    weight: Optional[torch.Tensor],
    reduction: str,
    ignore_index: int,
    floats: List[float],
    grad_input: bool,
    grad_weight: bool,
    grad_bias: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    z_loss = floats[1]  # floats: label_smoothing, z_loss, soft_cap
    rows, dim = input.shape
    classes = linear_weight.shape[0]
    cdt = tt.compute_dtype(input.dtype)
    h, w, b = _operands(input, linear_weight, linear_bias)
    gi = _grad_buffer(grad_input, (rows, dim), cdt)
    gw = _grad_buffer(grad_weight, (classes, dim), cdt)
    gb = _grad_buffer(grad_bias and b is not None, (classes,), cdt)
    out = {}
    if grad_input:
        out["grad_hidden"] = tt.view(gi)
    if grad_weight:
        out["grad_weight"] = tt.view(gw)
    if gb.numel():
        out["grad_bias"] = tt.view(gb)
    res = tt.translate_errors(
        lambda: xent.linear_cross_entropy(
            tt.view(h),
            tt.view(w),
            tt.labels(target),
            bias=tt.view(b) if b is not None else None,
            return_z_loss=z_loss > 0,
            out=out,
            **tt.library_options(reduction, ignore_index, floats, weight),
        ),
        classes,
        ignore_index,
    )
    loss = torch.from_numpy(np.array(res if isinstance(res, (np.ndarray, np.generic)) else res.loss))
    tt.nan_if_no_weight(loss, target, weight, ignore_index, reduction)  # (on the cross-entropy alone)
    if z_loss > 0:  # the objective: the cross-entropy plus the z-loss, added in float64 and rounded once
        loss = (loss.double() + torch.from_numpy(np.asarray(res.z_loss, np.float64))).to(cdt)
    return loss.to(input.dtype), gi, gw, gb


@linear_cross_entropy_op.register_fake
def _(input, linear_weight, target, linear_bias, weight, reduction, ignore_index, *_options_and_flags):
    grad_input, grad_weight, grad_bias = _options_and_flags[-3:]
    rows, dim = input.shape
    classes = linear_weight.shape[0]
    cdt = tt.compute_dtype(input.dtype)
    loss = input.new_empty(() if reduction != "none" else (rows,))
    gi = input.new_empty((rows, dim) if grad_input else (0,), dtype=cdt)
    gw = input.new_empty((classes, dim) if grad_weight else (0,), dtype=cdt)
    gb = input.new_empty((classes,) if grad_bias and linear_bias is not None else (0,), dtype=cdt)
    return loss, gi, gw, gb


def blockwise_gradients(h, w, b, g, gradient, gh=None, gw=None, gb64=None):
    """The gradients of a ``"none"`` loss whose row i is scaled by ``g[i]``, by row blocks of at most
    :data:`BLOCK_BYTES` of logits ``h @ w.T + b`` (one reused buffer): ``gradient(block, r0, r1)`` turns rows
    ``r0:r1``'s logits into their rows of G in place, then ``gh[r0:r1] = (g G) w``, ``gw += (g G)^T h`` and
    ``gb64 += sum_rows (g G)`` in float64 (each None when not wanted; ``gw``, ``gb64`` start as the caller's)."""
    rows = h.shape[0]
    block = max(1, BLOCK_BYTES // (w.shape[0] * h.element_size()))
    buffer = torch.empty((min(block, rows), w.shape[0]), dtype=h.dtype)
    for r0 in range(0, rows, block):
        r1 = min(rows, r0 + block)
        hb = h[r0:r1]
        grad = buffer[: r1 - r0]
        if b is None:
            torch.mm(hb, w.t(), out=grad)
        else:
            torch.addmm(b, hb, w.t(), out=grad)
        gradient(grad, r0, r1)
        grad.mul_(g[r0:r1].unsqueeze(1))  # row i of G times g_i
        if gh is not None:
            torch.mm(grad, w, out=gh[r0:r1])
        if gw is not None:
            gw.addmm_(grad.t(), hb)
        if gb64 is not None:
            gb64 += grad.sum(0, dtype=torch.float64)


@torch.library.custom_op("xent::linear_cross_entropy_none_backward", mutates_args=(), device_types="cpu")
def none_backward_op(
    input: torch.Tensor,
    linear_weight: torch.Tensor,
    target: torch.Tensor,
    linear_bias: Optional[torch.Tensor],
    weight: Optional[torch.Tensor],
    grad_loss: torch.Tensor,
    ignore_index: int,
    floats: List[float],
    grad_weight: bool,
    grad_bias: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``sum_i g_i G_i^T input_i`` and ``sum_i g_i G_i`` (``G_i`` row i's gradient of ``"none"``), in the compute
    dtype, by row blocks of at most :data:`BLOCK_BYTES` of logits; empty when not asked for."""
    rows, dim = input.shape
    classes = linear_weight.shape[0]
    cdt = tt.compute_dtype(input.dtype)
    h, w, b = _operands(input, linear_weight, linear_bias)
    g = grad_loss.to(cdt)
    labels = tt.labels(target)
    gw = torch.zeros((classes, dim) if grad_weight else (0,), dtype=cdt)
    gb = torch.zeros((classes,) if grad_bias and b is not None else (0,), dtype=torch.float64)
    options = tt.library_options("none", ignore_index, floats, weight)

    def gradient(block, r0, r1):  # the rows of the "none" gradient (each with weight 1), over the logits
        logits = block.clone()  # read apart from the gradient: not every option set runs in place
        tt.translate_errors(
            lambda: xent.cross_entropy(tt.view(logits), labels[r0:r1], grad_out=tt.view(block), **options),
            classes,
            ignore_index,
        )

    blockwise_gradients(h, w, b, g, gradient, gw=gw if grad_weight else None, gb64=gb if gb.numel() else None)
    return gw, gb.to(cdt)


@none_backward_op.register_fake
def _(input, linear_weight, target, linear_bias, weight, grad_loss, *_options_and_flags):
    grad_weight, grad_bias = _options_and_flags[-2:]
    classes, dim = linear_weight.shape
    cdt = tt.compute_dtype(input.dtype)
    gw = input.new_empty((classes, dim) if grad_weight else (0,), dtype=cdt)
    gb = input.new_empty((classes,) if grad_bias and linear_bias is not None else (0,), dtype=cdt)
    return gw, gb


def _setup_context(ctx, inputs, output):
    input, linear_weight, target, linear_bias, weight = inputs[:5]
    ctx.options = inputs[5:8]  # reduction, ignore_index, [label_smoothing, z_loss, soft_cap]
    ctx.computed = inputs[8:]  # grad_input, grad_weight, grad_bias
    ctx.dtypes = (input.dtype, linear_weight.dtype, None if linear_bias is None else linear_bias.dtype)
    ctx.mark_non_differentiable(*output[1:])
    ctx.set_materialize_grads(False)  # no zeros for the saved gradients' (unused) upstream
    ctx.save_for_backward(input, linear_weight, target, linear_bias, weight, *output[1:])


def _uniform_scale(g, counted):
    """The one value of the upstream gradient ``g`` (0 on ignored rows) on the counted rows (1 when there are
    none), or None when it varies or is not finite (eager mode only: the test reads values)."""
    if not is_eager(g):
        return None
    on_counted = g[counted]
    if on_counted.numel() == 0:
        return 1.0
    first = on_counted[0]
    return first.item() if bool(torch.isfinite(first)) and bool((on_counted == first).all()) else None


def _scaled(t, s):
    return t if s == 1.0 else t * s


def _backward(ctx, grad_loss, *_saved_grads):
    no_double_backward(grad_loss)
    if grad_loss is None:
        return (None,) * 11
    need_input, need_weight, _, need_bias = ctx.needs_input_grad[:4]
    input, linear_weight, target, linear_bias, weight, gi, gw, gb = ctx.saved_tensors
    reduction = ctx.options[0]
    per_row = reduction == "none"
    need_bias = need_bias and linear_bias is not None
    computed_input, computed_weight, computed_bias = ctx.computed
    # a gradient the graph needs that the forward did not compute (for "none", the weight's and bias's come from
    # the exact backward below)
    redo = (
        need_input and not computed_input,
        need_weight and not computed_weight and not per_row,
        need_bias and not computed_bias and not per_row,
    )
    if any(redo):
        _, gi2, gw2, gb2 = torch.ops.xent.linear_cross_entropy(
            input, linear_weight, target, linear_bias, weight, *ctx.options, *redo
        )
        gi, gw, gb = (gi2 if redo[0] else gi), (gw2 if redo[1] else gw), (gb2 if redo[2] else gb)
    counted = target != ctx.options[1]
    grad_in = scale_rows(gi, grad_loss, reduction, counted) if need_input else None
    grad_w = grad_b = None
    if not per_row:
        grad_w = scale_rows(gw, grad_loss, reduction, counted) if need_weight else None
        grad_b = scale_rows(gb, grad_loss, reduction, counted) if need_bias else None
    elif need_weight or need_bias:
        forward_has_them = (computed_weight or not need_weight) and (computed_bias or not need_bias)
        g = upstream_rows(grad_loss, counted, tt.compute_dtype(input.dtype))
        s = _uniform_scale(g, counted) if forward_has_them else None
        if s is not None:
            grad_w = _scaled(gw, s) if need_weight else None
            grad_b = _scaled(gb, s) if need_bias else None
        else:
            grad_w, grad_b = torch.ops.xent.linear_cross_entropy_none_backward(
                input, linear_weight, target, linear_bias, weight, g, *ctx.options[1:], need_weight, need_bias
            )
            grad_w, grad_b = (grad_w if need_weight else None), (grad_b if need_bias else None)
    # each in its input's dtype (bfloat16: the float32 gradient rounded once)
    grads = [t if t is None else t.to(dt) for t, dt in zip((grad_in, grad_w, grad_b), ctx.dtypes)]
    return (grads[0], grads[1], None, grads[2]) + (None,) * 7


linear_cross_entropy_op.register_autograd(_backward, setup_context=_setup_context)
