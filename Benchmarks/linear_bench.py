#!/usr/bin/env python3
"""The linear cross-entropy's table of `make bench`: Xent's fused LM head against the GEMMs it cannot avoid.

For each shape (rows, dim, classes), float32, no bias, mean loss, 2 threads:
  xent          xent.linear_cross_entropy(h, w, labels, grad=True, num_threads=2, out=...) (loss, dH, dW into
                pre-allocated, pre-touched arrays), and loss only (grad=False)
  GEMM floor    the three plain GEMMs of the same full shapes, logits = H·Wᵀ, dH = G·W, dW = Gᵀ·H (G is rows ×
                classes), through the same BLAS (the system libblas.so.3, cblas_sgemm through ctypes) on 2 BLAS
                threads; "one GEMM" is the first of them (the loss-only floor)
  torch         PyTorch unfused: F.linear + F.cross_entropy + backward (torch.set_num_threads(2)), alternating
                with PyTorch's own three GEMMs of the same shapes (torch.mm, MKL: shown in the progress line), and
  torch-fused   F.linear_cross_entropy(..., options=LinearCrossEntropyOptions()) + backward (PyTorch >= 2.11;
                options=None would be the unfused reference path), both only when torch imports
  xent-torch    the same training step through xent.torch.linear_cross_entropy (libxent's fused call behind
                PyTorch's autograd: the forward computes the gradients, the backward hands them over)
Xent and the GEMM floor run alternately in one process (floor, Xent loss+grads, Xent loss, repeated), so their
ratio comes from the same seconds of a shared machine; each PyTorch variant runs in its own process. Best of the
repetitions after one warm-up round. GFLOP/s counts 6·rows·dim·classes flops for loss+grads.

Peak memory "beyond inputs and outputs": before a call the process's peak RSS is reset (/proc/self/clear_refs)
and its RSS read; after it, VmHWM − that RSS − the bytes of outputs the call allocates (PyTorch's .grad tensors;
Xent writes into arrays made beforehand), in MiB: for PyTorch the largest over the timed calls; for libxent (xent,
xent-torch), which keeps its workspace between calls (resident before each timed call), one more call of each kind
after xent.release_workspace(), so that its workspace is counted. The rows×classes logits an unfused pipeline
stores are shown beside it.

The shapes run with the environment as it is (this project's machines set OPENBLAS_CORETYPE=Haswell and
OPENBLAS_L2_SIZE, which keep OpenBLAS on its AVX2 kernels), and Xent and the GEMM floor once more in the other
configuration: with both variables removed when they are set, else with OPENBLAS_CORETYPE=Haswell (the first
shape only, unless --alt all).

  python Benchmarks/linear_bench.py [--quick] [--scale S] [--shapes 4096x1024x32000,...] [--reps N]
                                    [--alt first|all|none] [--no-torch] [--no-torch-fused] [--out build/bench]

Writes <out>/linear.json and <out>/linear.png and prints the table as Markdown.
"""

import argparse
import ctypes
import json
import os
import platform
import subprocess
import sys
import time

from plotting import pyplot, save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARY = os.environ.get("XENT_LIBRARY", os.path.join(ROOT, "build", "lib", "libxent.so"))
SHAPES = [(4096, 1024, 32000), (1024, 2048, 128256), (8192, 768, 50257), (2048, 256, 128256)]
THREADS = 2
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
MIB = 2.0**20


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------------------
# Worker side: one implementation, one shape, in its own process.
# ---------------------------------------------------------------------------------------------------------


class PeakRSS:
    """Peak RSS of this process around one call: reset the high-water mark, then read it."""

    def __init__(self):
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.resettable = True
        except OSError:
            self.resettable = False

    @staticmethod
    def _status(key):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def start(self):
        if self.resettable:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        self.base = self._status("VmRSS")
        self.hwm0 = self._status("VmHWM")

    def extra(self):
        """Bytes above the RSS at start() (without a resettable mark: only a new all-time peak shows)."""
        hwm = self._status("VmHWM")
        if not self.resettable and hwm <= self.hwm0:
            return 0
        return max(0, hwm - self.base)


def inputs(rows, dim, classes):
    import numpy as np

    rng = np.random.default_rng(0)
    h = rng.standard_normal((rows, dim), dtype=np.float32)
    w = rng.standard_normal((classes, dim), dtype=np.float32)
    w *= np.float32(1.0 / dim**0.5)  # logits ~ N(0, 1)
    labels = rng.integers(0, classes, size=rows, dtype=np.int64)
    return h, w, labels


class Blas:
    """cblas_sgemm of the system libblas.so.3 (Debian's alternative: the library libxent.so links)."""

    ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

    def __init__(self, threads):
        self.lib = ctypes.CDLL("libblas.so.3")  # RTLD_LOCAL, as Python loads libxent.so
        f = self.lib.cblas_sgemm
        p, i, fl = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
        f.argtypes = [i, i, i, i, i, i, fl, p, i, p, i, fl, p, i]
        f.restype = None
        self.sgemm = f
        self.set_threads = getattr(self.lib, "openblas_set_num_threads", None)
        self.threads = threads
        try:
            cfg = self.lib.openblas_get_config
            cfg.restype = ctypes.c_char_p
            core = self.lib.openblas_get_corename
            core.restype = ctypes.c_char_p
            self.name = f"{cfg().decode().strip()}, core {core().decode()}"
        except AttributeError:
            self.name = "libblas.so.3 (not OpenBLAS)"

    def gemm(self, ta, tb, m, n, k, a, lda, b, ldb, c, ldc):
        t = (self.NO_TRANS, self.TRANS)
        self.sgemm(self.ROW_MAJOR, t[ta], t[tb], m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, 0.0,
                   c.ctypes.data, ldc)

    def floor(self, h, w, g, dh, dw):
        """The three GEMMs (logits into g, then g used as the logits' gradient); seconds of each."""
        if self.set_threads:
            self.set_threads(self.threads)  # a Xent call in between may have changed nothing, but be sure
        rows, dim = h.shape
        classes = w.shape[0]
        t0 = time.perf_counter()
        self.gemm(0, 1, rows, classes, dim, h, dim, w, dim, g, classes)  # logits = H·Wᵀ
        t1 = time.perf_counter()
        self.gemm(0, 0, rows, dim, classes, g, classes, w, dim, dh, dim)  # dH = G·W
        t2 = time.perf_counter()
        self.gemm(1, 0, classes, dim, rows, g, classes, h, dim, dw, dim)  # dW = Gᵀ·H
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2


def worker(args):
    try:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.threads]))
    except (AttributeError, OSError):
        pass
    import numpy as np

    rows, dim, classes = args.rows, args.dim, args.classes
    h, w, labels = inputs(rows, dim, classes)
    peak = PeakRSS()
    rec = {"impl": args.peer, "rows": rows, "dim": dim, "classes": classes, "threads": args.threads,
           "blas_env": {k: os.environ.get(k) for k in BLAS_VARS}, "mem_resettable": peak.resettable}
    times = {}
    mem = {}

    def timed(key, fn, out_bytes=0):
        peak.start()
        t0 = time.perf_counter()
        v = fn()
        dt = time.perf_counter() - t0
        extra = peak.extra() - out_bytes
        return dt, v, extra

    def cold_extra(xent, fn, out_bytes=0):
        """The memory of a libxent call that allocates its workspace (the kept one released first)."""
        xent.release_workspace()
        return timed("cold", fn, out_bytes)[2]

    if args.peer == "xent":
        os.environ.setdefault("XENT_LIBRARY", LIBRARY)
        sys.path.insert(0, os.path.join(ROOT, "python"))
        import xent

        blas = Blas(args.threads)
        rec["blas"] = blas.name
        g = np.ones((rows, classes), np.float32)
        dh = np.ones((rows, dim), np.float32)
        dw = np.ones((classes, dim), np.float32)
        out = {"grad_hidden": np.ones((rows, dim), np.float32), "grad_weight": np.ones((classes, dim), np.float32)}
        lg = lambda: xent.linear_cross_entropy(h, w, labels, grad=True, num_threads=args.threads, out=out).loss
        lo = lambda: xent.linear_cross_entropy(h, w, labels, num_threads=args.threads)
        for r in range(args.warmup + args.reps):
            t = blas.floor(h, w, g, dh, dw)
            dt_lg, loss, _ = timed("lossgrad", lg)
            dt_lo, loss_lo, _ = timed("loss", lo)
            if r < args.warmup:
                continue
            for k, v in (("gemm_logits", t[0]), ("gemm_dh", t[1]), ("gemm_dw", t[2]), ("gemm_floor", sum(t)),
                         ("xent_lossgrad", dt_lg), ("xent_loss", dt_lo)):
                times.setdefault(k, []).append(v)
        mem["xent_lossgrad"] = cold_extra(xent, lg)
        mem["xent_loss"] = cold_extra(xent, lo)
        rec["loss"] = float(loss)
        rec["loss_only_loss"] = float(loss_lo)
        # Xent's gradients against the floor's from the same logits would need the softmax; the loss suffices
        # as a check that both sides computed the same problem (compared with PyTorch's loss by the driver).
    elif args.peer in ("torch", "torch-fused", "xent-torch"):
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(args.threads)
        rec["torch"] = torch.__version__
        ht = torch.from_numpy(h).requires_grad_(True)
        wt = torch.from_numpy(w).requires_grad_(True)
        lt = torch.from_numpy(labels)
        # The .grad tensors the step allocates are outputs, not extra memory; xent.torch takes them from its cache
        # of released gradients, resident before the call (the previous round's), so nothing is new there.
        out_bytes = 0 if args.peer == "xent-torch" else 4 * (rows * dim + classes * dim)
        if args.peer == "torch":
            def loss_fn():
                return F.cross_entropy(F.linear(ht, wt), lt)
        elif args.peer == "xent-torch":  # the same step through xent.torch (libxent behind autograd)
            os.environ.setdefault("XENT_LIBRARY", LIBRARY)
            sys.path.insert(0, os.path.join(ROOT, "python"))
            import xent.torch

            def loss_fn():
                return xent.torch.linear_cross_entropy(ht, wt, lt)
        else:
            if not hasattr(F, "linear_cross_entropy"):
                print(json.dumps(dict(rec, unavailable=True)))
                return
            opts = torch.nn.LinearCrossEntropyOptions()

            def loss_fn():
                return F.linear_cross_entropy(ht, wt, lt, options=opts)

        def step():
            loss = loss_fn()
            loss.backward()
            return loss.item()

        if args.peer == "torch":  # PyTorch's own GEMMs of the same shapes (MKL), alternating with the step
            o = torch.empty(rows, classes)
            dh = torch.empty(rows, dim)
            dw = torch.empty(classes, dim)

            def torch_floor():
                with torch.no_grad():
                    t0 = time.perf_counter()
                    torch.mm(ht, wt.t(), out=o)
                    t1 = time.perf_counter()
                    torch.mm(o, wt, out=dh)
                    torch.mm(o.t(), ht, out=dw)
                    t2 = time.perf_counter()
                return t1 - t0, t2 - t0

        for r in range(args.warmup + args.reps):
            if args.peer == "torch":
                tf = torch_floor()
            ht.grad = None  # what optimizer.zero_grad() does by default
            wt.grad = None
            dt, loss, m = timed("lossgrad", step, out_bytes)
            if r < args.warmup:
                continue
            if args.peer == "torch":
                times.setdefault("torch_gemm_logits", []).append(tf[0])
                times.setdefault("torch_gemm_floor", []).append(tf[1])
            times.setdefault(args.peer + "_lossgrad", []).append(dt)
            mem[args.peer + "_lossgrad"] = max(mem.get(args.peer + "_lossgrad", 0), m)
        if args.peer == "xent-torch":
            ht.grad = None
            wt.grad = None
            mem[args.peer + "_lossgrad"] = cold_extra(xent, step, out_bytes)
        rec["loss"] = float(loss)
    else:
        raise SystemExit("unknown implementation " + args.peer)
    rec["ms"] = {k: 1e3 * min(v) for k, v in times.items()}
    rec["all_ms"] = {k: [round(1e3 * x, 2) for x in v] for k, v in times.items()}
    rec["extra_mib"] = {k: v / MIB for k, v in mem.items()}
    print(json.dumps(rec), flush=True)


# ---------------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------------


def run_worker(peer, shape, threads, warmup, reps, env=None):
    rows, dim, classes = shape
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", peer, "--rows", str(rows), "--dim", str(dim),
           "--classes", str(classes), "--threads", str(threads), "--warmup", str(warmup), "--reps", str(reps)]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        log(f"    ! {peer} failed ({p.returncode}): {p.stderr.strip()[-800:]}")
        return None
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            rec["wall_s"] = time.time() - t0
            return None if rec.get("unavailable") else rec
    log(f"    ! {peer}: no result: {p.stderr.strip()[-800:]}")
    return None


def alt_env():
    """The other OpenBLAS configuration: (label, environment)."""
    env = dict(os.environ)
    if any(k in env for k in BLAS_VARS):
        for k in BLAS_VARS:
            env.pop(k, None)
        return "without OPENBLAS_CORETYPE/L2_SIZE", env
    env["OPENBLAS_CORETYPE"] = "Haswell"
    return "with OPENBLAS_CORETYPE=Haswell", env


def env_label():
    set_vars = [f"{k}={os.environ[k]}" for k in BLAS_VARS if k in os.environ]
    return ", ".join(set_vars) if set_vars else "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"


def torch_version():
    p = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                       text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def fmt(x, digits=3):
    """A number to `digits` significant figures, no exponent for the ranges here."""
    if x is None:
        return ""
    if x == 0:
        return "0"
    from math import floor, log10

    d = max(0, digits - 1 - int(floor(log10(abs(x)))))
    return f"{x:.{d}f}"


def shape_name(s):
    return f"{s[0]}×{s[1]}×{s[2]}"


def paired(x, num, den):
    """The median over rounds of num/den from the same round (Xent and the floor alternate): steadier than the
    ratio of the two bests when the machine's load changes between rounds."""
    a = x["all_ms"]
    r = sorted(p / q for p, q in zip(a[num], a[den]))
    return r[len(r) // 2] if len(r) % 2 else 0.5 * (r[len(r) // 2 - 1] + r[len(r) // 2])


def row_for(shape, x, t, tf, xt=None, label=None):
    rows, dim, classes = shape
    flops = 6.0 * rows * dim * classes
    ms = x["ms"]
    lg, lo, fl, one = ms["xent_lossgrad"], ms["xent_loss"], ms["gemm_floor"], ms["gemm_logits"]
    cells = [
        shape_name(shape) + (f" ({label})" if label else ""),
        fmt(lg), fmt(flops / lg / 1e6), fmt(fl), f"{lg / fl:.2f} ({paired(x, 'xent_lossgrad', 'gemm_floor'):.2f})",
        fmt(lo), f"{lo / one:.2f} ({paired(x, 'xent_loss', 'gemm_logits'):.2f})",
        f"{fmt(x['extra_mib']['xent_lossgrad'])} / {fmt(x['extra_mib']['xent_loss'])}",
        fmt(4.0 * rows * classes / MIB),
    ]
    # xent.torch's step, and each PyTorch path's time over it (> 1: xent.torch is faster)
    xm = xt["ms"]["xent-torch_lossgrad"] if xt and label is None else None
    cells += [fmt(xm), fmt(xt["extra_mib"]["xent-torch_lossgrad"]) if xm else ""]
    for peer, r in (("torch", t), ("torch-fused", tf)):
        if r and label is None:
            pm = r["ms"][peer + "_lossgrad"]
            cells += [fmt(pm), fmt(r["extra_mib"][peer + "_lossgrad"]), f"{pm / lg:.2f}",
                      f"{pm / xm:.2f}" if xm else ""]
        else:
            cells += ["", "", "", ""]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| rows×dim×classes | Xent loss+grads ms | GFLOP/s | GEMM floor ms | × floor (paired) | Xent loss ms "
    "| × 1 GEMM (paired) "
    "| Xent extra MiB (loss+grads / loss) | logits MiB | xent.torch ms | xent.torch extra MiB "
    "| PyTorch ms | PyTorch extra MiB "
    "| Xent speed-up | xent.torch speed-up | PyTorch fused ms | fused extra MiB | Xent speed-up "
    "| xent.torch speed-up |\n|" + "---|" * 19
)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--quick", action="store_true", help="rows and classes / 8 (--scale 8), 2 repetitions")
    ap.add_argument("--scale", type=int, default=None, help="divide rows and classes by this (dim is kept)")
    ap.add_argument("--shapes", help="e.g. 4096x1024x32000,2048x256x128256 (rows x dim x classes)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions after one warm-up (default 3)")
    ap.add_argument("--alt", choices=("first", "all", "none"), default="first",
                    help="which shapes also run in the other OpenBLAS configuration")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even when it imports")
    ap.add_argument("--no-torch-fused", action="store_true", help="skip F.linear_cross_entropy (slow at small dim)")
    ap.add_argument("--worker", dest="peer", help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dim", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--classes", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=THREADS, help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.peer:
        worker(args)
        return
    scale = args.scale or (8 if args.quick else 1)
    reps = args.reps or (2 if args.quick else 3)
    shapes = SHAPES
    if args.shapes:
        shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    shapes = [(max(1, r // scale), d, max(1, c // scale)) for r, d, c in shapes]
    os.makedirs(args.out, exist_ok=True)
    started = time.time()
    tv = None if args.no_torch else torch_version()
    alt_label, alt = alt_env()
    log(f"Linear cross-entropy: float32, {THREADS} threads, no bias, mean; best of {reps} after 1 warm-up; "
        f"{env_label()}; PyTorch "
        + (tv or ("skipped (--no-torch)" if args.no_torch else "not installed (make bench PEERS=1 installs it)"))
        + (f"; shapes scaled down by {scale} (rows, classes)" if scale > 1 else ""))

    results = []
    for k, shape in enumerate(shapes):
        entry = {"shape": shape}
        log(f"[{shape_name(shape)}] Xent and the GEMM floor, alternating")
        entry["xent"] = run_worker("xent", shape, THREADS, 1, reps)
        if entry["xent"]:
            x = entry["xent"]
            log(f"    loss+grads {fmt(x['ms']['xent_lossgrad'])} ms, GEMM floor {fmt(x['ms']['gemm_floor'])} ms "
                f"(logits {fmt(x['ms']['gemm_logits'])}, dH {fmt(x['ms']['gemm_dh'])}, dW {fmt(x['ms']['gemm_dw'])}); "
                f"loss {fmt(x['ms']['xent_loss'])} ms; extra {fmt(x['extra_mib']['xent_lossgrad'])} MiB "
                f"[{x.get('blas', '')}] ({x['wall_s']:.0f} s)")
        for peer in (("xent-torch", "torch") + (() if args.no_torch_fused else ("torch-fused",))) if tv else ():
            log(f"[{shape_name(shape)}] {peer}")
            r = run_worker(peer, shape, THREADS, 1, reps)
            entry[peer] = r
            if r:
                if "torch_gemm_floor" in r["ms"]:
                    log(f"    PyTorch's own three GEMMs (torch.mm, MKL) {fmt(r['ms']['torch_gemm_floor'])} ms "
                        f"(logits {fmt(r['ms']['torch_gemm_logits'])})")
                log(f"    {fmt(r['ms'][peer + '_lossgrad'])} ms, extra {fmt(r['extra_mib'][peer + '_lossgrad'])} MiB, "
                    f"loss {r['loss']:.6f} (Xent {entry['xent']['loss'] if entry['xent'] else float('nan'):.6f}) "
                    f"({r['wall_s']:.0f} s)")
        if args.alt == "all" or (args.alt == "first" and k == 0):
            log(f"[{shape_name(shape)}] Xent and the GEMM floor, {alt_label}")
            entry["xent_alt"] = run_worker("xent", shape, THREADS, 1, reps, env=alt)
            if entry["xent_alt"]:
                x = entry["xent_alt"]
                log(f"    loss+grads {fmt(x['ms']['xent_lossgrad'])} ms, GEMM floor {fmt(x['ms']['gemm_floor'])} ms, "
                    f"loss {fmt(x['ms']['xent_loss'])} ms [{x.get('blas', '')}] ({x['wall_s']:.0f} s)")
        results.append(entry)

    elapsed = time.time() - started
    lines = [HEADER]
    for e in results:
        if e.get("xent"):
            lines.append(row_for(e["shape"], e["xent"], e.get("torch"), e.get("torch-fused"), e.get("xent-torch")))
    for e in results:
        if e.get("xent_alt"):
            lines.append(row_for(e["shape"], e["xent_alt"], None, None, None, alt_label))
    log("\n" + "=" * 104)
    log(f"Linear cross-entropy (issue 16), float32, {THREADS} threads, best of {reps}, ms per call; {env_label()}.")
    log("GFLOP/s = 6·rows·dim·classes / time; × floor = Xent / (logits + dH + dW GEMMs, same BLAS, same run);")
    log("× 1 GEMM = Xent loss only / the logits GEMM (ratios of the bests; in parentheses the median of the ratios")
    log("within each round); extra MiB = peak RSS beyond inputs and outputs; speed-up = PyTorch / Xent (loss + both")
    log("gradients).")
    for line in lines:
        log(line)
    log("Targets (issue 16), ratios from this run:")
    for e in results:
        x = e.get("xent")
        if not x:
            continue
        ms = x["ms"]
        plg, plo = paired(x, "xent_lossgrad", "gemm_floor"), paired(x, "xent_loss", "gemm_logits")
        parts = [
            f"loss+grads {ms['xent_lossgrad'] / ms['gemm_floor']:.2f}× the GEMM floor (paired {plg:.2f}) "
            f"[target ≤ 1.15: {'met' if ms['xent_lossgrad'] <= 1.15 * ms['gemm_floor'] else 'NOT met'}]",
            f"loss {ms['xent_loss'] / ms['gemm_logits']:.2f}× one GEMM (paired {plo:.2f}) [≤ 1.10: "
            f"{'met' if ms['xent_loss'] <= 1.10 * ms['gemm_logits'] else 'NOT met'}]",
            f"extra {fmt(x['extra_mib']['xent_lossgrad'])} MiB [≤ 256 + BLAS buffers]",
        ]
        want = 2.0 if e["shape"][1] == min(r["shape"][1] for r in results) else 1.0  # >= 2x on the small dim
        xt = e.get("xent-torch")
        for peer in ("torch", "torch-fused"):
            r = e.get(peer)
            if r:
                sp = r["ms"][peer + "_lossgrad"] / ms["xent_lossgrad"]
                parts.append(f"{sp:.2f}× {peer} [target ≥ {want:.0f}×: {'met' if sp >= want else 'NOT met'}]")
                if xt:  # issue 17: xent.torch faster than both PyTorch paths
                    sx = r["ms"][peer + "_lossgrad"] / xt["ms"]["xent-torch_lossgrad"]
                    parts.append(f"xent.torch {sx:.2f}× {peer} [> 1: {'met' if sx > 1 else 'NOT met'}]")
        log(f"  {shape_name(e['shape'])}: " + "; ".join(parts))
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "blas_env": env_label(),
        "alt_env": alt_label,
        "torch": tv,
        "scale": scale,
        "reps": reps,
        "elapsed_s": elapsed,
        "results": results,
        "markdown": "\n".join(lines),
    }
    with open(os.path.join(args.out, "linear.json"), "w") as f:
        json.dump(doc, f, indent=1)
    plot(results, os.path.join(args.out, "linear.png"), reps)
    log(f"\nresults: {os.path.join(args.out, 'linear.json')}  plot: {os.path.join(args.out, 'linear.png')}  "
        f"({elapsed / 60:.1f} min)")


def plot(results, path, reps):
    plt = pyplot(log)
    if plt is None:
        return
    series = [
        ("Xent loss+grads", lambda e: e.get("xent") and e["xent"]["ms"]["xent_lossgrad"]),
        ("GEMM floor (3 GEMMs)", lambda e: e.get("xent") and e["xent"]["ms"]["gemm_floor"]),
        ("Xent loss only", lambda e: e.get("xent") and e["xent"]["ms"]["xent_loss"]),
        ("one GEMM (logits)", lambda e: e.get("xent") and e["xent"]["ms"]["gemm_logits"]),
        ("xent.torch step", lambda e: e.get("xent-torch") and e["xent-torch"]["ms"]["xent-torch_lossgrad"]),
        ("PyTorch unfused", lambda e: e.get("torch") and e["torch"]["ms"]["torch_lossgrad"]),
        ("PyTorch linear_cross_entropy",
         lambda e: e.get("torch-fused") and e["torch-fused"]["ms"]["torch-fused_lossgrad"]),
    ]
    series = [(n, f) for n, f in series if any(f(e) for e in results)]
    fig, ax = plt.subplots(figsize=(11, 5.5))
    width = 0.8 / max(1, len(series))
    for k, (name, f) in enumerate(series):
        xs, ys = [], []
        for c, e in enumerate(results):
            v = f(e)
            if v:
                xs.append(c + (k - (len(series) - 1) / 2) * width)
                ys.append(v)
        ax.bar(xs, ys, width, label=name)
    ax.set_yscale("log")
    ax.set_ylabel("ms per call (log scale; lower is faster)")
    ax.set_xticks(range(len(results)))
    ax.set_xticklabels([shape_name(e["shape"]).replace("×", "×\n", 1) for e in results], fontsize=9)
    ax.set_xlabel("rows × dim × classes")
    ax.set_title(f"Linear cross-entropy, float32, 2 threads, best of {reps} ({env_label()})", fontsize=10)
    save(plt, fig, ax, path)


if __name__ == "__main__":
    main()
