"""Concurrent calls from 8 threads give results bit-identical to sequential calls."""

import threading

import numpy as np
import pytest

import xent

N_THREADS = 8


def _run_all(tasks, concurrent):
    results = [None] * len(tasks)
    if not concurrent:
        for i, t in enumerate(tasks):
            results[i] = t()
        return results
    barrier = threading.Barrier(N_THREADS)
    errors = []

    def worker(k):
        try:
            barrier.wait()
            for i in range(k, len(tasks), N_THREADS):
                results[i] = tasks[i]()
        except BaseException as e:  # surface failures from threads
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(N_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    return results


def _same(a, b):
    if isinstance(a, tuple):
        return all(_same(u, v) for u, v in zip(a, b))
    if a is None:
        return b is None
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num_threads", [0, 1, 2])
def test_threads_bit_identical(dtype, num_threads):
    rng = np.random.default_rng(7)
    shared = rng.standard_normal((256, 3000)).astype(dtype)  # read by every thread at once
    shared_labels = rng.integers(0, 3000, size=256)
    shared_targets = np.abs(rng.standard_normal((256, 3000))).astype(dtype)
    tasks = []
    for k in range(4 * N_THREADS):
        own = rng.standard_normal((64 + k, 500 + 37 * k)).astype(dtype)
        own_labels = rng.integers(0, own.shape[1], size=own.shape[0])
        tasks.append(
            lambda: tuple(
                xent.cross_entropy(
                    shared,
                    shared_labels,
                    grad=True,
                    return_lse=True,
                    bias_grad=True,
                    label_smoothing=0.1,
                    num_threads=num_threads,
                )
            )
        )
        tasks.append(
            lambda own=own, lab=own_labels: tuple(
                xent.cross_entropy(own, lab, reduction="none", grad=True, num_threads=num_threads)
            )
        )
        tasks.append(
            lambda: tuple(
                xent.soft_cross_entropy(shared, shared_targets, grad=True, bias_grad=True, num_threads=num_threads)
            )
        )
        tasks.append(lambda own=own: (xent.softmax(own), xent.log_softmax(own), xent.logsumexp(own)))
        tasks.append(lambda own=own: (xent.softmax(own.copy(), out=None),))
    sequential = _run_all(tasks, concurrent=False)
    for _ in range(2):
        concurrent = _run_all(tasks, concurrent=True)
        for i, (a, b) in enumerate(zip(sequential, concurrent)):
            assert _same(a, b), f"task {i} differs between sequential and concurrent runs"


def test_gil_is_released():
    """A long kernel call in one thread does not block a pure-Python thread (ctypes releases the GIL)."""
    import time

    x = np.random.default_rng(0).standard_normal((2048, 8192)).astype(np.float32)
    labels = np.zeros(2048, np.int64)
    g = np.empty_like(x)
    xent.cross_entropy(x, labels, grad_out=g, num_threads=1)  # warm up pages
    t0 = time.perf_counter()
    xent.cross_entropy(x, labels, grad_out=g, num_threads=1)
    single = time.perf_counter() - t0
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    th = threading.Thread(target=ticker)
    th.start()
    time.sleep(0.01)
    start = time.perf_counter()
    for _ in range(3):
        xent.cross_entropy(x, labels, grad_out=g, num_threads=1)
    end = time.perf_counter()
    stop.set()
    th.join()
    during = [t for t in ticks if start < t < end]
    if single < 0.01:
        pytest.skip(f"kernel too fast ({single * 1e3:.1f} ms) to observe")
    # with the GIL held the ticker could not run at all during the calls
    assert len(during) >= 3, f"{len(during)} ticks during {end - start:.3f}s of kernel time"
