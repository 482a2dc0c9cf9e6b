"""xent.torch's own cost: the same call through xent.torch and through the NumPy API, alternating in one process.

For each shape (float32, 2 threads, tensors from PyTorch's allocator), 23 rounds of: the NumPy API's loss, then
xent.torch's loss under no_grad; the NumPy API's loss and gradient (into a preallocated array), then xent.torch's
forward + backward (``.grad = None`` first); the first two rounds are a warm-up. Prints and writes (``--out``) the
medians and xent.torch / NumPy API, the overhead the framework adds to the library call (the NumPy API is the C
call plus ~20 us; issue 17's target: within 1.1x). Run by Benchmarks/run.sh when PyTorch is installed.

    python Benchmarks/torch_overhead.py [--shapes 4096x32000,512x128256] [--out build/bench]
"""

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", default="4096x32000,512x128256")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--rounds", type=int, default=23)
    args = ap.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import numpy as np
    import torch

    import xent
    import xent.torch as xt

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    results = []
    for shape in args.shapes.split(","):
        rows, cols = (int(v) for v in shape.split("x"))
        x = torch.from_numpy(rng.uniform(-4, 4, (rows, cols)).astype(np.float32)).clone().requires_grad_(True)
        labels = torch.from_numpy((np.arange(rows, dtype=np.int64) * 7919) % cols)
        xn, ln = x.detach().numpy(), labels.numpy()
        g = np.zeros((rows, cols), np.float32)
        t = {"numpy_loss": [], "torch_loss": [], "numpy_lossgrad": [], "torch_lossgrad": []}
        for r in range(args.rounds):
            t0 = time.perf_counter()
            xent.cross_entropy(xn, ln, num_threads=2)
            t1 = time.perf_counter()
            with torch.no_grad():
                xt.cross_entropy(x, labels)
            t2 = time.perf_counter()
            xent.cross_entropy(xn, ln, num_threads=2, grad_out=g)
            t3 = time.perf_counter()
            x.grad = None
            xt.cross_entropy(x, labels).backward()
            t4 = time.perf_counter()
            if r >= 2:
                for k, v in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    t[k].append(v)
        ms = {k: 1e3 * sorted(v)[len(v) // 2] for k, v in t.items()}
        rec = {"rows": rows, "cols": cols, "ms": ms, "loss_ratio": ms["torch_loss"] / ms["numpy_loss"],
               "lossgrad_ratio": ms["torch_lossgrad"] / ms["numpy_lossgrad"]}  # fmt: skip
        results.append(rec)
        print(f"{rows}x{cols}: loss {ms['numpy_loss']:.2f} -> {ms['torch_loss']:.2f} ms ({rec['loss_ratio']:.3f}x), "
              f"loss+grad {ms['numpy_lossgrad']:.2f} -> {ms['torch_lossgrad']:.2f} ms ({rec['lossgrad_ratio']:.3f}x) "
              "[NumPy API -> xent.torch; target <= 1.1]")  # fmt: skip
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "torch_overhead.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M:%S %z"), "torch": torch.__version__, "results": results}, f)


if __name__ == "__main__":
    main()
