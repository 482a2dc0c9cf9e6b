"""Tensor-parallel (sharded-vocabulary) cross-entropy with mpi4py:

    mpirun -n 4 python sharded_mpi.py [--rows 512] [--vocab 32003] [--dtype float32]

Every rank generates the same seeded logits, keeps only its own block of vocabulary columns (an uneven split),
and computes the loss and its columns of the gradient: per-row statistics of the shard (xent.partial_stats) are
merged across ranks with one MPI Allreduce whose user operation calls the library's xent_merge_stats, then each
rank finalizes the loss and writes its gradient shard (xent.mpi.sharded_cross_entropy does these steps).
Rank 0 prints the loss and compares it, and every rank's gradient shard, with single-process xent.cross_entropy.
"""

import argparse

import numpy as np
from mpi4py import MPI

import xent
import xent.mpi

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--rows", type=int, default=512)
p.add_argument("--vocab", type=int, default=32003)
p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
p.add_argument("--smoothing", type=float, default=0.1)
args = p.parse_args()

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
dtype = np.dtype(args.dtype)

rng = np.random.default_rng(2024)  # same seed: every rank sees the same logits and labels
logits = (rng.standard_normal((args.rows, args.vocab)) * 4).astype(dtype)
labels = rng.integers(0, args.vocab, args.rows)

# uneven split: rank r owns about (r + 1) / sum(1..size) of the vocabulary
weights = np.arange(1, size + 1)
bounds = np.concatenate([[0], np.round(np.cumsum(weights) / weights.sum() * args.vocab)]).astype(int)
c0, c1 = int(bounds[rank]), int(bounds[rank + 1])
shard = np.ascontiguousarray(logits[:, c0:c1])  # what this rank would hold in a real model

t0 = MPI.Wtime()
loss, grad_shard = xent.mpi.sharded_cross_entropy(
    comm, shard, labels, col_offset=c0, total_cols=args.vocab, label_smoothing=args.smoothing
)
elapsed = comm.reduce(MPI.Wtime() - t0, op=MPI.MAX, root=0)

# check against the single-process kernel on the whole matrix (each rank checks its own columns)
ref = xent.cross_entropy(logits, labels, label_smoothing=args.smoothing, grad=True)
grad_err = float(np.max(np.abs(grad_shard.astype(np.float64) - ref.grad[:, c0:c1])) * args.rows)  # in units of s
grad_errs = comm.gather((c0, c1, grad_err), root=0)
if rank == 0:
    ulp = abs(float(loss) - float(ref.loss)) / float(np.spacing(np.abs(ref.loss)))
    print(
        f"{size} ranks, vocabulary {args.vocab} split as {[f'[{a}, {b})' for a, b, _ in grad_errs]}, "
        f"{args.rows} rows, {dtype.name}, label_smoothing {args.smoothing}"
    )
    print(f"sharded loss       {float(loss):.9g}   ({elapsed * 1e3:.1f} ms, slowest rank)")
    print(f"single-process     {float(ref.loss):.9g}   difference {ulp:.0f} ulp")
    print("gradient shards: max |difference| / s = " + ", ".join(f"{e:.2g}" for _, _, e in grad_errs))
    ok = ulp <= 1 and all(e <= 4e-7 if dtype == np.float32 else e <= 2e-14 for _, _, e in grad_errs)
    print("OK" if ok else "MISMATCH")
    comm.bcast(ok, root=0)
else:
    ok = comm.bcast(None, root=0)
raise SystemExit(0 if ok else 1)
