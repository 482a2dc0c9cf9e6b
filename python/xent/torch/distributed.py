"""xent.torch.distributed — the fused linear cross-entropy (an LM head) with its classes split across the ranks of
a :mod:`torch.distributed` process group (tensor parallelism over the vocabulary), on CPU tensors (libxent >= 1.3.0).

``import xent.torch.distributed`` (``import xent.torch`` does not import it, nor :mod:`torch.distributed`)::

    dist.init_process_group("gloo", ...)
    loss = xent.torch.distributed.linear_cross_entropy(hidden, weight_shard, labels,
                                                       col_offset=c0, total_cols=vocab, bias_shard=b_shard,
                                                       z_loss=1e-4, soft_cap=30.0)   # both optional
    loss.backward()   # hidden.grad: the whole gradient, on every rank
                      # weight_shard.grad, b_shard.grad: this rank's rows

Each rank holds the whole batch (``hidden``, ``labels``: the same on every rank) and rows ``[col_offset, col_offset
+ cols)`` of the ``(total_cols, dim)`` weight and of the bias; the ranks' shards cover ``[0, total_cols)`` exactly once
(uneven splits are fine). Rank r's classes give the per-row statistics :data:`xent.STATS_DTYPE` of the logits
``hidden @ weight_shard.T + bias_shard`` (soft-capped when ``soft_cap`` is set; :func:`xent.linear_partial_stats`, the
logits formed blockwise and never stored); the statistics are merged over the ranks; :func:`xent.finalize_stats`
gives the loss and the z-loss (the same bits on every rank); the backward runs :func:`xent.linear_grad_from_stats`
(with the cap's chain rule and the z-loss's gradient) on the rank's shard and sums ``grad_hidden`` over the ranks.

``z_loss`` and ``soft_cap`` mean what they mean in :func:`xent.torch.linear_cross_entropy`: ``soft_cap=c`` (>= 0)
makes the logits ``c * tanh(x / c)`` before everything; ``z_loss=lam`` (>= 0) makes the returned loss the
cross-entropy **plus** the z-loss ``lam * lse_i**2`` of every non-ignored row (``lse_i`` from the merged statistics),
reduced like the loss (``"mean"``: over the non-ignored rows; ``"none"``: per row, 0 on ignored rows), the two added
in float64 and rounded once to the dtype; the gradient is that sum's gradient (``2 * lam * lse_i * softmax`` added
to the cross-entropy's). Neither adds communication: the statistics and the collectives are the same.

The merge with built-in reductions
----------------------------------
``xent.mpi`` merges the statistics with one ``Allreduce`` whose user operation calls ``xent_merge_stats``.
``torch.distributed`` (gloo) has only built-in reductions (SUM, MAX, ...), so the merge is two ``all_reduce``: the
header's formula for the records of shards ``r`` (``ref = max``, or 0 when ``max`` is -inf)::

    max = max_r max_r,   sum_exp = sum_r sum_exp_r * e^(ref_r - ref),   sum_x = sum_r (sum_x_r + count_r*(ref_r - ref)),
    count, label_logit, label_seen: sums

is a sum of per-rank terms once the global ``max`` (hence ``ref``) is known. So: a MAX ``all_reduce`` of the rows'
``max``; every rank moves its record to the global reference, with the library's own ``xent.merge_stats`` against an
empty record (count 0, sums 0) that carries the global ``max`` (exactly ``xent_merge_stats``'s terms, its guards for a
zero ``sum_exp`` / ``count`` included, plus an exact 0); one SUM ``all_reduce`` of the five sums. With two ranks the
result is bit for bit ``xent_merge_stats`` of the two records (IEEE addition is commutative); with more, the sums are
added in gloo's order instead of pairwise-merged, one rounding per term either way.

Bytes each ``all_reduce`` moves per step (payload; a ring all-reduce sends and receives about ``2 (n-1)/n`` times it
per rank, ``rows`` the batch rows, ``dim`` the hidden size):

* forward: MAX of the ``max`` column, ``rows`` float64 (``8 * rows`` bytes); SUM of ``sum_exp``, ``sum_x``,
  ``count``, ``label_logit``, ``label_seen``, ``5 * rows`` float64 (``40 * rows`` bytes). Together the 48-byte
  records of the MPI path's one ``Allreduce``.
* backward (when ``hidden`` requires grad): SUM of ``grad_hidden`` plus one element that counts the ranks whose
  gradient failed, ``rows * dim + 1`` elements of the dtype (``4 * (rows * dim + 1)`` bytes for float32, ``8 * ...``
  for float64). The weight and bias gradients stay on their rank: no communication.

No collective runs when ``rows == 0``.

Use
---
* Every rank of ``group`` calls the function with the same ``hidden``, ``labels``, ``total_cols``, ``reduction``,
  ``ignore_index``, ``label_smoothing``, ``z_loss`` and ``soft_cap``, and (when ``hidden`` requires grad) runs the
  backward with the same upstream gradient (as ``loss.backward()`` on every rank does): the backward's
  ``all_reduce`` is collective. A rank that skips it leaves the others waiting, as with any collective.
* The backend must reduce CPU tensors: ``"gloo"`` (or ``"mpi"``); NCCL takes only CUDA tensors.
* dtypes float32 and float64 (hidden, weight_shard and bias_shard the same dtype); bfloat16 is not offered.
  Contiguous (or row-strided) tensors are read in place through ``.numpy()``; others are made contiguous once.
* ``label_smoothing``, ``z_loss`` and ``soft_cap`` travel through the C ABI as float32 (as in :mod:`xent.torch`).
  Class weights are not offered: the statistics carry no class-weighted sums.
* Gradients: ``"mean"``/``"sum"`` scale by the upstream gradient exactly (in the library call when float32 holds it
  exactly, else by one multiplication afterwards). ``"none"`` is supported with any upstream gradient: one value on
  every counted row is one library call; otherwise the backward forms the shard's logits in row blocks of at most
  32 MiB (``torch.mm``), turns them into the gradient with :func:`xent.grad_from_stats` (the z-loss's term
  included; the soft cap and its chain rule in :func:`xent.grad_from_stats`), scales row i by ``g_i`` and
  multiplies out. ``"mean"`` over no counted row is NaN (as in PyTorch; with ``z_loss``
  too); its gradient is 0. Double backward is not supported. Not for ``torch.compile`` graphs (the backward reads the
  upstream gradient's values).
* Errors: arguments are checked before any collective (``TypeError``/``ValueError``/``RuntimeError``). A shard the
  library refuses on one rank only (``col_offset + cols > total_cols``) still takes part in the collectives, so no
  rank is left waiting: that rank raises its :class:`xent.XentError`, the others the :class:`xent.XentError` of
  :func:`xent.finalize_stats` (the merged statistics miss classes); so does a set of shards that does not cover each
  class exactly once. A gradient that fails on one rank makes the others raise ``RuntimeError``.
"""

import math
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist

import xent
from xent._collective import merged_stats, summed_gradient

from . import _tensors as tt
from ._cross_entropy_op import no_double_backward
from ._linear_op import _uniform_scale, blockwise_gradients

__all__ = ["linear_cross_entropy"]

_NAME = "xent.torch.distributed.linear_cross_entropy"
_DTYPES = (torch.float32, torch.float64)
#: The summed fields of a statistics record, in the order of the SUM all_reduce.
_SUMMED = ("sum_exp", "sum_x", "count", "label_logit", "label_seen")


def _merge_over_ranks(stats, group):
    """``stats`` (this rank's ``(rows,)`` records) replaced in place by the records merged over ``group``'s ranks:
    one MAX and one SUM all_reduce (see the module docstring)."""
    mx = torch.from_numpy(np.ascontiguousarray(stats["max"]))
    dist.all_reduce(mx, op=dist.ReduceOp.MAX, group=group)
    anchor = np.zeros(stats.shape, xent.STATS_DTYPE)  # no column, at the global max
    anchor["max"] = mx.numpy()
    xent.merge_stats(stats, anchor, out=stats)  # this rank's terms of the merge, at the global reference
    sums = torch.from_numpy(np.stack([stats[f] for f in _SUMMED]))  # (5, rows) float64, a new contiguous array
    dist.all_reduce(sums, op=dist.ReduceOp.SUM, group=group)
    for f, column in zip(_SUMMED, sums.numpy()):
        stats[f] = column


def _scale_of(grad_loss, reduction, counted, dtype):
    """The upstream gradient as one factor (a Python float), or None when ``"none"``'s differs between counted
    rows (or is not finite there); for ``"none"`` also the per-row factors (0 on ignored rows)."""
    if reduction != "none":
        return float(grad_loss), None
    g = torch.where(counted, grad_loss.to(dtype), 0)
    return _uniform_scale(g, counted), g


def _library_scale(s):
    """``(grad_scale, after)``: the factor the library applies (its grad_scale is a float32) and the one left to
    apply afterwards (1.0 when the library's is exact)."""
    if math.isfinite(s) and float(np.float32(s)) == s:
        return s, 1.0
    return 1.0, s


def _block_gradients(h, w, b, labels, stats, g, shard, options, soft_cap, gh, gw, gb):
    """``"none"`` with per-row factors ``g``: the shard's gradients by row blocks of its logits
    (:func:`blockwise_gradients`), each block's G from :func:`xent.grad_from_stats` (``options``: the z-loss,
    ``soft_cap``: the cap and its chain rule), into ``gh`` (this rank's contribution), ``gw`` and ``gb`` (each None
    when not wanted)."""

    def gradient(block, r0, r1):
        xent.grad_from_stats(
            tt.view(block),
            labels[r0:r1],
            stats[r0:r1],
            grad_out="inplace",
            reduction="none",
            soft_cap=soft_cap,
            **shard,
            **options,
        )

    if gw is not None:
        gw.zero_()
    gb64 = torch.zeros(w.shape[0], dtype=torch.float64) if gb is not None else None
    blockwise_gradients(h, w, b, g, gradient, gh, gw, gb64)
    if gb is not None:
        gb.copy_(gb64)


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx,
        hidden,
        weight,
        target,
        bias,
        col_offset,
        total_cols,
        reduction,
        ignore_index,
        smoothing,
        z_loss,
        soft_cap,
        group,
    ):
        h, w = tt.rows_layout(hidden), tt.rows_layout(weight)
        b = bias.contiguous() if bias is not None else None
        labels = tt.labels(target)
        rows = h.shape[0]
        shard = dict(col_offset=col_offset, total_cols=total_cols, ignore_index=ignore_index)
        options = dict(num_threads=tt.num_threads())

        # 1. this rank's statistics, merged over the ranks. A shard the library refuses still joins the
        # all_reduces, with a count of NaN: finalize then fails on every rank instead of leaving them waiting.
        def partial_stats():
            return xent.linear_partial_stats(
                tt.view(h),
                tt.view(w),
                labels,
                bias=None if b is None else tt.view(b),
                soft_cap=soft_cap,
                **shard,
                **options,
            )

        def merge(stats):
            if rows:
                _merge_over_ranks(stats, group)

        stats = merged_stats(
            lambda: tt.translate_errors(partial_stats, total_cols, ignore_index),
            (xent.XentError, ValueError, IndexError),
            rows,
            merge,
        )
        res = xent.finalize_stats(
            stats,
            labels,
            total_cols=total_cols,
            dtype=tt.view(h).dtype,
            reduction=reduction,
            ignore_index=ignore_index,
            label_smoothing=smoothing,
            z_loss=z_loss,
            return_z_loss=z_loss > 0,
        )
        loss, z = res if z_loss > 0 else (res, None)
        shape = () if reduction != "none" else -1
        loss = torch.from_numpy(np.array(loss, dtype=tt.view(h).dtype).reshape(shape))
        tt.nan_if_no_weight(loss, target, None, ignore_index, reduction)  # (on the cross-entropy alone)
        if z is not None:  # the objective: the cross-entropy plus the z-loss, added in float64 and rounded once
            loss = (loss.double() + torch.from_numpy(np.asarray(z, np.float64).reshape(shape))).to(h.dtype)

        ctx.options = (col_offset, total_cols, reduction, ignore_index, smoothing, z_loss, soft_cap, group)
        ctx.stats = stats
        ctx.save_for_backward(h, w, target, b)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        no_double_backward(grad_loss)
        none = (None,) * 12
        need_hidden, need_weight, _, need_bias = ctx.needs_input_grad[:4]
        h, w, target, b = ctx.saved_tensors
        need_bias = need_bias and b is not None
        if grad_loss is None or not (need_hidden or need_weight or need_bias):
            return none
        col_offset, total_cols, reduction, ignore_index, smoothing, z_loss, soft_cap, group = ctx.options
        stats = ctx.stats
        labels = tt.labels(target)
        rows, dim = h.shape
        cols = w.shape[0]
        dtype = h.dtype
        shard = dict(col_offset=col_offset, total_cols=total_cols, ignore_index=ignore_index)
        options = dict(label_smoothing=smoothing, z_loss=z_loss, num_threads=tt.num_threads())

        # grad_hidden (this rank's contribution) lives in a buffer with one more element: the number of ranks whose
        # gradient failed, so that a failure on one rank reaches every rank through the sum
        buf = torch.empty(rows * dim + 1, dtype=dtype) if need_hidden else None
        gh = buf[:-1].view(rows, dim) if need_hidden else None
        gw = torch.empty((cols, dim), dtype=dtype) if need_weight else None
        gb = torch.empty(cols, dtype=dtype) if need_bias else None
        scale, g = _scale_of(grad_loss, reduction, target != ignore_index, dtype)

        def gradients():
            """gh (this rank's contribution), gw and gb; returns the factor left to apply afterwards."""
            if scale is None:  # "none" with a per-row upstream gradient
                _block_gradients(h, w, b, labels, stats, g, shard, options, soft_cap, gh, gw, gb)
            elif rows or need_weight or need_bias:
                grad_scale, after = _library_scale(scale)
                out = {
                    k: tt.view(t)
                    for k, t in (("grad_hidden", gh), ("grad_weight", gw), ("grad_bias", gb))
                    if t is not None
                }
                xent.linear_grad_from_stats(
                    tt.view(h),
                    tt.view(w),
                    labels,
                    stats,
                    bias=None if b is None else tt.view(b),
                    reduction=reduction,
                    grad_scale=grad_scale,
                    soft_cap=soft_cap,
                    out=out,
                    **shard,
                    **options,
                )
                return after
            return 1.0

        if buf is not None and rows:
            after = summed_gradient(
                gradients,
                (xent.XentError, ValueError),
                buf,
                lambda t: dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group),
                _NAME,
            )
        else:
            after = gradients()
        if after != 1.0:
            for t in (gh, gw, gb):
                if t is not None:
                    t.mul_(after)
        return (gh, gw, None, gb) + (None,) * 8


def _check_tensors(hidden, weight_shard, labels, bias_shard):
    if not all(isinstance(t, torch.Tensor) for t in (hidden, weight_shard, labels)):
        raise TypeError(f"{_NAME}: hidden, weight_shard and labels must be torch.Tensor")
    if bias_shard is not None and not isinstance(bias_shard, torch.Tensor):
        raise TypeError(f"{_NAME}: bias_shard must be a torch.Tensor or None")
    for t, what in ((hidden, "hidden"), (weight_shard, "weight_shard"), (labels, "labels"), (bias_shard, "bias_shard")):
        if t is not None and t.device.type != "cpu":
            raise RuntimeError(f"{_NAME}: libxent runs on the CPU; {what} is on {t.device}")
    if hidden.dtype not in _DTYPES:
        raise RuntimeError(f"{_NAME}: expected hidden of dtype float32 or float64, got {hidden.dtype}")
    for t, what in ((weight_shard, "weight_shard"), (bias_shard, "bias_shard")):
        if t is not None and t.dtype != hidden.dtype:
            raise RuntimeError(f"{_NAME}: {what} must have hidden's dtype {hidden.dtype}, got {t.dtype}")
    if hidden.dim() not in (1, 2):
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {hidden.dim()}")
    if weight_shard.dim() != 2:
        raise RuntimeError(f"{_NAME}: expected weight_shard of shape (cols, dim), got {tuple(weight_shard.shape)}")
    cols, dim = weight_shard.shape
    if cols == 0:
        raise ValueError(f"{_NAME}: weight_shard has no rows: a shard holds at least one class")
    if hidden.shape[-1] != dim:
        raise RuntimeError(
            "expected equal hidden and weight_shard last dimensions (dim), "
            f"got {hidden.shape[-1]} and {dim}, respectively"
        )
    if bias_shard is not None and tuple(bias_shard.shape) != (cols,):
        raise RuntimeError(f"expected bias_shard shape {(cols,)}, got {tuple(bias_shard.shape)}")
    if labels.dtype.is_floating_point or labels.dtype.is_complex:
        raise NotImplementedError(f"{_NAME}: only class-index labels are supported (int64)")
    if labels.dtype not in (torch.int64, torch.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {labels.dtype}")
    tt.check_batch(hidden, labels)


def _check_options(col_offset, total_cols, reduction, label_smoothing, z_loss, soft_cap, group):
    for value, what in ((col_offset, "col_offset"), (total_cols, "total_cols")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{_NAME}: {what} must be an integer >= 0, got {value!r}")
    tt.check_loss_options(_NAME, reduction, label_smoothing, z_loss, soft_cap)
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(f"{_NAME}: torch.distributed is not initialized (call dist.init_process_group first)")
    if group is not None and not isinstance(group, dist.ProcessGroup):
        raise TypeError(f"{_NAME}: group must be a torch.distributed ProcessGroup or None, got {type(group).__name__}")


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight_shard: torch.Tensor,
    labels: torch.Tensor,
    *,
    col_offset: int,
    total_cols: int,
    bias_shard: Optional[torch.Tensor] = None,
    reduction: str = "mean",
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    z_loss: float = 0.0,
    soft_cap: float = 0.0,
    group: Optional["dist.ProcessGroup"] = None,
) -> torch.Tensor:
    """The cross-entropy of the logits ``hidden @ weight.T + bias`` whose ``total_cols`` classes are split across the
    ranks of ``group`` (the default group when None): this rank holds rows ``[col_offset, col_offset + cols)`` of the
    weight (``weight_shard``, ``(cols, dim)``) and of the bias (``bias_shard``, ``(cols,)``, or None).

    ``hidden`` ``(rows, dim)`` (or ``(dim,)`` with a 0-dim ``labels``) and ``labels`` ``(rows,)`` (global class indices
    in ``[0, total_cols)`` or ``ignore_index``; int64 or uint8) are the whole batch, the same on every rank.
    ``reduction`` (``"mean"``, ``"sum"``, ``"none"``), ``ignore_index`` and ``label_smoothing`` (over the global
    ``total_cols`` classes) as in :func:`torch.nn.functional.cross_entropy`; ``z_loss`` and ``soft_cap`` (finite,
    >= 0; 0 is off) as in :func:`xent.torch.linear_cross_entropy`: the logits capped to ``c * tanh(x / c)``, and the
    loss the cross-entropy plus ``z_loss * lse_i**2`` reduced like it.

    Returns the loss, the same bits on every rank: a 0-dim tensor of hidden's dtype, or ``(rows,)`` for ``"none"``.
    Differentiable in ``hidden`` (its gradient is summed over the ranks by one ``all_reduce`` in the backward: every
    rank gets the whole gradient), ``weight_shard`` and ``bias_shard`` (this rank's rows, no communication). Two
    ``all_reduce`` in the forward (``8 * rows`` and ``40 * rows`` bytes), one in the backward (``(rows * dim + 1) *
    itemsize`` bytes); see :mod:`xent.torch.distributed` for the design, the collective rules and the errors.
    """
    _check_tensors(hidden, weight_shard, labels, bias_shard)
    _check_options(col_offset, total_cols, reduction, label_smoothing, z_loss, soft_cap, group)
    one = hidden.dim() == 1
    target = labels.long() if labels.dtype == torch.uint8 else labels
    loss = _LinearCrossEntropy.apply(
        hidden.unsqueeze(0) if one else hidden,
        weight_shard,
        target.reshape(1) if one else target,
        bias_shard,
        int(col_offset),
        int(total_cols),
        reduction,
        int(ignore_index),
        float(label_smoothing),
        float(z_loss),
        float(soft_cap),
        group,
    )
    return loss.reshape(()) if one else loss
