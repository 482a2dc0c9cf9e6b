"""Train a byte-level bigram language model whose LM head runs through xent.linear_cross_entropy:

    python lm_head_bigram.py [--steps 300] [--batch 4096] [--dim 64] [--micro-batches 2] [--dtype float32]

The text is this repository's own sources (every *.swift and *.md file under it, concatenated; if there are none,
the Python standard library's sources, else a generated text). The model: an embedding table E (256 x dim) gives
hidden = E[previous byte]; the LM head W (256 x dim) and b (256) give the logits hidden @ W.T + b of the next byte.
Each step samples a batch of byte pairs, splits it into micro-batches, and asks the fused call for the loss and the
gradients of hidden, W and b: the micro-batches' W and b gradients are added into one pair of arrays
(out=..., accumulate=True), E's gradient is scattered from grad_hidden with np.add.at, and Adam (in NumPy) updates
E, W and b. The logits (batch x 256) never exist in this program; the printout says what they would cost, here and
for a Llama-3-sized vocabulary of 128256 classes.

linear_mpi.py (the same model with the head split across MPI ranks) imports this file's text, model, batch,
printout and command-line helpers.
"""

import argparse
import os
import pathlib
import sys
import time

import numpy as np

import xent

VOCAB = 256
BIG_VOCAB = 128256  # Llama 3's vocabulary, for the memory comparison
MAX_TEXT = 8 << 20


def _files_text(paths, limit=MAX_TEXT):
    parts, size = [], 0
    for p in paths:
        try:
            data = p.read_bytes()
        except OSError:
            continue
        parts.append(data)
        size += len(data)
        if size >= limit:
            break
    return b"\n".join(parts)[:limit]


def _source_files(root, suffixes):
    """Files under ``root`` with these suffixes, sorted, skipping hidden folders and build outputs."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("build", "node_modules"))
        found += [pathlib.Path(folder, f) for f in sorted(files) if f.endswith(suffixes)]
    return found


def load_text(min_bytes=20000, limit=MAX_TEXT):
    """(bytes, description): the repository's *.swift and *.md files, else the standard library's *.py files,
    else a generated text; at most ``limit`` bytes."""
    root = pathlib.Path(__file__).resolve().parents[2]
    if root.is_dir():
        text = _files_text(_source_files(root, (".swift", ".md")), limit)
        if len(text) >= min_bytes:
            return text, f"the *.swift and *.md files under {root}"
    stdlib = pathlib.Path(os.__file__).parent
    text = _files_text(sorted(stdlib.glob("*.py")), limit)
    if len(text) >= min_bytes:
        return text, f"the *.py files of {stdlib}"
    rng = np.random.default_rng(0)
    words = [b"the", b"softmax", b"cross", b"entropy", b"of", b"a", b"linear", b"head", b"loss", b"gradient"]
    return b" ".join(words[i] for i in rng.integers(0, len(words), size=50000)), "a generated text"


def byte_data(text, load=load_text):
    """(the bytes as int64, where they come from): ``text`` when given, else what ``load()`` returns."""
    text, source = (text, "the given text") if text is not None else load()
    return np.frombuffer(text, np.uint8).astype(np.int64), source


def init_params(rng, dim, dtype):
    """The embedding table E and the LM head's weight W, both (VOCAB, dim), drawn from ``rng`` in that order."""
    E = (rng.standard_normal((VOCAB, dim)) * 0.1).astype(dtype)
    W = (rng.standard_normal((VOCAB, dim)) * 0.1 / np.sqrt(dim)).astype(dtype)
    return E, W


def sample_pairs(rng, data, batch):
    """``batch`` random (previous byte, next byte) pairs of ``data``: two (batch,) arrays."""
    pos = rng.integers(1, len(data), size=batch)
    return data[pos - 1], data[pos]


def logger(enabled):
    """A print (flushed) that prints only when ``enabled``."""

    def log(*args):
        if enabled:
            print(*args, flush=True)

    return log


def log_step(log, step, steps, loss, log_every):
    """The progress line of step 1, of every ``log_every``-th step and of the last (``log_every`` = 0: none)."""
    if log_every and (step == 1 or step % log_every == 0 or step == steps):
        log(f"step {step:4d}  loss {loss:.4f}  perplexity {np.exp(loss):7.2f}")


def timing(steps, elapsed):
    """The start of the closing line: the steps and the time they took."""
    return f"done: {steps} steps in {elapsed:.2f} s ({1e3 * elapsed / max(steps, 1):.1f} ms/step); "


def bigram_entropy(data):
    """The cross-entropy (nats per byte) of the best bigram model of ``data`` on ``data`` itself: the floor the
    trained model approaches on its training text."""
    counts = np.zeros((VOCAB, VOCAB))
    np.add.at(counts, (data[:-1], data[1:]), 1)
    rows = counts.sum(axis=1, keepdims=True)
    p = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    with np.errstate(divide="ignore"):
        logp = np.where(counts > 0, np.log(np.where(p > 0, p, 1)), 0)
    return float(-(counts * logp).sum() / counts.sum())


class Adam:
    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, beta1, beta2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def train(
    steps=300,
    batch=4096,
    dim=64,
    lr=0.02,
    micro_batches=2,
    dtype=np.float32,
    seed=0,
    log_every=25,
    num_threads=0,
    text=None,
):
    """Train the bigram model; returns the training loss (nats per byte) of every step. ``log_every`` = 0: silent."""
    dtype = np.dtype(dtype)
    data, source = byte_data(text)
    split = int(len(data) * 0.9)
    train_data, val_data = data[:split], data[split:]
    rng = np.random.default_rng(seed)
    E, W = init_params(rng, dim, dtype)
    b = np.zeros(VOCAB, dtype)
    opt = Adam([E, W, b], lr)
    gE = np.zeros_like(E)
    # the W and b gradients of all micro-batches of a step are added into these (accumulate=True)
    out = {"grad_weight": np.zeros_like(W), "grad_bias": np.zeros_like(b)}
    log = logger(log_every)
    item = dtype.itemsize
    log(f"text: {len(data):,} bytes of {source}; bigram floor on the training text {bigram_entropy(train_data):.3f}")
    log(
        f"logits this batch would take: {batch} x {VOCAB} x {item} B = {batch * VOCAB * item / 2**20:.1f} MiB; "
        f"with a {BIG_VOCAB}-class vocabulary: {batch * BIG_VOCAB * item / 2**30:.2f} GiB "
        f"(the fused call holds at most {xent._lib.LINEAR_WORKSPACE_DEFAULT >> 20} MiB of row blocks)"
    )
    log(f"dim {dim}, batch {batch} in {micro_batches} micro-batch(es), Adam lr {lr}, {dtype}, xent {xent.__version__}")
    losses = []
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        prev, nxt = sample_pairs(rng, train_data, batch)
        gE[:] = 0
        total = 0.0
        for k, part in enumerate(np.array_split(np.arange(batch), micro_batches)):
            hidden = E[prev[part]]
            # "sum" with grad_scale 1/batch: every micro-batch's gradient is its share of the batch mean's
            res = xent.linear_cross_entropy(
                hidden,
                W,
                nxt[part],
                bias=b,
                reduction="sum",
                grad_scale=1.0 / batch,
                grad=True,
                out=out,
                accumulate=k > 0,  # the first micro-batch overwrites, the others add
                num_threads=num_threads,
            )
            total += float(res.loss)
            np.add.at(gE, prev[part], res.grad_hidden)
        opt.step([gE, out["grad_weight"], out["grad_bias"]])
        loss = total / batch
        losses.append(loss)
        log_step(log, step, steps, loss, log_every)
    elapsed = time.perf_counter() - t0
    # held-out bytes: the loss alone (one GEMM per row block, no gradient)
    vpos = np.arange(1, len(val_data))
    val = xent.linear_cross_entropy(E[val_data[vpos - 1]], W, val_data[vpos], bias=b, num_threads=num_threads)
    log(
        timing(steps, elapsed) + f"held-out loss {float(val):.4f} (perplexity {np.exp(float(val)):.2f}) on "
        f"{len(vpos):,} bytes"
    )
    return losses


def arguments(doc, *, steps, batch, lr, threads, threads_help, log_every, micro_batches=None):
    """The command line of a bigram example (``doc``: its docstring), with these defaults; ``--micro-batches`` only
    when ``micro_batches`` is given."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--steps", type=int, default=steps)
    p.add_argument("--batch", type=int, default=batch)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--lr", type=float, default=lr)
    if micro_batches is not None:
        p.add_argument("--micro-batches", type=int, default=micro_batches)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=threads, help=threads_help)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=log_every)
    return p


def train_options(a):
    """The keywords of ``train`` that the parsed command line ``a`` of :func:`arguments` gives."""
    return dict(
        steps=a.steps,
        batch=a.batch,
        dim=a.dim,
        lr=a.lr,
        dtype=a.dtype,
        seed=a.seed,
        log_every=a.log_every,
        num_threads=a.threads,
    )


def exit_status(losses):
    """0 when the training lowered the loss, else 1."""
    return 0 if losses[-1] < losses[0] else 1


def main(argv=None):
    threads_help = "num_threads of every call (0: the library chooses)"
    p = arguments(
        __doc__, steps=300, batch=4096, lr=0.02, micro_batches=2, threads=0, threads_help=threads_help, log_every=25
    )
    a = p.parse_args(argv)
    return exit_status(train(micro_batches=a.micro_batches, **train_options(a)))


if __name__ == "__main__":
    sys.exit(main())
