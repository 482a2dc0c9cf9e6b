"""The options struct the package passes: its full size for a library of 1.1.0 or later, XENT_OPTIONS_V1_SIZE
for a 1.0.0 library (simulated: the package decides from the loaded library's version), where the newer options
are refused before any call; and the defaults of xent_options_init_size for the 1.1.0 and 1.2.0 fields."""

import ctypes

import numpy as np
import pytest

import xent
from helpers import logits_and_labels, needs_1_1
from xent import _lib


class _RecordingLib:
    """Wraps the ctypes library; records the struct_size of every options argument."""

    def __init__(self, lib):
        self._lib = lib
        self.sizes = []

    def __getattr__(self, name):
        fn = getattr(self._lib, name)

        def call(*args):
            for a in args:
                obj = getattr(a, "_obj", None)
                if isinstance(obj, _lib.Options):
                    self.sizes.append(obj.struct_size)
            return fn(*args)

        return call


def test_v1_library_fallback(monkeypatch):
    rng = np.random.default_rng(51)
    x, labels = logits_and_labels(rng, 5, 7, np.float64)
    want = xent.cross_entropy(x, labels, grad=True, label_smoothing=0.1)
    rec = _RecordingLib(_lib.lib)
    monkeypatch.setattr(_lib, "lib", rec)
    monkeypatch.setattr(_lib, "OPTIONS_V1_1", False)
    got = xent.cross_entropy(
        x, labels, grad=True, label_smoothing=0.1, z_loss=0.0, soft_cap=0.0, class_weights=None, return_z_loss=False
    )
    assert rec.sizes == [_lib.OPTIONS_V1_SIZE] and _lib.OPTIONS_V1_SIZE < ctypes.sizeof(_lib.Options)
    assert got.loss == want.loss and np.array_equal(got.grad, want.grad)
    xent.soft_cross_entropy(x, np.full_like(x, 1 / 7))
    assert rec.sizes[-1] == _lib.OPTIONS_V1_SIZE
    for kw in (dict(z_loss=0.1), dict(soft_cap=1.0), dict(class_weights=np.ones(7)), dict(return_z_loss=True)):
        with pytest.raises(xent.XentError, match="1.1.0") as e:
            xent.cross_entropy(x, labels, **kw)
        assert e.value.status == xent.ERR_UNSUPPORTED
        assert list(kw)[0] in str(e.value)
    with pytest.raises(xent.XentError, match="1.1.0"):
        xent.soft_cross_entropy(x, np.full_like(x, 1 / 7), z_loss=0.1)
    assert len(rec.sizes) == 2  # refused before any call


@needs_1_1
def test_full_struct_size_with_1_1_library(monkeypatch):
    rec = _RecordingLib(_lib.lib)
    monkeypatch.setattr(_lib, "lib", rec)
    x = np.zeros((2, 3))
    xent.cross_entropy(x, [0, 1])
    assert rec.sizes == [ctypes.sizeof(_lib.Options)]
    # the 1.2.0 layout of include/xent.h on an LP64 platform (1.1.0 fields at 32..55, 1.2.0 fields after them)
    assert _lib.OPTIONS_V1_SIZE == 32 and ctypes.sizeof(_lib.Options) == 72
    assert (
        _lib.Options.z_loss.offset,
        _lib.Options.soft_cap.offset,
        _lib.Options.class_weights.offset,
        _lib.Options.z_loss_out.offset,
        _lib.Options.workspace_bytes.offset,
        _lib.Options.accumulate.offset,
    ) == (32, 36, 40, 48, 56, 64)


@needs_1_1
def test_options_init_defaults_1_1():
    o = _lib.Options()
    o.z_loss, o.soft_cap = 5.0, 6.0
    init = _lib.lib.xent_options_init_size
    init.argtypes, init.restype = [ctypes.POINTER(_lib.Options), ctypes.c_size_t], None
    init(ctypes.byref(o), ctypes.sizeof(_lib.Options))
    assert (o.z_loss, o.soft_cap, o.class_weights, o.z_loss_out) == (0.0, 0.0, None, None)
    assert o.struct_size == ctypes.sizeof(_lib.Options)
    if _lib.LIBRARY_VERSION_NUMBER >= 10200:  # the 1.2.0 fields' defaults
        o.workspace_bytes, o.accumulate = 123, 1
        init(ctypes.byref(o), ctypes.sizeof(_lib.Options))
        assert (o.workspace_bytes, o.accumulate) == (0, 0)
        # a 1.1.0 caller's struct ends before them: never written
        o.workspace_bytes, o.accumulate = 123, 1
        init(ctypes.byref(o), _lib.Options.workspace_bytes.offset)
        assert (o.workspace_bytes, o.accumulate) == (123, 1) and o.struct_size == _lib.Options.workspace_bytes.offset
    # The plain function leaves the 1.1.0 fields alone (a 1.0.0 caller's struct ends before them).
    o.z_loss = 5.0
    _lib.lib.xent_options_init(ctypes.byref(o))
    assert o.z_loss == 5.0 and o.struct_size == _lib.OPTIONS_V1_SIZE
