"""Two builds of libxent, one process, alternating calls: the speed ratio of a library change.

    python Benchmarks/linear_ab.py OLD.so NEW.so [--shapes 2048x256x128256,...] [--reps 3] [--threads 2]

For each shape (rows x dim x classes), float32, no bias, mean loss: xent.linear_cross_entropy with every
gradient (dH and dW into pre-allocated arrays, as linear_bench.py) and the loss alone, through the Python
package loaded once per library (each import binds its own libxent). The calls alternate OLD, NEW, OLD, NEW, ...
so that both see the same seconds of a shared machine; one warm-up round, then the best of --reps. Prints
the best times, NEW/OLD, and whether the two losses have the same bits.
"""

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(library):
    """The xent package bound to `library` (a fresh import: the package loads XENT_LIBRARY at import)."""
    os.environ["XENT_LIBRARY"] = os.path.abspath(library)
    for name in [n for n in sys.modules if n == "xent" or n.startswith("xent.")]:
        del sys.modules[name]
    import xent

    return xent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--shapes", default="2048x256x128256,4096x1024x32000,8192x768x50257,1024x2048x128256")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "python"))
    libs = [load(args.old), load(args.new)]
    for shape in args.shapes.split(","):
        rows, dim, classes = (int(v) for v in shape.split("x"))
        rng = np.random.default_rng(0)
        h = rng.standard_normal((rows, dim), dtype=np.float32)
        w = rng.standard_normal((classes, dim), dtype=np.float32) * np.float32(0.05)
        labels = rng.integers(0, classes, rows)
        out = {"grad_hidden": np.ones((rows, dim), np.float32), "grad_weight": np.ones((classes, dim), np.float32)}
        for grad in (True, False):
            best, losses = [float("inf")] * 2, [None] * 2
            kw = dict(grad=True, out=out) if grad else {}
            for rep in range(args.reps + 1):
                for i, xent in enumerate(libs):
                    t = time.perf_counter()
                    res = xent.linear_cross_entropy(h, w, labels, num_threads=args.threads, **kw)
                    t = time.perf_counter() - t
                    loss = res.loss if grad else res
                    if rep:
                        best[i] = min(best[i], t)
                    losses[i] = np.float32(loss)
            job = "loss+grads" if grad else "loss only "
            bits = "equal" if losses[0] == losses[1] else "DIFFER"
            print(
                f"{shape} {job}: old {best[0] * 1e3:.0f} ms, new {best[1] * 1e3:.0f} ms,"
                f" new/old {best[1] / best[0]:.3f}, loss bits {bits}",
                flush=True,
            )


if __name__ == "__main__":
    main()
