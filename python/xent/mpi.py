"""Sharded-vocabulary cross-entropy over MPI (mpi4py; optional: only this module imports it).

Each rank holds columns ``[col_offset, col_offset + cols)`` of every row of the logits (``total_cols`` classes in
all; uneven splits are fine) and the same global labels::

    from mpi4py import MPI
    import xent, xent.mpi
    loss, grad_shard = xent.mpi.sharded_cross_entropy(MPI.COMM_WORLD, shard, labels,
                                                      col_offset=c0, total_cols=vocab)

Step by step: ``s = xent.partial_stats(shard, labels, ...)``; ``g = allreduce_stats(comm, s)`` (one
``comm.Allreduce`` whose user operation calls the library's ``xent_merge_stats`` on the raw records);
``xent.finalize_stats(g, labels, ...)``; ``xent.grad_from_stats(shard, labels, g, ...)``.

The LM head with its weight split by vocabulary (libxent >= 1.3.0): each rank holds rows ``[col_offset, col_offset +
cols)`` of the weight (and bias) and the whole batch of hidden states::

    res = xent.mpi.linear_cross_entropy(MPI.COMM_WORLD, hidden, weight_shard, labels,
                                        col_offset=c0, total_cols=vocab, bias_shard=b_shard)
    res.loss, res.grad_hidden          # the same on every rank (grad_hidden summed over the ranks)
    res.grad_weight, res.grad_bias     # this rank's rows: they stay local

Step by step: ``s = xent.linear_partial_stats(hidden, weight_shard, labels, ...)``; ``allreduce_stats(comm, s)``
(``rows x 48`` bytes); ``xent.finalize_stats``; ``xent.linear_grad_from_stats`` on the rank's shard; one
``comm.Allreduce`` (``MPI.SUM``, in place) of ``grad_hidden`` (``rows x dim`` elements).

Order of evaluation
-------------------
``xent_merge_stats`` is commutative bit for bit but associative only up to rounding, so the merged bits depend on
how MPI groups the ranks' contributions:

* ``method="allreduce"`` (default): one ``Allreduce`` with the user operation (``commute=True``). Every rank
  receives the same statistics, but the grouping is the MPI library's choice (its algorithm, which depends on the
  number of ranks, the message size and MCA settings), so it need not equal a left fold ``((s0 + s1) + s2) + s3``
  in rank order. Measured with Open MPI 4.1.4 on one node: 2 ranks give the left fold bit for bit (there is only
  one grouping); 4 ranks give ``(s0 + s1) + (s2 + s3)`` (recursive doubling) with the default rules, for 8 to
  200000 rows, and other groupings when an algorithm is forced (basic linear: ``s0 + (s1 + (s2 + s3))``; ring:
  a different grouping per block of rows). The groupings differ in the last bits of ``sum_exp``/``sum_x`` (about
  1e-16 relative; ``max``, ``count``, ``label_logit``, ``label_seen`` are exact in any grouping).
  ``commute=False`` changes nothing here: it only asks MPI to keep the operands in rank order, and the merge is
  commutative bit for bit anyway, whereas MPI never lets the caller fix the grouping (associativity is assumed
  for every operation).
* ``method="allgather"``: ``Allgather`` of every rank's statistics, then a left fold in rank order on every
  rank: bit-identical to ``merge_stats`` applied left to right over the shards in one process, whatever the MPI
  library, at the cost of ``size`` times the memory/traffic of the statistics.
"""

import numpy as np
from mpi4py import MPI

import xent

from . import _lib
from ._args import _ptr
from ._collective import merged_stats, summed_gradient
from ._keywords import keywords
from ._linear import _grad_names
from ._linear_sharded import _no_gradient
from ._result import LinearCrossEntropyResult
from ._sharded import _optional, _stats_array

__all__ = ["allreduce_stats", "sharded_cross_entropy", "linear_cross_entropy", "stats_datatype", "merge_op"]

_RECORD = xent.STATS_DTYPE.itemsize  # 48 bytes: six doubles
_datatype = None
_ops = {}


def stats_datatype():
    """The committed MPI datatype of one ``xent_stats`` record (6 contiguous MPI.DOUBLE).

    Reductions work on whole records: MPI may split a long message into segments, but only at datatype
    boundaries, so the user operation always sees complete records.
    """
    global _datatype
    if _datatype is None:
        _datatype = MPI.DOUBLE.Create_contiguous(6).Commit()
    return _datatype


def _address(buf):
    # mpi4py passes its own buffer objects; their memory is read through the buffer protocol (no copy).
    arr = np.frombuffer(buf, dtype=np.uint8)
    return arr.__array_interface__["data"][0], arr.size


def _merge(inbuf, inoutbuf, datatype):
    # MPI: inoutbuf = inbuf (op) inoutbuf, with inbuf the lower ranks' operand when the op is not commutative.
    merge = _lib.optional_function("xent_merge_stats")
    a, n_in = _address(inbuf)
    b, n = _address(inoutbuf)
    if n != n_in or n % _RECORD:
        raise RuntimeError(f"xent.mpi: user operation on {n_in} and {n} bytes, not whole {_RECORD}-byte records")
    status = merge(a, b, b, n // _RECORD)
    if status != _lib.OK:  # cannot happen for valid records; never fail silently inside MPI
        raise RuntimeError(
            f"xent_merge_stats failed inside the MPI operation: {_lib.status_string(status)}: "
            f"{_lib.last_error_message()}"
        )


def merge_op(commute=True):
    """The MPI user operation (``MPI.Op.Create``) that merges statistics records with ``xent_merge_stats``."""
    commute = bool(commute)
    if commute not in _ops:
        _optional("xent_merge_stats")  # a clear XentError now, not inside MPI, with a 1.0.0 library
        _ops[commute] = MPI.Op.Create(_merge, commute=commute)
    return _ops[commute]


def allreduce_stats(comm, stats, *, out=None, method="allreduce", commute=True):
    """The statistics of all ranks' shards merged, on every rank.

    ``stats``: this rank's ``(rows,)`` array of :data:`xent.STATS_DTYPE` (from :func:`xent.partial_stats`); every
    rank passes the same number of rows. ``out``: an optional writable contiguous ``(rows,)`` array of
    STATS_DTYPE, which may be ``stats`` itself (``MPI.IN_PLACE``). ``method``: ``"allreduce"`` (one
    ``comm.Allreduce`` with :func:`merge_op`) or ``"allgather"`` (a left fold in rank order, bit-identical to
    merging the shards left to right in one process); see the module docstring. Returns the merged array.
    """
    rows = _stats_array(stats, "stats")
    if out is None:
        out = np.empty(stats.shape, xent.STATS_DTYPE)
    else:
        _stats_array(out, "out", rows, writable=True)
    dt = stats_datatype()
    if method == "allreduce":
        op = merge_op(commute)
        if out is stats or (rows and _ptr(out) == _ptr(stats)):
            comm.Allreduce(MPI.IN_PLACE, [out, rows, dt], op=op)
        else:
            comm.Allreduce([stats, rows, dt], [out, rows, dt], op=op)
    elif method == "allgather":
        _optional("xent_merge_stats")
        size = comm.Get_size()
        everyone = np.empty((size, rows), xent.STATS_DTYPE)
        comm.Allgather([stats, rows, dt], [everyone, rows, dt])
        if size == 1:
            out[...] = everyone[0]
        else:
            xent.merge_stats(everyone[0], everyone[1], out=out)
            for r in range(2, size):
                xent.merge_stats(out, everyone[r], out=out)
    else:
        raise ValueError(f"method must be 'allreduce' or 'allgather', got {method!r}")
    return out


@keywords("reduction ignore_index label_smoothing grad_scale num_threads grad_out return_lse")
def sharded_cross_entropy(comm, logits_shard, labels, o, *, col_offset, total_cols, method="allreduce", commute=True):
    """Loss and this rank's gradient shard of a cross-entropy whose classes are split across ``comm``'s ranks.

    ``logits_shard``: this rank's columns ``[col_offset, col_offset + cols)`` (float32/float64, 1-D or 2-D,
    row-strided allowed); ``labels``: the global labels (the same on every rank); the ranks' shards must cover
    ``[0, total_cols)`` exactly once. Keyword arguments as for :func:`xent.cross_entropy` / :func:`xent.grad_from_stats`
    (``grad_out`` may be ``"inplace"``); ``method``/``commute`` as for :func:`allreduce_stats`.

    Returns ``(loss, grad_shard)`` — every rank gets the same loss — or ``(loss, grad_shard, lse)`` when
    ``return_lse``. A shard layout that does not cover every class exactly once raises :class:`xent.XentError`
    on every rank (finalize sees ``count != total_cols`` or ``label_seen != 1``).
    """
    reduction, ignore_index, label_smoothing, grad_scale = o.reduction, o.ignore_index, o.label_smoothing, o.grad_scale
    num_threads, grad_out, return_lse = o.num_threads, o.grad_out, o.return_lse
    shard = dict(col_offset=col_offset, total_cols=total_cols)
    options = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
    stats = xent.partial_stats(logits_shard, labels, ignore_index=ignore_index, **shard)
    allreduce_stats(comm, stats, out=stats, method=method, commute=commute)
    res = xent.finalize_stats(
        stats, labels, total_cols=total_cols, dtype=logits_shard.dtype, return_lse=return_lse, **options
    )
    grad = xent.grad_from_stats(
        logits_shard,
        labels,
        stats,
        grad_scale=grad_scale,
        num_threads=num_threads,
        grad_out=grad_out,
        **shard,
        **options,
    )
    if return_lse:
        loss, lse = res
        if logits_shard.ndim == 1:
            lse = lse[0]
        return loss, grad, lse
    return res, grad


@keywords(
    "reduction ignore_index label_smoothing grad_scale z_loss soft_cap num_threads workspace_bytes return_lse "
    "return_z_loss"
)
def linear_cross_entropy(
    comm,
    hidden,
    weight_shard,
    labels,
    o,
    *,
    col_offset,
    total_cols,
    bias_shard=None,
    grad=True,
    method="allreduce",
    commute=True,
):
    """The linear cross-entropy (an LM head) whose classes are split across ``comm``'s ranks: the loss, and the
    gradients, with two ``Allreduce`` (libxent >= 1.3.0).

    ``hidden`` ``(rows, dim)`` and ``labels`` (global class indices) are the whole batch, the same on every rank;
    ``weight_shard`` ``(cols, dim)`` and ``bias_shard`` ``(cols,)`` (or None) are this rank's rows ``[col_offset,
    col_offset + cols)`` of the ``total_cols``-class weight and bias; the ranks' shards must cover ``[0, total_cols)``
    exactly once (uneven splits are fine). Arrays as for :func:`xent.linear_cross_entropy` (never copied). Options as
    for :func:`xent.linear_partial_stats` / :func:`xent.linear_grad_from_stats`; ``method``/``commute`` as for
    :func:`allreduce_stats`.

    The steps: :func:`xent.linear_partial_stats` of the shard; :func:`allreduce_stats` (one ``Allreduce`` of ``rows``
    48-byte records); :func:`xent.finalize_stats` (the loss, the same on every rank); then, unless ``grad`` is False,
    :func:`xent.linear_grad_from_stats` and, when ``grad_hidden`` is asked for, one ``comm.Allreduce`` (``MPI.SUM``,
    in place) of it (``rows x dim`` elements, plus one that carries a failure flag). ``grad``: ``True`` (hidden,
    weight, and bias when there is a bias shard), ``False`` (the loss only: one ``Allreduce``) or names from
    ``{"hidden", "weight", "bias"}``.

    ``z_loss`` (lambda): its gradient term, and with ``return_z_loss`` its value (float64, reduced as the loss) as
    a sixth element ``z_loss`` of the result.

    Returns the loss alone when ``grad`` is False and neither ``return_lse`` nor ``return_z_loss``, else
    :class:`xent.LinearCrossEntropyResult` ``(loss, grad_hidden, grad_weight, grad_bias, lse)``: ``grad_hidden`` the
    whole gradient of ``hidden`` (summed over the ranks, identical on every rank), ``grad_weight``/``grad_bias`` this
    rank's rows (they stay local), ``None`` for what was not requested.

    Errors: a bad ``grad`` raises ``TypeError``/``ValueError`` before any communication (every rank must pass the
    same). A shard refused on one rank only, by the checks (``TypeError``/``ValueError``, e.g. a weight shard of
    another dtype) or by the library (:class:`xent.XentError`, e.g. ``col_offset + cols > total_cols``), still takes
    part in the collectives: that rank raises its error after them, the others an :class:`xent.XentError` of
    :func:`xent.finalize_stats` (the merged statistics miss its classes), or, when the gradient failed on another
    rank, a ``RuntimeError``; no rank is left waiting in a collective. A shard layout that does not cover every
    class exactly once raises :class:`xent.XentError` on every rank (finalize sees ``count != total_cols`` or
    ``label_seen != 1``). ``hidden`` and ``labels`` must have the same shapes on every rank.
    """
    want = set() if _no_gradient(grad) else _grad_names(grad, bias_shard is not None)
    if not _no_gradient(grad) and not want:
        raise ValueError(f"grad={grad!r} names no gradient; pass False for the loss alone")
    shard = dict(
        col_offset=col_offset,
        total_cols=total_cols,
        bias=bias_shard,
        ignore_index=o.ignore_index,
        soft_cap=o.soft_cap,
        num_threads=o.num_threads,
        workspace_bytes=o.workspace_bytes,
    )
    options = dict(reduction=o.reduction, label_smoothing=o.label_smoothing, z_loss=o.z_loss)

    # 1. the shard's statistics, merged over the ranks. A shard refused here still joins the Allreduce, with
    # statistics whose count is NaN: finalize then fails on every other rank instead of leaving them waiting.
    stats = merged_stats(
        lambda: xent.linear_partial_stats(hidden, weight_shard, labels, **shard),
        (TypeError, ValueError),
        hidden.shape[0] if isinstance(hidden, np.ndarray) and hidden.ndim == 2 else None,  # else no batch to join with
        lambda s: allreduce_stats(comm, s, out=s, method=method, commute=commute),
    )
    res = xent.finalize_stats(
        stats,
        labels,
        total_cols=total_cols,
        dtype=hidden.dtype,
        ignore_index=o.ignore_index,
        return_lse=bool(o.return_lse),
        return_z_loss=o.return_z_loss,
        **options,
    )
    res = res if isinstance(res, tuple) else (res,)
    loss, lse, z = res[0], res[1] if o.return_lse else None, res[-1] if o.return_z_loss else None
    if not want:
        return LinearCrossEntropyResult(loss, None, None, None, lse, z) if o.return_lse or z is not None else loss

    # 2. this rank's gradients; grad_hidden summed over the ranks in place. Its buffer has one more element, the
    # number of ranks whose gradient failed, so that a failure on one rank reaches every rank through this sum.
    rows, dim = hidden.shape
    out = None
    buf = None
    if "hidden" in want and rows:
        buf = np.empty(rows * dim + 1, hidden.dtype)
        out = {"grad_hidden": buf[:-1].reshape(rows, dim)}

    def gradients():
        return xent.linear_grad_from_stats(
            hidden, weight_shard, labels, stats, grad=want, grad_scale=o.grad_scale, out=out, **shard, **options
        )

    if buf is None:
        grad_hidden, grad_weight, grad_bias = gradients()
    else:
        grad_hidden, grad_weight, grad_bias = summed_gradient(
            gradients,
            (TypeError, ValueError),
            buf,
            lambda b: comm.Allreduce(MPI.IN_PLACE, b, op=MPI.SUM),
            "xent.mpi.linear_cross_entropy",
        )
    return LinearCrossEntropyResult(loss, grad_hidden, grad_weight, grad_bias, lse, z)
