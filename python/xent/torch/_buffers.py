"""The ops' large outputs (gradients) from a cache of the buffers earlier results released (internal to
``xent.torch``).

A training step frees last step's gradients and asks for new ones of the same shapes. glibc's malloc returns
blocks above its mmap threshold (at most 32 MiB) to the kernel when they are freed, so every step would fault a
fresh ``rows x classes`` gradient back in: ~100 ms for 500 MiB on this project's machines, more than the
cross-entropy itself (docs/performance.md). Buffers of at least ``MIN_BYTES`` are therefore NumPy blocks that go
back into this cache when the tensor made from them dies (``weakref.finalize`` on the array the tensor holds);
the cache keeps at most ``PER_SIZE`` blocks of each size and ``MAX_BYTES`` in all, and :func:`empty_cache` frees
them (as ``torch.cuda.empty_cache`` does for PyTorch's own cache).
"""

import threading
import weakref

import numpy as np
import torch

MIN_BYTES = 16 << 20
PER_SIZE = 2
MAX_BYTES = 4 << 30

_NUMPY = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64}
_lock = threading.Lock()
_free = {}  # nbytes -> [uint8 arrays]
_held = 0


def _release(block):
    global _held
    with _lock:
        blocks = _free.setdefault(block.nbytes, [])
        if len(blocks) < PER_SIZE and _held + block.nbytes <= MAX_BYTES:
            blocks.append(block)
            _held += block.nbytes


def empty(shape, dtype):
    """An uninitialized CPU tensor of ``shape`` and ``dtype`` (float32, float64, int64), from the cache when it is
    large and a released block of its size is there."""
    global _held
    np_dtype = _NUMPY.get(dtype)
    count = 1
    for n in shape:
        count *= n
    nbytes = count * (np.dtype(np_dtype).itemsize if np_dtype else 0)
    if np_dtype is None or nbytes < MIN_BYTES:
        return torch.empty(shape, dtype=dtype)
    with _lock:
        blocks = _free.get(nbytes)
        block = blocks.pop() if blocks else None
        if block is not None:
            _held -= nbytes
    if block is None:
        block = np.empty(nbytes, np.uint8)
    array = block.view(np_dtype).reshape(shape)
    weakref.finalize(array, _release, block)  # the tensor holds `array`; when it dies, `block` is free again
    return torch.from_numpy(array)


def empty_cache():
    """Frees the cached blocks (the memory of gradients already released)."""
    global _held
    with _lock:
        _free.clear()
        _held = 0
