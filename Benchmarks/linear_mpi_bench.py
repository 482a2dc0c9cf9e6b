#!/usr/bin/env python3
"""Weak scaling of the LM head over a sharded vocabulary (xent.mpi.linear_cross_entropy) on 1 .. N MPI ranks.

Every rank holds a fixed shard of classes (default: rows 1024, dim 512, 16384 classes per rank, float32), so p ranks
hold p x 16384 classes; the batch (hidden, labels) is the whole batch on every rank. One training step of the head:

  stats       xent.linear_partial_stats of the rank's classes (one GEMM pass, the logits never stored)
  allreduce1  xent.mpi.allreduce_stats: one Allreduce of rows x 48 bytes (the xent_merge_stats user operation)
  finalize    xent.finalize_stats: the loss
  grad        xent.linear_grad_from_stats: grad_hidden (this rank's contribution), grad_weight, grad_bias (rows of
              the shard), into preallocated arrays
  allreduce2  comm.Allreduce(MPI.IN_PLACE, grad_hidden, MPI.SUM): rows x dim x sizeof(T) bytes
  step        the five together; "one call" is the same step through xent.mpi.linear_cross_entropy (which allocates
              its outputs and carries one more element in the second Allreduce)

Each phase is timed on every rank with MPI.Wtime between barriers; a run's phase time is the slowest rank's; the
table shows the median over --reps runs after one warm-up run. The runs on p < N ranks use a sub-communicator of the
first p ranks (the others wait at a barrier), so that one mpirun gives every rank count from 1 to N. num_threads=1
per rank (--threads), so that p ranks use p cores. Weak-scaling efficiency = step(1 rank) / step(p ranks).

The communication of a step does not depend on the class count: two Allreduce of rows x 48 and rows x dim x
sizeof(T) bytes. With a ring allreduce every rank sends (and receives) 2(p-1)/p times the message; the second table
gives that for 8 to 64 ranks (and for the rank counts measured here).

  mpirun --oversubscribe -n 2 .build-venv/bin/python Benchmarks/linear_mpi_bench.py [--rows 1024] [--dim 512]
         [--classes 16384] [--reps 5] [--dtype float32] [--threads 1]
"""

import argparse
import sys

import numpy as np
from mpi4py import MPI

import xent
import xent.mpi as xm

PHASES = ("stats", "allreduce1", "finalize", "grad", "allreduce2")
STATS_BYTES = xent.STATS_DTYPE.itemsize  # 48


def one_run(comm, h, w, b, labels, c0, total, out, threads):
    """The five phases of one step: {phase: seconds on this rank}, and the loss."""
    times = {}

    def mark(name, t0):
        times[name] = MPI.Wtime() - t0
        comm.Barrier()
        return MPI.Wtime()

    comm.Barrier()
    t = MPI.Wtime()
    shard = dict(col_offset=c0, total_cols=total, bias=b, num_threads=threads)
    stats = xent.linear_partial_stats(h, w, labels, **shard)
    t = mark("stats", t)
    xm.allreduce_stats(comm, stats, out=stats)
    t = mark("allreduce1", t)
    loss = xent.finalize_stats(stats, labels, total_cols=total, dtype=h.dtype)
    t = mark("finalize", t)
    gh, _, _ = xent.linear_grad_from_stats(h, w, labels, stats, out=out, **shard)
    t = mark("grad", t)
    comm.Allreduce(MPI.IN_PLACE, gh, op=MPI.SUM)
    mark("allreduce2", t)
    return times, loss


def one_call(comm, h, w, b, labels, c0, total, threads):
    comm.Barrier()
    t0 = MPI.Wtime()
    xm.linear_cross_entropy(comm, h, w, labels, col_offset=c0, total_cols=total, bias_shard=b, num_threads=threads)
    return MPI.Wtime() - t0


def measure(comm, args, dtype):
    """Median phase times (the slowest rank's) of ``comm``'s ranks, each holding ``args.classes`` classes."""
    rank, p = comm.Get_rank(), comm.Get_size()
    total = p * args.classes
    c0 = rank * args.classes
    rng = np.random.default_rng(7)  # the same batch on every rank; each rank draws its own shard
    h = rng.standard_normal((args.rows, args.dim)).astype(dtype)
    labels = rng.integers(0, total, args.rows)
    wrng = np.random.default_rng(100 + rank)
    w = (wrng.standard_normal((args.classes, args.dim)) / np.sqrt(args.dim)).astype(dtype)
    b = wrng.standard_normal(args.classes).astype(dtype)
    out = {
        "grad_hidden": np.zeros((args.rows, args.dim), dtype),
        "grad_weight": np.zeros_like(w),
        "grad_bias": np.zeros_like(b),
    }
    runs, calls = [], []
    for rep in range(args.reps + 1):
        times, _ = one_run(comm, h, w, b, labels, c0, total, out, args.threads)
        slowest = {k: comm.allreduce(v, op=MPI.MAX) for k, v in times.items()}
        call = comm.allreduce(one_call(comm, h, w, b, labels, c0, total, args.threads), op=MPI.MAX)
        if rep:  # the first run warms up (pages, BLAS buffers, MPI connections)
            runs.append(slowest)
            calls.append(call)
    med = {k: float(np.median([r[k] for r in runs])) for k in PHASES}
    med["step"] = float(np.median([sum(r[k] for k in PHASES) for r in runs]))
    med["call"] = float(np.median(calls))
    return med


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classes", type=int, default=16384, help="classes per rank")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=1, help="num_threads of every call on each rank")
    args = ap.parse_args(argv)
    world = MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    dtype = np.dtype(args.dtype)
    if not xent.linear_sharded_available():
        if rank == 0:
            print(f"linear_mpi_bench: library {xent.library_version()} has no sharded linear calls (>= 1.3.0)")
        return 1

    results = {}
    for p in range(1, size + 1):
        sub = world.Split(0 if rank < p else MPI.UNDEFINED, rank)
        if sub != MPI.COMM_NULL:
            res = measure(sub, args, dtype)
            if rank == 0:
                results[p] = res
            sub.Free()
        world.Barrier()

    if rank != 0:
        return 0
    item = dtype.itemsize
    flops = 8.0 * args.rows * args.dim * args.classes  # four GEMMs of the shard: logits twice, grad_hidden, grad_weight
    mpi = MPI.Get_library_version().splitlines()[0][:40]
    print(f"linear_mpi_bench: xent {xent.library_version()} ({xent.isa()}), {mpi}")
    print(
        f"rows {args.rows}, dim {args.dim}, {args.classes} classes per rank, {dtype.name}, num_threads={args.threads} "
        f"per rank; median of {args.reps} runs (the slowest rank's times); a step is {flops / 1e9:.1f} GFLOP per rank "
        "(4 GEMMs of the shard)"
    )
    print()
    cols = ["ranks", "classes", *[f"{k} ms" for k in PHASES], "step ms", "one call ms", "GFLOP/s/rank", "efficiency"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---:" for _ in cols) + "|")
    t1 = results[1]["step"]
    for p, r in results.items():
        row = [str(p), str(p * args.classes), *[f"{1e3 * r[k]:.2f}" for k in PHASES]]
        row += [
            f"{1e3 * r['step']:.1f}",
            f"{1e3 * r['call']:.1f}",
            f"{flops / r['step'] / 1e9:.1f}",
            f"{t1 / r['step']:.2f}",
        ]
        print("| " + " | ".join(row) + " |")
    print()
    stats_msg = args.rows * STATS_BYTES
    hidden_msg = args.rows * args.dim * item
    print(
        f"Communication per step (independent of the class count): Allreduce of the statistics {stats_msg:,} B "
        f"(rows x 48), Allreduce of grad_hidden {hidden_msg:,} B (rows x dim x {item}): the statistics add "
        f"{100 * stats_msg / hidden_msg:.1f}% to what grad_hidden moves. A ring allreduce sends (and receives) "
        "2(p-1)/p x the message per rank:"
    )
    print()
    print("| ranks p | 2(p-1)/p | statistics B/rank | grad_hidden B/rank | step total B/rank |")
    print("|---:|---:|---:|---:|---:|")
    for p in sorted({*range(2, size + 1), 8, 16, 32, 64}):
        f = 2 * (p - 1) / p
        s, g = f * stats_msg, f * hidden_msg
        print(f"| {p} | {f:.3f} | {s:,.0f} | {g:,.0f} | {s + g:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
