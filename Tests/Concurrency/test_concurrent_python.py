"""8 Python threads calling the xent package concurrently give results bit-identical to sequential calls (issue 5).

ctypes releases the GIL during each library call, so the calls really overlap. Every task (function, dtype,
num_threads 0/1/2, a batch input or long rows >= 65536 classes, options) is run once sequentially for the expected
result; then 8 threads run all tasks several times -- staggered (different functions at the same moment) and in
lockstep behind a barrier (the same call in every thread) -- on shared read-only inputs, each with its own
outputs. Interleaved failing calls (a label out of range at a row chosen by the thread) must report that thread's
row in XentError.detail, which the package reads from the thread-local xent_last_error_message().

Run: .build-venv/bin/python -m pytest Tests/Concurrency/test_concurrent_python.py  (make test-concurrency)
"""
import os
import threading

import numpy as np
import pytest

import xent

N_THREADS = 8
ITERATIONS = int(os.environ.get("XENT_CONCURRENCY_ITERATIONS", "4"))


def _inputs(dtype):
    rng = np.random.default_rng(2024)
    batch = rng.uniform(-6, 6, size=(64, 1003)).astype(dtype)[:, :1000]   # row-strided view, never copied
    batch_labels = rng.integers(0, 1000, size=64)
    batch_labels[[5, 17]] = -100
    batch_targets = rng.uniform(0, 2e-3, size=(64, 1000)).astype(dtype)
    long = rng.uniform(-6, 6, size=(2, 70000)).astype(dtype)
    long[0, 0] = -np.inf
    long_labels = np.array([3, 69999])
    long_targets = rng.uniform(0, 3e-5, size=(2, 70000)).astype(dtype)
    for a in (batch, batch_targets, long, long_targets):
        a.flags.writeable = False                                           # shared, read-only
    return [(batch, batch_labels, batch_targets), (long, long_labels, long_targets)]


def _tasks():
    tasks = []
    for dtype in (np.float32, np.float64):
        for k, (x, labels, targets) in enumerate(_inputs(dtype)):
            for nt in (0, 1, 2):
                red = ("none", "sum", "mean")[(len(tasks) // 7) % 3]
                eps = 0.1 if nt == 1 else 0.0

                def ce(x=x, labels=labels, nt=nt, red=red, eps=eps):
                    return tuple(xent.cross_entropy(x, labels, reduction=red, label_smoothing=eps, grad_scale=0.5,
                                                    grad=True, return_lse=True, bias_grad=True, num_threads=nt))

                def ce_plain(x=x, labels=labels, nt=nt):
                    return xent.cross_entropy(x, labels, reduction="none", num_threads=nt)

                def ce_inplace(x=x, labels=labels, nt=nt, red=red):
                    own = np.array(x)                                       # private copy, overwritten
                    r = xent.cross_entropy(own, labels, reduction=red, grad="inplace", num_threads=nt)
                    return (r.loss, own)

                def soft(x=x, targets=targets, nt=nt, red=red, eps=eps):
                    return tuple(xent.soft_cross_entropy(x, targets, reduction=red, label_smoothing=eps, grad=True,
                                                         return_lse=True, bias_grad=True, num_threads=nt))

                def softmax(x=x):
                    return xent.softmax(x)

                def log_softmax(x=x):
                    return xent.log_softmax(x)

                def logsumexp(x=x):
                    return xent.logsumexp(x)

                for f in (ce, ce_plain, ce_inplace, soft, softmax, log_softmax, logsumexp):
                    tasks.append((f"{f.__name__} {np.dtype(dtype).name} input {k} num_threads {nt}", f))
    return tasks


def _bits(result):
    """The result as raw bytes per component (bit-identical comparison, NaN included)."""
    if isinstance(result, tuple):
        return tuple(_bits(r) for r in result)
    if result is None:
        return None
    a = np.asarray(result)
    return (a.dtype.str, a.shape, a.tobytes())


def _failing_call(tid, step, x, labels):
    rows, cols = x.shape
    row = (tid * 5 + step * 3) % rows
    bad = cols + tid if step % 2 else -1 - tid
    own = labels.copy()
    own[row] = bad
    with pytest.raises(xent.XentError) as info:
        xent.cross_entropy(x, own, reduction="none")
    return info.value, f"label {bad} at row {row} is outside [0, {cols})"


def test_eight_threads_bit_identical_to_sequential():
    tasks = _tasks()
    expected = [_bits(f()) for _, f in tasks]
    x32, labels32, _ = _inputs(np.float32)[0]
    barrier = threading.Barrier(N_THREADS)
    errors = []
    lock = threading.Lock()
    counts = {"calls": 0, "failing": 0}

    def worker(tid):
        calls = failing = 0
        try:
            for it in range(ITERATIONS):
                for phase in (0, 1):
                    for j in range(len(tasks)):
                        k = (j + 11 * tid + it) % len(tasks) if phase == 0 else j
                        if phase == 1:
                            barrier.wait()
                        name, f = tasks[k]
                        got = _bits(f())
                        calls += 1
                        if got != expected[k]:
                            with lock:
                                errors.append(f"thread {tid} iteration {it} {'lockstep' if phase else 'staggered'}: "
                                              f"{name} differs from the sequential result")
                        if (j + tid) % 9 == 0:
                            err, want = _failing_call(tid, it * len(tasks) + j, x32, labels32)
                            failing += 1
                            if err.status != xent.ERR_LABEL_OUT_OF_RANGE or err.detail != want:
                                with lock:
                                    errors.append(f"thread {tid}: error status {err.status} detail "
                                                  f"{err.detail!r}, expected {want!r}")
        except BaseException as e:  # surface anything raised in a thread
            with lock:
                errors.append(f"thread {tid}: {type(e).__name__}: {e}")
            barrier.abort()
        with lock:
            counts["calls"] += calls
            counts["failing"] += failing

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(N_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, "\n".join(errors[:20])
    assert counts["calls"] == N_THREADS * ITERATIONS * 2 * len(tasks)
    assert counts["failing"] > 0


def test_num_threads_does_not_change_results():
    tasks = _tasks()
    by_key = {}
    for name, f in tasks:
        key = name.rsplit(" num_threads", 1)[0]
        by_key.setdefault(key, []).append((name, _bits(f())))
    for key, results in by_key.items():
        # ce/soft use smoothing only for num_threads 1 and their reduction varies, so compare equal settings only
        if key.startswith(("ce ", "soft ", "ce_inplace ")):
            continue
        first = results[0][1]
        for name, r in results[1:]:
            assert r == first, f"{name} differs from {results[0][0]}"
