"""The LM head over a sharded vocabulary on a real MPI job (xent.mpi.linear_cross_entropy, libxent >= 1.3.0). Run
under mpirun (run.sh does, on 2 and 4 ranks), e.g.

    mpirun --oversubscribe -n 4 python tests/mpi/test_mpi_linear.py

Every rank builds the same seeded hidden states, weight, bias and labels, owns one uneven block of classes (rank 0
one class, the others random cuts; labels fall in every shard, some rows are ignored), and checks against the
single-process results it computes itself:

* its own statistics (xent.linear_partial_stats) are those of the same shard computed in one process;
* the statistics merged by xent.mpi.allreduce_stats are the same bits on every rank and the bits of an in-process
  merge of the same shards: on 2 ranks the left fold itself; on 4 ranks method="allgather" is the left fold bit for
  bit, and method="allreduce" is the grouping MPI chose (left, tree or right, reported), within 1e-15 relative of
  the left fold (max, count and the label fields exact);
* the loss of xent.mpi.linear_cross_entropy is within 1 ulp of the unsharded fused call xent.linear_cross_entropy
  (method="allgather", and on 2 ranks also "allreduce"; with "allreduce" on more ranks within 1 ulp of the left fold),
  the same bits on every rank, and the lse within 2e-7 (float32) / 1e-14 (float64) of the row's scale;
* grad_hidden is the same bits on every rank, and within GRAD_RTOL of the unsharded call's (max |difference| / max
  |unsharded|: 4e-6 float32, 1e-12 float64, as python/tests/test_linear_sharded.py);
* every rank's grad_weight and grad_bias rows are the bits of xent.linear_grad_from_stats of the same shard from the
  same statistics in one process, and within GRAD_RTOL of the corresponding rows of the unsharded call's;
* a shard the library refuses on one rank, or a gradient that fails on one rank, raises on every rank (no rank left
  waiting in a collective); a layout that misses classes raises XentError on every rank.

Rank 0 prints "N passed, M failed" and the largest differences measured; every rank exits 1 when any check failed
anywhere. (Nothing runs on import: the single-process pytest suite may collect this file and finds no tests.)
"""

import pathlib
import sys
import traceback

import numpy as np

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
    rel_diff,
    same_everywhere,
    tally,
    ulps,
)

TOL = {np.dtype(np.float32): 2e-7, np.dtype(np.float64): 1e-14}
GRAD_RTOL = {np.dtype(np.float32): 4e-6, np.dtype(np.float64): 1e-12}
EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "linear_mpi.py"


class Run:
    """The checks of one rank: (name, ok, detail), and the largest differences measured."""

    def __init__(self, comm):
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()
        self.results = []
        self.worst = {}
        self.groupings = {}

    def check(self, name, cond, detail=""):
        self.results.append((name, bool(cond), detail))

    def measured(self, key, value):
        self.worst[key] = max(self.worst.get(key, 0.0), float(value))


def problem(seed, rows, dim, classes, dtype):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((rows, dim)).astype(dtype)
    w = (rng.standard_normal((classes, dim)) * 3 / np.sqrt(dim)).astype(dtype)
    b = rng.standard_normal(classes).astype(dtype)
    labels = rng.integers(0, classes, rows)
    labels[: min(rows, 3)] = [0, classes - 1, classes // 2][: min(rows, 3)]  # rank 0's class, the last, the middle
    labels[5::7] = -100  # ignored rows
    return h, w, b, labels


def case(run, xent, xm, name, h, w, b, labels, *, reduction="mean", smoothing=0.0, grad_scale=1.0, seed=0, z_loss=0.0):
    comm, rank, size = run.comm, run.rank, run.size
    dtype = np.dtype(h.dtype)
    classes = w.shape[0]
    bounds = bounds_for(classes, size, seed)
    c0, c1 = bounds[rank], bounds[rank + 1]
    shard = dict(col_offset=c0, total_cols=classes)
    options = dict(reduction=reduction, label_smoothing=smoothing, z_loss=z_loss)

    # single-process references, computed by every rank on the whole weight
    parts = [
        xent.linear_partial_stats(h, w[a:z], labels, col_offset=a, total_cols=classes, bias=b[a:z])
        for a, z in zip(bounds, bounds[1:])
    ]
    left, right, tree = fold_left(parts), fold_right(parts), fold_tree(parts)
    unsharded = xent.linear_cross_entropy(
        h, w, labels, bias=b, grad=True, return_lse=True, grad_scale=grad_scale, **options
    )
    contributions = [
        xent.linear_grad_from_stats(
            h, w[a:z], labels, left, col_offset=a, total_cols=classes, bias=b[a:z], grad_scale=grad_scale, **options
        )
        for a, z in zip(bounds, bounds[1:])
    ]

    # 1. the statistics
    local = xent.linear_partial_stats(h, w[c0:c1], labels, bias=b[c0:c1], **shard)
    run.check(f"{name}: own partial stats", local.tobytes() == parts[rank].tobytes())
    merged = xm.allreduce_stats(comm, local)
    run.check(f"{name}: allreduce stats identical on all ranks", same_everywhere(comm, merged))
    grouping = grouping_of(merged, left, tree, right)
    run.groupings.setdefault(grouping, []).append(name)
    run.check(f"{name}: allreduce stats = an in-process merge of the same shards ({grouping})", grouping is not None)
    if size <= 2:
        run.check(f"{name}: {size} ranks: allreduce stats bit-identical to the left fold", grouping == "left")
    exact, rel = against_left_fold(merged, left)
    run.measured("stats allreduce vs left fold (relative)", rel)
    run.check(f"{name}: allreduce stats vs left fold: exact fields, sums within 1e-15", exact and rel <= 1e-15, rel)
    gathered = xm.allreduce_stats(comm, local, method="allgather")
    run.check(f"{name}: allgather stats bit-identical to the left fold", gathered.tobytes() == left.tobytes())

    # 2. the whole step through xent.mpi.linear_cross_entropy
    for method in ("allgather", "allreduce"):
        tag = f"{name} [{method}]"
        res = xm.linear_cross_entropy(
            comm,
            h,
            w[c0:c1],
            labels,
            bias_shard=b[c0:c1],
            grad_scale=grad_scale,
            return_lse=True,
            method=method,
            **shard,
            **options,
        )
        run.check(
            f"{tag}: a LinearCrossEntropyResult", isinstance(res, xent.LinearCrossEntropyResult) and len(res) == 5
        )
        stats = left if method == "allgather" else merged
        loss_same_stats, lse_same_stats = xent.finalize_stats(
            stats, labels, total_cols=classes, dtype=dtype, return_lse=True, **options
        )
        run.check(
            f"{tag}: loss and lse bit-identical to finalize of the same statistics in one process",
            np.asarray(res.loss).tobytes() == np.asarray(loss_same_stats).tobytes()
            and res.lse.tobytes() == lse_same_stats.tobytes(),
        )
        run.check(
            f"{tag}: loss, lse, grad_hidden identical on all ranks",
            all(same_everywhere(comm, x) for x in (res.loss, res.lse, res.grad_hidden)),
        )
        u = ulps(res.loss, unsharded.loss, dtype)
        run.measured(f"loss vs unsharded ({method}, ulp)", u)
        if method == "allgather" or size <= 2:
            run.check(f"{tag}: loss within 1 ulp of the unsharded fused call", u <= 1, f"{u} ulp")
        else:
            u_left = ulps(
                res.loss, xent.finalize_stats(left, labels, total_cols=classes, dtype=dtype, **options), dtype
            )
            run.check(f"{tag}: loss within 1 ulp of the left fold's", u_left <= 1, f"{u_left} ulp")
        o = np.abs(h.astype(np.float64) @ w.astype(np.float64).T + b).max(axis=1)
        scale = np.abs(unsharded.lse.astype(np.float64)) + o + 1
        r = float(np.max(np.abs(res.lse.astype(np.float64) - unsharded.lse) / scale))
        run.measured("lse vs unsharded (scale-relative)", r)
        run.check(f"{tag}: lse within {TOL[dtype]} of the row's scale", r <= TOL[dtype], r)
        # grad_hidden: the sum of every shard's contribution
        r = rel_diff(res.grad_hidden, unsharded.grad_hidden)
        run.measured(f"{dtype.name} grad_hidden vs unsharded", r)
        run.check(f"{tag}: grad_hidden within {GRAD_RTOL[dtype]} of the unsharded call's", r <= GRAD_RTOL[dtype], r)
        if method == "allgather" and size <= 2:
            in_process = contributions[0][0].copy()
            for g in contributions[1:]:
                in_process += g[0]
            run.check(
                f"{tag}: grad_hidden bit-identical to the in-process sum", np.array_equal(res.grad_hidden, in_process)
            )
        # this rank's rows of grad_weight and grad_bias
        for field, i, rows_of in (("grad_weight", 1, unsharded.grad_weight), ("grad_bias", 2, unsharded.grad_bias)):
            got = getattr(res, field)
            r = rel_diff(got, rows_of[c0:c1])
            run.measured(f"{dtype.name} {field} vs unsharded", r)
            run.check(f"{tag}: rank {rank} {field} [{c0}, {c1}) within {GRAD_RTOL[dtype]}", r <= GRAD_RTOL[dtype], r)
            if method == "allgather":
                run.check(
                    f"{tag}: {field} bit-identical to the in-process shard's",
                    np.array_equal(got, contributions[rank][i]),
                )

    if z_loss:
        zr = xm.linear_cross_entropy(
            comm, h, w[c0:c1], labels, bias_shard=b[c0:c1], grad=False, return_z_loss=True, **shard, **options
        )
        zu = xent.linear_cross_entropy(h, w, labels, bias=b, return_z_loss=True, **options).z_loss
        r = float(np.max(np.abs(np.asarray(zr.z_loss) - zu) / np.maximum(np.abs(zu), 1e-300)))
        run.measured("z-loss vs unsharded (relative)", r)
        run.check(f"{name}: the z-loss within {8 * TOL[dtype]} of the unsharded call's", r <= 8 * TOL[dtype], r)

    # 3. the loss alone (one Allreduce), and a subset of the gradients
    loss = xm.linear_cross_entropy(
        comm, h, w[c0:c1], labels, bias_shard=b[c0:c1], grad=False, method="allgather", **shard, **options
    )
    loss_left = xent.finalize_stats(left, labels, total_cols=classes, dtype=dtype, **options)
    run.check(
        f"{name}: grad=False gives the loss alone, the bits of the left fold's",
        np.asarray(loss).tobytes() == np.asarray(loss_left).tobytes(),
    )
    sub = xm.linear_cross_entropy(
        comm,
        h,
        w[c0:c1],
        labels,
        bias_shard=b[c0:c1],
        grad=["weight"],
        method="allgather",
        grad_scale=grad_scale,
        **shard,
        **options,
    )
    run.check(
        f"{name}: grad=['weight'] gives grad_weight only",
        sub.grad_hidden is None
        and sub.grad_bias is None
        and sub.lse is None
        and np.array_equal(sub.grad_weight, contributions[rank][1]),
    )


def failures(run, xent, xm):
    """Errors on one rank only reach every rank; nobody hangs (run.sh's timeout would catch a hang)."""
    comm, rank, size = run.comm, run.rank, run.size
    h, w, b, labels = problem(9, 6, 4, 10 * size, np.float32)
    c0, c1 = 10 * rank, 10 * rank + 10

    def attempt(**kw):
        try:
            xm.linear_cross_entropy(comm, h, w[c0:c1], labels, total_cols=10 * size, bias_shard=b[c0:c1], **kw)
        except Exception as e:  # the type is what is checked
            return e
        return None

    # rank `bad` claims a shard past total_cols: the library refuses it there, the others fail in finalize
    bad = size - 1
    e = attempt(col_offset=c0 if rank != bad else c0 + 1)
    if rank == bad:
        ok = isinstance(e, xent.XentError) and e.status == xent.ERR_INVALID_SHAPE
    else:
        ok = isinstance(e, xent.XentError) and e.status == xent.ERR_INVALID_SHAPE and "row" in e.detail
    run.check(f"a shard refused on rank {bad} raises on every rank", ok, repr(e))
    # the gradient fails on rank `bad` only (a grad_scale the library refuses: read by the gradient call alone)
    e = attempt(col_offset=c0, grad_scale=float("inf") if rank == bad else 1.0)
    if rank == bad:
        ok = isinstance(e, xent.XentError) and e.status == xent.ERR_INVALID_OPTION
    else:
        ok = isinstance(e, RuntimeError) and "other rank" in str(e)
    run.check(f"a gradient failing on rank {bad} raises on every rank", ok, repr(e))
    # and the same call on every rank works (nothing left over in the communicator)
    e = attempt(col_offset=c0)
    run.check("after the failures a good call succeeds", e is None, repr(e))
    # a layout that misses classes: XentError on every rank
    try:
        xm.linear_cross_entropy(comm, h, w[c0:c1], labels, col_offset=c0, total_cols=10 * size + 1)
        run.check("incomplete shards raise XentError", False, "no error")
    except xent.XentError as e:
        run.check("incomplete shards raise XentError", e.status == xent.ERR_INVALID_SHAPE and "row" in e.detail, str(e))
    # bad arguments raise before any communication, on every rank alike
    for kw, exc in ((dict(grad="logits"), ValueError), (dict(grad=[]), ValueError), (dict(grad=3), TypeError)):
        try:
            xm.linear_cross_entropy(comm, h, w[c0:c1], labels, col_offset=c0, total_cols=10 * size, **kw)
            run.check(f"{kw} raises {exc.__name__}", False, "no error")
        except exc:
            run.check(f"{kw} raises {exc.__name__}", True)


def example(run):
    """python/examples/linear_mpi.py: a few dozen SGD steps lower the loss, the same on every rank."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("linear_mpi", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    losses = mod.train(run.comm, steps=30, batch=256, dim=32, log_every=0, seed=1)
    run.check("example: 30 finite losses", len(losses) == 30 and np.isfinite(losses).all(), losses)
    run.check("example: the loss falls", np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5]), losses)
    run.check("example: the same losses on every rank", same_everywhere(run.comm, np.array(losses)))


def main(run):
    import xent
    import xent.mpi as xm

    for dtype in (np.float32, np.float64):
        dn = np.dtype(dtype).name
        for seed, (rows, dim, classes) in enumerate([(16, 8, 37), (64, 24, 3001), (6, 16, 70001)]):
            h, w, b, labels = problem(100 + seed, rows, dim, classes, dtype)
            for reduction in ("mean", "sum", "none"):
                for smoothing in (0.0, 0.1):
                    name = f"{dn} {rows}x{dim}x{classes} {reduction} eps={smoothing}"
                    case(
                        run,
                        xent,
                        xm,
                        name,
                        h,
                        w,
                        b,
                        labels,
                        reduction=reduction,
                        smoothing=smoothing,
                        grad_scale=1.5,
                        seed=seed,
                    )
        h, w, b, labels = problem(200, 32, 16, 1001, dtype)
        for reduction in ("mean", "none"):
            name = f"{dn} 32x16x1001 {reduction} eps=0.1 z-loss"
            case(run, xent, xm, name, h, w, b, labels, reduction=reduction, smoothing=0.1, z_loss=0.01, seed=1)
    failures(run, xent, xm)
    example(run)


def report(run):
    comm = run.comm
    all_results = comm.gather(run.results, root=0)
    all_worst = comm.gather(run.worst, root=0)
    failed_any = 0
    if run.rank == 0:
        passed, failed = tally(all_results)
        worst = {}
        for w in all_worst:
            for k, v in w.items():
                worst[k] = max(worst.get(k, 0.0), v)
        print(job_line("test_mpi_linear", run.size), flush=True)
        print(f"test_mpi_linear: Allreduce grouping per case: { {k: len(v) for k, v in run.groupings.items()} }")
        print("test_mpi_linear: largest differences: " + "; ".join(f"{k} {v:.3g}" for k, v in sorted(worst.items())))
        print(f"{passed} passed, {failed} failed", flush=True)
        failed_any = int(failed > 0)
    return comm.bcast(failed_any, root=0)


if __name__ == "__main__":
    from mpi4py import MPI

    run = Run(MPI.COMM_WORLD)
    try:
        main(run)
    except Exception:
        run.results.append(("uncaught exception", False, traceback.format_exc()))
    sys.exit(report(run))
