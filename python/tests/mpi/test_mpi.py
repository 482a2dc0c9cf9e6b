"""Sharded-vocabulary cross-entropy on a real MPI job. Run under mpirun, e.g.

    mpirun --oversubscribe -n 4 python tests/mpi/test_mpi.py

Every rank builds the same seeded logits, owns one (uneven) column shard, merges the statistics with
xent.mpi.allreduce_stats, and checks against the single-process results it computes itself:

* the merged statistics are bit-identical on every rank;
* method="allgather" is bit-identical to merge_stats folded left to right over the shards in one process;
* method="allreduce" (one Allreduce with the xent_merge_stats user op) is bit-identical to merging the same
  shards in one process with the grouping MPI used (reported: "left" ((s0+s1)+s2)+s3 or "tree" (s0+s1)+(s2+s3)
  or "right"), and within 1e-15 relative (exact for max/count/label fields) of the left fold;
* the loss is within 1 ulp of the single-process sharded result and within the header's bound of
  xent.cross_entropy (distance in ulps reported); every rank's gradient shard equals the same columns of the
  single-process xent.cross_entropy gradient within 2 x 2e-7*s (float32) / 2 x 1e-14*s (float64).

Rank 0 prints "N passed, M failed"; every rank exits 1 when any check failed anywhere.
"""

import pathlib
import sys
import traceback

import numpy as np
from mpi4py import MPI

import xent
import xent.mpi as xm

# the helpers shared with the pytest suite, in python/tests (this file runs as a script, from a scratch directory)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from _sharding import (  # noqa: E402
    against_left_fold,
    bounds_for,
    fold_left,
    fold_right,
    fold_tree,
    grouping_of,
    job_line,
    same_everywhere,
    tally,
    ulps,
)

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
TOL = {np.dtype(np.float32): 2e-7, np.dtype(np.float64): 1e-14}
results = []  # (name, ok, detail) of this rank
groupings_seen = {}
ulps_seen = {}


def check(name, cond, detail=""):
    results.append((name, bool(cond), detail))


def close(a, b, tol, scale):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    special = (np.isnan(a) & np.isnan(b)) | (np.isinf(b) & (a == b))
    with np.errstate(invalid="ignore"):
        d = np.where(special, 0, np.abs(a - b) / np.broadcast_to(scale, b.shape))
    return bool((d <= tol).all()), float(np.nanmax(d)) if d.size else 0.0


def case(name, x, labels, *, reduction="mean", ignore_index=-100, smoothing=0.0, grad_scale=1.0, seed=0):
    dtype = np.dtype(x.dtype)
    rows, cols = x.shape
    b = bounds_for(cols, size, seed)
    c0, c1 = b[rank], b[rank + 1]
    shard = x[:, c0:c1]  # row-strided view, no copy
    kw = dict(ignore_index=ignore_index)
    # single-process references, computed by every rank on the whole matrix
    parts = [
        xent.partial_stats(x[:, b[i] : b[i + 1]], labels, col_offset=b[i], total_cols=cols, **kw) for i in range(size)
    ]
    left, right, tree = fold_left(parts), fold_right(parts), fold_tree(parts)
    ce_kw = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=smoothing)
    ref = xent.cross_entropy(x, labels, grad_scale=grad_scale, grad=True, **ce_kw)
    fin_kw = dict(total_cols=cols, dtype=dtype, **ce_kw)
    loss_left = xent.finalize_stats(left, labels, **fin_kw)

    local = xent.partial_stats(shard, labels, col_offset=c0, total_cols=cols, **kw)
    check(f"{name}: own partial stats", local.tobytes() == parts[rank].tobytes())

    # 1. Allreduce with the user operation
    merged = xm.allreduce_stats(comm, local)
    check(f"{name}: allreduce stats identical on all ranks", same_everywhere(comm, merged))
    grouping = grouping_of(merged, left, tree, right)
    groupings_seen.setdefault(grouping, []).append(name)
    check(
        f"{name}: allreduce stats bit-identical to an in-process merge of the same shards (grouping {grouping})",
        grouping is not None,
    )
    if size == 2:
        check(f"{name}: 2 ranks: allreduce stats bit-identical to the left fold", grouping == "left")
    exact, rel = against_left_fold(merged, left)
    check(
        f"{name}: allreduce stats vs left fold: max/count/label exact, sums within 1e-15",
        exact and rel <= 1e-15,
        f"rel {rel:.3g}",
    )
    # in place (MPI.IN_PLACE) gives the same
    inplace = local.copy()
    xm.allreduce_stats(comm, inplace, out=inplace)
    check(f"{name}: allreduce in place", inplace.tobytes() == merged.tobytes())

    # 2. Allgather + left fold in rank order: the same bits as the left fold in one process
    gathered = xm.allreduce_stats(comm, local, method="allgather")
    check(f"{name}: allgather stats bit-identical to the left fold", gathered.tobytes() == left.tobytes())

    # 3. loss and gradient through the convenience function (Allreduce inside)
    loss, grad = xm.sharded_cross_entropy(
        comm, shard, labels, col_offset=c0, total_cols=cols, grad_scale=grad_scale, **ce_kw
    )
    loss_same_stats = xent.finalize_stats(merged, labels, **fin_kw)
    check(
        f"{name}: loss bit-identical to finalize of the same statistics in one process",
        np.asarray(loss).tobytes() == np.asarray(loss_same_stats).tobytes(),
    )
    u = ulps(loss, loss_left, dtype)
    if reduction != "none":
        # (per-row losses of reduction="none" can move by 2 ulp between groupings: a 1e-16 change of sum_exp is
        # several ulp of a small loss lse - x_label; they are checked against the scale below)
        check(f"{name}: loss within 1 ulp of the single-process sharded loss (left fold)", u <= 1, f"{u} ulp")
    u2 = ulps(loss, ref.loss, dtype)
    ulps_seen[name] = (u, u2)
    want = np.asarray(ref.loss, np.float64)
    with np.errstate(invalid="ignore"):
        scale = (
            np.maximum(np.abs(np.where(np.isfinite(want), want, 0)), 1.0)
            if reduction != "none"
            else np.abs(np.where(np.isfinite(want), want, 0)) + np.abs(np.where(np.isfinite(x), x, 0)).max(axis=1) + 1.0
        )
    ok, r = close(loss, want, TOL[dtype], scale)
    check(f"{name}: loss vs xent.cross_entropy within {TOL[dtype]} (scale-relative)", ok, f"{r:.3g}; {u2} ulp")
    n = max(1, int(np.sum(labels != ignore_index))) if reduction == "mean" else 1
    s = abs(grad_scale) / n
    ok, r = close(grad, ref.grad[:, c0:c1], 2 * TOL[dtype], s)
    check(
        f"{name}: rank {rank} gradient shard [{c0}, {c1}) vs xent.cross_entropy within 2*{TOL[dtype]}*s",
        ok,
        f"max |diff|/s {r:.3g}",
    )
    check(f"{name}: gradient shard shape/dtype", grad.shape == shard.shape and grad.dtype == dtype)
    check(f"{name}: same loss on all ranks", same_everywhere(comm, loss))


def main():
    for dtype in (np.float32, np.float64):
        dn = np.dtype(dtype).name
        for seed, (rows, cols) in enumerate([(16, 37), (300, 1000), (5, 70001)]):
            rng = np.random.default_rng(100 + seed)
            x = (rng.standard_normal((rows, cols)) * rng.uniform(0.5, 10, (rows, 1))).astype(dtype)
            labels = rng.integers(0, cols, rows)
            for reduction in ("mean", "sum", "none"):
                for smoothing in (0.0, 0.1):
                    name = f"{dn} {rows}x{cols} {reduction} eps={smoothing}"
                    case(name, x, labels, reduction=reduction, smoothing=smoothing, grad_scale=1.5, seed=seed)
        # special values: ignored rows, -inf masks (a whole shard of rank 0's column), an all -inf row, a NaN row
        rng = np.random.default_rng(7)
        rows, cols = 12, 41
        x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
        labels = rng.integers(1, cols, rows)
        x[:, 0] = -np.inf  # rank 0's shard is column 0: entirely -inf
        x[rng.random((rows, cols)) < 0.2] = -np.inf
        x[np.arange(rows), labels] = 1.0
        x[4, :] = -np.inf
        x[6, 20] = np.nan
        labels[[2, 9]] = -100
        for reduction in ("mean", "none"):
            for smoothing in (0.0, 0.1):
                case(
                    f"{dn} special {reduction} eps={smoothing}",
                    x,
                    labels,
                    reduction=reduction,
                    smoothing=smoothing,
                    seed=3,
                )
    # a shard layout that misses columns fails cleanly on every rank (no hang, no abort)
    x = np.ones((2, 10), np.float32)
    try:
        xm.sharded_cross_entropy(comm, x[:, :2], np.array([0, 1]), col_offset=0, total_cols=10 * size + 1)
        check("incomplete shards raise XentError", False, "no error")
    except xent.XentError as e:
        check("incomplete shards raise XentError", e.status == xent.ERR_INVALID_SHAPE and "row" in e.detail, str(e))


if __name__ == "__main__":
    try:
        main()
    except Exception:
        results.append(("uncaught exception", False, traceback.format_exc()))
    all_results = comm.gather(results, root=0)
    all_groupings = comm.gather(groupings_seen, root=0)
    failed_any = 0
    if rank == 0:
        passed, failed = tally(all_results)
        g = {k: len(v) for k, v in all_groupings[0].items()}
        worst = max((v[0] for k, v in ulps_seen.items() if " none " not in k), default=0)
        worst2 = max((v[1] for k, v in ulps_seen.items() if np.isfinite(v[1]) and " none " not in k), default=0)
        print(job_line("test_mpi", size), flush=True)
        print(
            f"test_mpi: Allreduce grouping per case: {g}; loss vs single-process sharded (left fold) max {worst} ulp, "
            f"vs xent.cross_entropy max {worst2} ulp (mean/sum losses)",
            flush=True,
        )
        print(f"{passed} passed, {failed} failed", flush=True)
        failed_any = int(failed > 0)
    failed_any = comm.bcast(failed_any, root=0)
    sys.exit(failed_any)
