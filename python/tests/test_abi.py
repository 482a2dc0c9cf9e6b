"""Direct ctypes calls for what the high-level API never passes: NULL pointers, NULL/odd options, raw codes."""

import ctypes

import numpy as np
import pytest

import xent
from xent import _lib

L = _lib.lib


def _p(a):
    return a.__array_interface__["data"][0]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    labels = np.array([0, 4, 2], np.int64)
    return x, labels


def test_options_init_defaults():
    # The exported function is what a 1.0.0 binary calls: it fills the 1.0.0 fields only (the header's macro of
    # the same name calls xent_options_init_size with the caller's sizeof).
    o = _lib.Options()
    L.xent_options_init(ctypes.byref(o))
    assert o.struct_size == _lib.OPTIONS_V1_SIZE
    assert (o.reduction, o.num_threads, o.ignore_index, o.label_smoothing, o.grad_scale) == (2, 0, -100, 0.0, 1.0)
    L.xent_options_init(None)  # documented: does nothing


def test_null_pointers(data):
    x, labels = data
    loss = np.zeros(1, np.float32)
    assert L.xent_cross_entropy_f32(None, 3, 5, 5, _p(labels), None, _p(loss), None, None) == 1
    assert L.xent_cross_entropy_f32(_p(x), 3, 5, 5, None, None, _p(loss), None, None) == 1
    assert L.xent_cross_entropy_f32(_p(x), 3, 5, 5, _p(labels), None, None, None, None) == 1
    assert _lib.last_error_message() != ""
    assert L.xent_cross_entropy_f32(_p(x), 0, 5, 5, None, None, _p(loss), None, None) == 1  # even rows == 0
    assert L.xent_soft_cross_entropy_f32(_p(x), 3, 5, 5, None, 5, None, _p(loss), None, None) == 1
    assert L.xent_logsumexp_f64(None, 1, 1, 1, _p(np.zeros(1))) == 1
    assert L.xent_softmax_f32(_p(x), 3, 5, 5, None, 5) == 1


def test_null_options_mean_defaults(data):
    x, labels = data
    loss = np.zeros(1, np.float32)
    assert L.xent_cross_entropy_f32(_p(x), 3, 5, 5, _p(labels), None, _p(loss), None, None) == 0
    assert _lib.last_error_message() == ""
    assert loss[0] == xent.cross_entropy(x, labels)


def test_struct_size(data):
    x, labels = data
    loss = np.zeros(1, np.float32)
    o = _lib.default_options()
    o.struct_size = _lib.OPTIONS_V1_SIZE - 4  # below the 1.0.0 size: refused
    assert L.xent_cross_entropy_f32(_p(x), 3, 5, 5, _p(labels), ctypes.byref(o), _p(loss), None, None) == 4

    class Bigger(ctypes.Structure):  # a caller compiled against a future header with one more field
        _fields_ = _lib.Options._fields_ + [("future", ctypes.c_double)]

    b = Bigger(ctypes.sizeof(Bigger), 1, 0, -100, 0.0, 1.0, 123.0)
    status = L.xent_cross_entropy_f32(
        _p(x), 3, 5, 5, _p(labels), ctypes.cast(ctypes.byref(b), ctypes.POINTER(_lib.Options)), _p(loss), None, None
    )
    assert status == 0 and loss[0] == xent.cross_entropy(x, labels, reduction="sum")


@pytest.mark.parametrize("reduction", [-1, 3, 1000])
def test_unknown_reduction_code(data, reduction):
    x, labels = data
    loss = np.zeros(3, np.float32)
    o = _lib.default_options()
    o.reduction = reduction
    assert L.xent_cross_entropy_f32(_p(x), 3, 5, 5, _p(labels), ctypes.byref(o), _p(loss), None, None) == 4


def test_stride_below_cols(data):
    x, labels = data
    loss = np.zeros(1, np.float32)
    assert L.xent_cross_entropy_f32(_p(x), 3, 5, 4, _p(labels), None, _p(loss), None, None) == 2
    g = np.zeros((3, 5), np.float32)
    assert L.xent_cross_entropy_ex_f32(_p(x), 3, 5, 5, _p(labels), None, _p(loss), _p(g), 4, None, None) == 2
    # grad_stride is ignored when grad is NULL
    assert L.xent_cross_entropy_ex_f32(_p(x), 3, 5, 5, _p(labels), None, _p(loss), None, 0, None, None) == 0
    assert L.xent_softmax_f32(_p(x), 3, 5, 5, _p(g), 4) == 2
    assert L.xent_soft_cross_entropy_f32(_p(x), 3, 5, 5, _p(x), 4, None, _p(loss), None, None) == 2


def test_size_overflow(data):
    x, labels = data
    loss = np.zeros(1, np.float32)
    huge = (1 << 63) // 4
    assert L.xent_cross_entropy_f32(_p(x), 3, huge, huge, _p(labels), None, _p(loss), None, None) == 2
    assert L.xent_logsumexp_f32(_p(x), huge, 5, 5, _p(loss)) == 2


def test_inplace_needs_same_stride():
    buf = np.random.default_rng(1).standard_normal((3, 8)).astype(np.float32)
    labels = np.array([0, 1, 2], np.int64)
    loss = np.zeros(1, np.float32)
    # grad == logits but with a different stride: not the documented in-place case
    assert L.xent_cross_entropy_ex_f32(_p(buf), 3, 5, 8, _p(labels), None, _p(loss), _p(buf), 5, None, None) == 5
    assert L.xent_softmax_f32(_p(buf), 3, 5, 8, _p(buf), 5) == 5
    assert L.xent_logsumexp_f32(_p(buf), 3, 5, 8, _p(buf)) == 5  # logsumexp has no in-place case


def test_output_overlaps():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    labels = np.array([0, 1, 2, 3], np.int64)
    scratch = np.zeros(64, np.float32)
    base = _p(scratch)
    g = np.zeros((4, 6), np.float32)
    none = _lib.default_options()
    none.reduction = 0
    o = ctypes.byref(none)
    call = L.xent_cross_entropy_ex_f32
    # loss overlapping lse
    assert call(_p(x), 4, 6, 6, _p(labels), o, base, None, 6, base + 8, None) == 5
    # lse overlapping bias_grad
    assert call(_p(x), 4, 6, 6, _p(labels), o, base, None, 6, base + 16, base + 24) == 5
    # bias_grad overlapping grad
    assert call(_p(x), 4, 6, 6, _p(labels), o, base, _p(g), 6, None, _p(g) + 4) == 5
    # loss overlapping the labels (an input)
    assert call(_p(x), 4, 6, 6, _p(labels), o, _p(labels) + 8, None, 6, None, None) == 5
    # soft: grad overlapping targets
    t = np.abs(x)
    assert L.xent_soft_cross_entropy_f32(_p(x), 4, 6, 6, _p(t), 6, o, base, _p(t), None) == 5
    # disjoint pieces of one buffer are fine
    assert call(_p(x), 4, 6, 6, _p(labels), o, base, None, 6, base + 16, base + 32) == 0
    assert _lib.last_error_message() == ""
