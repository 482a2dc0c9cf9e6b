"""xent.torch's cache of gradient blocks: a released gradient's memory serves the next one of its size, never one
still alive; small ones and empty_cache() bypass it. Skipped when PyTorch is not installed."""

import gc

import pytest

torch = pytest.importorskip("torch")
xt = pytest.importorskip("xent.torch")

from xent.torch import _buffers  # noqa: E402

BIG = (1024, _buffers.MIN_BYTES // 4 // 1024)  # float32, exactly MIN_BYTES


def test_released_block_is_reused_and_live_one_never():
    xt.empty_cache()
    a = _buffers.empty(BIG, torch.float32)
    b = _buffers.empty(BIG, torch.float32)
    assert a.data_ptr() != b.data_ptr()  # both alive: distinct memory
    pa = a.data_ptr()
    del a
    gc.collect()
    c = _buffers.empty(BIG, torch.float32)
    assert c.data_ptr() == pa and c.shape == BIG and c.dtype == torch.float32
    assert c.data_ptr() != b.data_ptr()
    xt.empty_cache()


def test_small_and_cleared():
    xt.empty_cache()
    s = _buffers.empty((3, 5), torch.float64)
    assert s.shape == (3, 5) and s.dtype == torch.float64
    a = _buffers.empty(BIG, torch.float32)
    del a
    gc.collect()
    xt.empty_cache()
    assert not any(_buffers._free.values())


def test_gradient_of_a_training_step_reuses_memory():
    """Two steps with .grad set to None in between: the second step's gradient takes the first one's block."""
    xt.empty_cache()
    rows, classes = 512, _buffers.MIN_BYTES // 4 // 512
    x = torch.randn(rows, classes, requires_grad=True)
    target = torch.randint(0, classes, (rows,))
    xt.cross_entropy(x, target).backward()
    first = x.grad.data_ptr()
    ref = torch.nn.functional.cross_entropy(x.detach().requires_grad_(True), target)
    x.grad = None
    gc.collect()
    loss = xt.cross_entropy(x, target)
    loss.backward()
    assert x.grad.data_ptr() == first
    assert torch.allclose(loss, ref)
    xt.empty_cache()
