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
from ._keywords import keywords
from ._sharded import _optional, _stats_array

__all__ = ["allreduce_stats", "sharded_cross_entropy", "stats_datatype", "merge_op"]

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
