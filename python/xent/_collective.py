"""How the linear cross-entropy over a sharded vocabulary keeps every rank in step when one rank fails (internal;
shared by ``xent.mpi`` and ``xent.torch.distributed``, which bring the collectives as callables: this module imports
neither mpi4py nor torch).

A rank that leaves a collective out leaves the others waiting in it, so a rank whose shard fails still takes part:

* forward: it merges placeholder statistics whose count is NaN (no classes), so that finalize fails on every other
  rank (the merged statistics miss its classes), then raises its own error;
* backward: the sum of ``grad_hidden`` over the ranks carries one more element, the number of ranks whose gradient
  failed; the failed rank adds zeros and a 1 and raises its own error, the others raise ``RuntimeError``.
"""

import numpy as np

from ._sharded import STATS_DTYPE


def merged_stats(compute, catch, rows, merge):
    """This rank's statistics, ``compute()``, merged over the ranks by ``merge(stats)`` (in place). When ``compute``
    raises one of the exception types ``catch``, the rank joins the merge with ``rows`` placeholder records (max
    -inf, count NaN) and raises that error after it; with ``rows`` None (no batch to join with: the same on every
    rank) it raises at once."""
    failure = None
    try:
        stats = compute()
    except catch as e:
        if rows is None:
            raise
        failure = e
        stats = np.zeros(rows, STATS_DTYPE)
        stats["max"] = -np.inf
        stats["count"] = np.nan
    merge(stats)
    if failure is not None:
        raise failure
    return stats


def summed_gradient(compute, catch, buf, all_reduce, name):
    """Run ``compute()`` (this rank's gradients; it writes its ``grad_hidden`` into ``buf[:-1]``) and sum ``buf``
    (a NumPy array or a torch tensor) over the ranks with ``all_reduce(buf)`` (in place), its last element counting
    the ranks whose gradient failed. When ``compute`` raises one of ``catch``, the rank joins the sum with zeros
    and a 1 and raises that error after it; the other ranks raise ``RuntimeError`` (``name``: the function's, for
    the message). Returns what ``compute()`` returned."""
    failure = result = None
    try:
        result = compute()
    except catch as e:
        failure = e
        buf[:] = 0
        buf[-1] = 1
    else:
        buf[-1] = 0
    all_reduce(buf)
    if failure is not None:
        raise failure
    failed = int(buf[-1])
    if failed:
        raise RuntimeError(
            f"{name}: the gradient failed on {failed} other rank(s) (they raised the error); grad_hidden is incomplete"
        )
    return result
