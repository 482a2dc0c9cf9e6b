"""Helpers of the sharded-vocabulary tests, shared by the pytest files here and the MPI programs of mpi/ (scripts
under mpirun, run from a scratch directory: they put this folder on sys.path): the shard bounds, the shards'
statistics merged in one process in the groupings an Allreduce may use, and the differences the tests measure.
NumPy and no pytest; xent is imported on first use (the MPI programs import it after mpi4py)."""

import numpy as np


def _merge_stats(a, b, **kw):
    import xent

    return xent.merge_stats(a, b, **kw)


def bounds_for(classes, size, seed):
    """Uneven shard bounds over ``size`` ranks: rank 0 one class, the others random cut points (the same for the
    same seed)."""
    if size == 1:
        return [0, classes]
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(2, classes), size=size - 2, replace=False)) if size > 2 else []
    return [0, 1, *[int(c) for c in cuts], classes]


def fold_left(parts):
    """The statistics ``parts`` merged ((s0 + s1) + s2) + s3, in order."""
    acc = parts[0].copy()
    for p in parts[1:]:
        _merge_stats(acc, p, out=acc)
    return acc


def fold_right(parts):
    """s0 + (s1 + (s2 + s3))."""
    acc = parts[-1].copy()
    for p in parts[-2::-1]:
        _merge_stats(p, acc, out=acc)
    return acc


def fold_tree(parts):
    """Pairwise: (s0 + s1) + (s2 + s3) (recursive doubling)."""
    level = [p.copy() for p in parts]
    while len(level) > 1:
        nxt = [_merge_stats(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def grouping_of(merged, left, tree, right):
    """The in-process merge whose bits ``merged`` has: "left", "tree" or "right", or None."""
    return next(
        (g for g, v in (("left", left), ("tree", tree), ("right", right)) if v.tobytes() == merged.tobytes()), None
    )


def against_left_fold(merged, left):
    """(whether max, count, label_logit and label_seen of ``merged`` are those of ``left`` exactly, the largest
    relative difference of sum_exp and sum_x)."""
    exact = all(
        np.array_equal(merged[f], left[f], equal_nan=True) for f in ("max", "count", "label_logit", "label_seen")
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = max(
            float(
                np.nanmax(np.where(merged[f] == left[f], 0, np.abs(merged[f] - left[f]) / np.abs(left[f])), initial=0.0)
            )
            for f in ("sum_exp", "sum_x")
        )
    return exact, rel


def tally(all_results):
    """(passed, failed) of the checks of every rank (``all_results``: each rank's list of (name, ok, detail), rank
    order); prints the failed ones."""
    for rk, r in enumerate(all_results):
        for name, ok, detail in r:
            if not ok:
                print(f"FAIL rank {rk}: {name} {detail}", flush=True)
    return sum(ok for r in all_results for _, ok, _ in r), sum(not ok for r in all_results for _, ok, _ in r)


def job_line(program, size):
    """The first line of an MPI program's report: the ranks, the library and the MPI library."""
    from mpi4py import MPI

    import xent

    return (
        f"{program}: {size} ranks, library {xent.library_version()} ({xent.isa()}), MPI "
        f"{MPI.Get_library_version().splitlines()[0][:40]}"
    )


def same_everywhere(comm, a):
    """Whether ``a`` has the same bytes on every rank of ``comm``."""
    data = comm.allgather(np.asarray(a).tobytes())
    return all(d == data[0] for d in data)


def ulps(a, b, dtype):
    """max |a - b| in units of the spacing of b in ``dtype`` (0 when equal, inf when specials differ)."""
    a, b = np.asarray(a, np.float64).reshape(-1), np.asarray(b, np.float64).reshape(-1)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if same.all():
        return 0.0
    if not np.isfinite(b[~same]).all() or not np.isfinite(a[~same]).all():
        return np.inf
    sp = np.spacing(np.abs(b[~same]).astype(dtype)).astype(np.float64)
    return float(np.max(np.abs(a[~same] - b[~same]) / sp))


def rel_diff(a, b, strict=False):
    """max |a - b| / max |b| over the finite elements of b (0 when a == b there). Different shapes, or special values
    of b that a does not have: inf, or with ``strict`` an AssertionError."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        assert not strict, (a.shape, b.shape)
        return np.inf
    fin = np.isfinite(b)
    if not np.array_equal(a[~fin], b[~fin], equal_nan=True):
        assert not strict, "special values differ"
        return np.inf
    d = np.abs(a[fin] - b[fin]).max(initial=0.0)
    m = np.abs(b[fin]).max(initial=0.0)
    return 0.0 if d == 0 else (d / m if m else np.inf)
