"""Bad arguments: clear TypeError/ValueError, library errors as XentError with the library's message, and
nothing written on error."""

import re
import threading

import numpy as np
import pytest

import _lib_access as L
import xent
from helpers import fake_library, run_python


def _x(rows=4, cols=10, dtype=np.float32):
    return np.random.default_rng(0).standard_normal((rows, cols)).astype(dtype)


LAB = np.array([0, 1, 2, 3])


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 10), np.int64),
        np.zeros((4, 10), np.float16),
        np.zeros((4, 10), np.complex64),
        np.zeros((4, 10), ">f4"),
        [[0.0] * 10] * 4,
        3.0,
    ],
)
def test_wrong_logits_type(bad):
    with pytest.raises(TypeError):
        xent.cross_entropy(bad, LAB)
    with pytest.raises(TypeError):
        xent.softmax(bad)


@pytest.mark.parametrize("bad", [np.zeros((2, 2, 10), np.float32), np.zeros((), np.float32)])
def test_wrong_ndim(bad):
    for f in (
        lambda: xent.cross_entropy(bad, LAB),
        lambda: xent.logsumexp(bad),
        lambda: xent.softmax(bad),
        lambda: xent.log_softmax(bad),
        lambda: xent.soft_cross_entropy(bad, bad),
    ):
        with pytest.raises(ValueError, match="1-D|2-D"):
            f()


def test_layouts_rejected():
    w = _x(4, 20)
    cases = {
        "column-strided": w[:, ::2],
        "transposed": _x(10, 4).T,
        "negative row stride": w[::-1, :10],
        "negative column stride": w[:, ::-1][:, :10],
        "broadcast rows": np.broadcast_to(w[0, :10], (4, 10)),
        "overlapping rows": np.lib.stride_tricks.as_strided(w, shape=(4, 10), strides=(8, 4)),
        "unaligned": np.frombuffer(b"\0" + bytes(4 * 40), np.float32, count=40, offset=1).reshape(4, 10),
        "1-D strided": w[0, ::2],
    }
    for name, a in cases.items():
        labels = LAB if a.ndim == 2 else 0
        with pytest.raises(ValueError):
            xent.cross_entropy(a, labels)
            pytest.fail(name)
        with pytest.raises(ValueError):
            xent.softmax(a)
            pytest.fail(name)


def test_mixed_dtypes():
    x32, x64 = _x(), _x(dtype=np.float64)
    with pytest.raises(TypeError, match="mixed"):
        xent.soft_cross_entropy(x32, x64)
    with pytest.raises(TypeError):
        xent.cross_entropy(x32, LAB, grad_out=np.zeros((4, 10), np.float64))
    with pytest.raises(TypeError):
        xent.cross_entropy(x32, LAB, out=np.zeros(1, np.float64))
    with pytest.raises(TypeError):
        xent.softmax(x32, out=np.zeros((4, 10), np.float64))
    with pytest.raises(TypeError):
        xent.logsumexp(x32, out=np.zeros(4, np.float64))


def test_shape_mismatches():
    x = _x()
    with pytest.raises(ValueError):
        xent.cross_entropy(x, LAB[:3])
    with pytest.raises(ValueError):
        xent.cross_entropy(x, LAB.reshape(2, 2))
    with pytest.raises(ValueError):
        xent.cross_entropy(x[0], LAB)
    with pytest.raises(ValueError):
        xent.soft_cross_entropy(x, x[:, :9])
    with pytest.raises(ValueError):
        xent.cross_entropy(x, LAB, grad_out=np.zeros((4, 11), np.float32))
    with pytest.raises(ValueError):
        xent.cross_entropy(x, LAB, reduction="none", out=np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        xent.cross_entropy(x, LAB, out=np.zeros(2, np.float32))
    with pytest.raises(ValueError):
        xent.logsumexp(x, out=np.zeros(5, np.float32))
    with pytest.raises(ValueError):
        xent.softmax(x, out=np.zeros((4, 9), np.float32))


def test_bad_labels():
    x = _x()
    with pytest.raises(TypeError):
        xent.cross_entropy(x, LAB.astype(np.float64))
    with pytest.raises(TypeError):
        xent.cross_entropy(x, LAB.astype(bool))
    with pytest.raises(ValueError):
        xent.cross_entropy(x, np.array([0, 1, 2, 2**63 + 5], np.uint64))


def test_label_out_of_range_names_row():
    x = _x(5, 10)
    for bad_label in (10, 11, -1, -101, 2**40):
        labels = np.array([0, 1, 2, bad_label, 4])
        with pytest.raises(ValueError) as info:
            xent.cross_entropy(x, labels)
        e = info.value
        assert isinstance(e, xent.XentError) and e.status == xent.ERR_LABEL_OUT_OF_RANGE
        assert re.search(r"\brow\s*3\b", str(e)), str(e)
        assert str(bad_label) in str(e), str(e)


@pytest.mark.parametrize("reduction", ["avg", "MEAN", "", None, 2])
def test_bad_reduction(reduction):
    with pytest.raises(ValueError, match="reduction"):
        xent.cross_entropy(_x(), LAB, reduction=reduction)


@pytest.mark.parametrize(
    "kw",
    [
        dict(label_smoothing=1.5),
        dict(label_smoothing=-0.1),
        dict(label_smoothing=float("nan")),
        dict(grad_scale=float("inf")),
        dict(grad_scale=float("nan")),
        dict(num_threads=-1),
    ],
)
def test_invalid_options_from_library(kw):
    with pytest.raises(xent.XentError) as info:
        xent.cross_entropy(_x(), LAB, **kw)
    assert info.value.status == xent.ERR_INVALID_OPTION
    assert isinstance(info.value, ValueError)
    with pytest.raises(xent.XentError):
        xent.soft_cross_entropy(_x(), np.abs(_x()), **kw)


@pytest.mark.parametrize(
    "kw",
    [
        dict(label_smoothing="0.1"),
        dict(grad_scale=None),
        dict(ignore_index=1.5),
        dict(num_threads=2.0),
        dict(ignore_index=2**64),
    ],
)
def test_option_types(kw):
    with pytest.raises((TypeError, ValueError)):
        xent.cross_entropy(_x(), LAB, **kw)


@pytest.mark.parametrize("grad", ["in-place", "yes", 1.0, object()])
def test_bad_grad_argument(grad):
    with pytest.raises(ValueError, match="grad"):
        xent.cross_entropy(_x(), LAB, grad=grad)


def test_inplace_needs_writable_logits():
    x = _x()
    x.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        xent.cross_entropy(x, LAB, grad="inplace")
    with pytest.raises(ValueError, match="writable"):
        xent.softmax(x, out=x)
    with pytest.raises(ValueError):
        xent.cross_entropy(_x(), LAB, grad="inplace", grad_out=np.zeros((4, 10), np.float32))
    ro = np.zeros((4, 10), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        xent.cross_entropy(_x(), LAB, grad_out=ro)
    # read-only logits are fine for everything else
    xent.cross_entropy(x, LAB, grad=True)
    xent.softmax(x)


def test_zero_columns():
    for f in (
        lambda z: xent.cross_entropy(z, np.zeros(3, np.int64)),
        xent.logsumexp,
        xent.softmax,
        xent.log_softmax,
        lambda z: xent.soft_cross_entropy(z, z),
    ):
        with pytest.raises(xent.XentError) as info:
            f(np.zeros((3, 0), np.float32))
        assert info.value.status == xent.ERR_INVALID_SHAPE


def test_aliasing_is_rejected_by_the_library():
    buf = _x(6, 10)
    x = buf[:4]
    shifted = buf[1:5]  # same stride, overlapping, not identical
    with pytest.raises(xent.XentError) as info:
        xent.cross_entropy(x, LAB, grad_out=shifted)
    assert info.value.status == xent.ERR_ALIASING
    with pytest.raises(xent.XentError) as info:
        xent.softmax(x, out=shifted)
    assert info.value.status == xent.ERR_ALIASING
    with pytest.raises(xent.XentError) as info:
        xent.log_softmax(x, out=shifted)
    assert info.value.status == xent.ERR_ALIASING


def test_aliasing_loss_inside_logits():
    buf = _x(4, 10)
    with pytest.raises(xent.XentError) as info:
        xent.cross_entropy(buf, LAB, reduction="none", out=buf[2, :4])
    assert info.value.status == xent.ERR_ALIASING
    with pytest.raises(xent.XentError) as info:
        xent.logsumexp(buf, out=buf[1, 2:6])
    assert info.value.status == xent.ERR_ALIASING
    wide = np.zeros((4, 20), np.float32)
    with pytest.raises(xent.XentError) as info:  # interleaved column blocks: extents overlap
        xent.cross_entropy(wide[:, :10], LAB, grad_out=wide[:, 10:])
    assert info.value.status == xent.ERR_ALIASING


def test_nothing_written_on_error():
    x = _x(5, 10)
    before = x.copy()
    labels = np.array([0, 1, 2, 99, 4])
    g = np.full((5, 10), 7.0, np.float32)
    out = np.full(5, 7.0, np.float32)
    with pytest.raises(xent.XentError):
        xent.cross_entropy(x, labels, grad="inplace")
    np.testing.assert_array_equal(x, before)
    with pytest.raises(xent.XentError):
        xent.cross_entropy(x, labels, grad_out=g, out=out, reduction="none", bias_grad=True, return_lse=True)
    assert (g == 7).all() and (out == 7).all()
    with pytest.raises(xent.XentError):
        xent.cross_entropy(x, labels[:5] * 0, label_smoothing=2.0, grad_out=g, out=out, reduction="none")
    assert (g == 7).all() and (out == 7).all()


def test_error_message_is_thread_local_and_cleared():
    x = _x(20, 10)
    results = {}
    barrier = threading.Barrier(8)

    def work(k):
        labels = np.zeros(20, np.int64)
        labels[k] = 10 + k
        barrier.wait()
        msgs = []
        for _ in range(50):
            try:
                xent.cross_entropy(x, labels)
            except xent.XentError as e:
                msgs.append(str(e))
        results[k] = msgs

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(8):
        assert len(results[k]) == 50
        for m in results[k]:
            assert re.search(rf"\brow\s*{k}\b", m) and str(10 + k) in m, m
    xent.cross_entropy(x, np.zeros(20, np.int64))
    assert L.last_error_message() == ""


def test_status_strings():
    for code in [xent.OK] + [getattr(xent, n) for n in dir(xent) if n.startswith("ERR_")]:
        assert L.status_string(code)
    assert L.status_string(12345)  # unknown codes still give a string


def test_import_fails_clearly_without_library(tmp_path):
    p = run_python("import xent", tmp_path / "nope.so")
    assert p.returncode != 0 and "ImportError" in p.stderr and "XENT_LIBRARY" in p.stderr


def test_import_rejects_other_major_version(tmp_path):
    p = run_python("import xent", fake_library(tmp_path, "2.3.4"))
    assert p.returncode != 0 and "ImportError" in p.stderr and "2.3.4" in p.stderr, p.stderr


def test_library_location():
    import os

    env = os.environ.get("XENT_LIBRARY")
    bundled = os.path.join(os.path.dirname(xent.__file__), "libxent.so")
    if env:
        assert os.path.samefile(xent.library_path, env)
    elif os.path.exists(bundled):
        assert xent.library_path == bundled
    assert isinstance(xent.library_path, str) and xent.library_path
