"""Train a byte-level bigram language model whose LM head is split by vocabulary across MPI ranks:

    mpirun -n 4 python linear_mpi.py [--steps 40] [--batch 2048] [--dim 64] [--lr 2.0] [--dtype float32]

The text, the model's initial values, the batches, the printout and the command line come from the helpers of
lm_head_bigram.py (imported from next to this file): the text is every *.swift and *.md file of this repository (if
there are none, the standard library's *.py files, else a generated text), read by rank 0 and broadcast. The model:
an embedding table E (256 x dim), the same on every rank, gives hidden = E[previous byte]; the LM head's weight W
(256 x dim) and bias b (256) are split by vocabulary, rank r holding the rows [c0, c1) of an uneven split (it never
holds the others). Every rank draws the same batch (tensor parallelism: the ranks share the data and split the
model).

Each step is xent.mpi.linear_cross_entropy: the statistics of the rank's classes (xent.linear_partial_stats, the
logits formed blockwise and never stored), one Allreduce of the rows' statistics (48 bytes a row), the loss from the
merged statistics, the rank's gradients from them (xent.linear_grad_from_stats), and one Allreduce (MPI.SUM) of
grad_hidden (rows x dim elements). SGD with momentum then updates E (from the summed grad_hidden: the same update
on every rank) and the rank's own rows of W and b (their gradients never leave the rank). Rank 0 prints the falling
loss and what each Allreduce moved, and at the end compares the sharded loss with the single-process fused call on
the gathered weight.
"""

import pathlib
import sys

import numpy as np
from mpi4py import MPI

import xent
import xent.mpi

# the helpers of lm_head_bigram.py, next to this file (also when this file is loaded by path from elsewhere)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import lm_head_bigram as bigram  # noqa: E402

VOCAB = bigram.VOCAB
MAX_TEXT = 4 << 20  # what rank 0 broadcasts at most


def split(vocab, size):
    """Uneven bounds: rank r holds about (r + 1) / (1 + ... + size) of the vocabulary (at least one class)."""
    share = np.arange(1, size + 1)
    bounds = np.round(np.cumsum(share) / share.sum() * vocab).astype(int)
    bounds = np.maximum(bounds, np.arange(1, size + 1))
    return [0, *[int(c) for c in bounds]]


def train(
    comm,
    steps=40,
    batch=2048,
    dim=64,
    lr=2.0,
    momentum=0.9,
    dtype=np.float32,
    seed=0,
    log_every=10,
    num_threads=0,
    text=None,
):
    """Train the sharded bigram model; returns the loss (nats per byte) of every step, the same on every rank.
    ``log_every`` = 0: silent."""
    rank, size = comm.Get_rank(), comm.Get_size()
    dtype = np.dtype(dtype)

    def load():  # rank 0 reads the text, every rank gets it
        return comm.bcast(bigram.load_text(limit=MAX_TEXT) if rank == 0 else None, root=0)

    data, source = bigram.byte_data(text, load)
    bounds = split(VOCAB, size)
    c0, c1 = bounds[rank], bounds[rank + 1]

    # every rank draws the whole model from the same seed and keeps its rows of the head
    rng = np.random.default_rng(seed)
    E, W = bigram.init_params(rng, dim, dtype)
    W = np.ascontiguousarray(W[c0:c1])
    b = np.zeros(c1 - c0, dtype)
    velocity = [np.zeros_like(p) for p in (E, W, b)]
    gE = np.zeros_like(E)
    log = bigram.logger(log_every and rank == 0)
    item = dtype.itemsize
    stats_bytes = batch * xent.STATS_DTYPE.itemsize
    hidden_bytes = (batch * dim + 1) * item  # grad_hidden and the one element of the failure flag
    ring = 2 * (size - 1) / size if size > 1 else 0.0
    log(f"text: {len(data):,} bytes of {source}")
    log(
        f"{size} rank(s); vocabulary {VOCAB} split as {[f'[{a}, {z})' for a, z in zip(bounds, bounds[1:])]}; "
        f"dim {dim}, batch {batch}, {dtype}, SGD lr {lr} momentum {momentum}, xent {xent.__version__}"
    )
    log(
        f"each step: Allreduce of the statistics {stats_bytes:,} B ({batch} rows x 48 B), Allreduce of grad_hidden "
        f"{hidden_bytes:,} B ({batch} x {dim} x {item} B + 1 element); a ring moves {ring:.2f} x that per rank "
        f"({ring * (stats_bytes + hidden_bytes) / 1024:.1f} KiB); rank 0's logits ({batch} x {c1 - c0}) are "
        "never stored"
    )
    losses = []
    t0 = MPI.Wtime()
    for step in range(1, steps + 1):
        prev, nxt = bigram.sample_pairs(rng, data, batch)  # the same batch on every rank (the same generator state)
        hidden = E[prev]
        res = xent.mpi.linear_cross_entropy(
            comm, hidden, W, nxt, col_offset=c0, total_cols=VOCAB, bias_shard=b, grad=True, num_threads=num_threads
        )
        gE[:] = 0
        np.add.at(gE, prev, res.grad_hidden)
        for p, g, v in zip((E, W, b), (gE, res.grad_weight, res.grad_bias), velocity):
            v *= momentum
            v += g
            p -= lr * v
        losses.append(float(res.loss))
        bigram.log_step(log, step, steps, losses[-1], log_every)
    elapsed = MPI.Wtime() - t0

    # the single-process check: the whole head gathered on rank 0, the fused call on one more batch
    prev, nxt = bigram.sample_pairs(rng, data, batch)
    loss = xent.mpi.linear_cross_entropy(
        comm, E[prev], W, nxt, col_offset=c0, total_cols=VOCAB, bias_shard=b, grad=False
    )
    heads = comm.gather((W, b), root=0)
    if rank == 0:
        W_all = np.concatenate([w for w, _ in heads])
        b_all = np.concatenate([v for _, v in heads])
        whole = xent.linear_cross_entropy(E[prev], W_all, nxt, bias=b_all)
        ulp = abs(float(loss) - float(whole)) / float(np.spacing(np.abs(whole)))
        log(
            bigram.timing(steps, elapsed) + f"on a new batch the sharded loss {float(loss):.6f}, the single-process "
            f"fused call {float(whole):.6f} ({ulp:.0f} ulp)"
        )
    return losses


def main(argv=None):
    threads_help = "num_threads of every call on each rank (0: automatic)"
    p = bigram.arguments(__doc__, steps=40, batch=2048, lr=2.0, threads=1, threads_help=threads_help, log_every=5)
    return bigram.exit_status(train(MPI.COMM_WORLD, **bigram.train_options(p.parse_args(argv))))


if __name__ == "__main__":
    sys.exit(main())
