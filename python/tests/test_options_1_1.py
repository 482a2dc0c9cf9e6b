"""The 1.1.0 options through the Python API: z-loss, class weights, the reserved soft cap, the result convention,
and the fallback for a 1.0.0 library.

The reference below is written here, in np.longdouble from the exact input values, following include/xent.h and
the documented semantics literally:

* z-loss lambda: z_i = lambda*lse_i^2 per counted (non-ignored) row, reduced like the loss but "mean" always
  divides by the number of counted rows; written separately (never added to the loss); the gradient gains
  s_z*2*lambda*lse_i*softmax_i with s_z = grad_scale/counted rows ("mean") or grad_scale ("sum"/"none").
* class weights w (PyTorch): T = (1 - eps)*w[label]*onehot + eps*w/cols, loss_i = sum_j T_j (lse - x_j),
  "mean" divides by sum(w[label_i]) over counted rows, gradient s*(sum(T)*softmax - T).
"""
import ctypes
import pickle

import numpy as np
import pytest

import xent
from xent import _lib

LD = np.longdouble
DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "sum", "mean"]
RTOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}

needs_1_1 = pytest.mark.skipif(not _lib.OPTIONS_V1_1, reason="the loaded library is older than 1.1.0")


# ---------------------------------------------------------------------------------------------------------------
# reference

def reference(x, labels=None, *, targets=None, reduction="mean", ignore_index=-100, eps=0.0, grad_scale=1.0,
              lam=0.0, weights=None):
    """Loss, z-loss, gradient, lse, bias gradient (and error scales), in long double."""
    x = np.asarray(x)
    x2 = (x.reshape(1, -1) if x.ndim == 1 else x).astype(LD)
    rows, cols = x2.shape
    eps = LD(np.float32(eps))        # label_smoothing, z_loss and grad_scale cross the ABI as float
    lam = LD(np.float32(lam))
    gs = LD(np.float32(grad_scale))
    w = None if weights is None else np.asarray(weights, np.float64).astype(LD)
    if targets is None:
        labels = np.asarray(labels, np.int64).reshape(-1)
        counted = labels != ignore_index
        t = np.zeros((rows, cols), LD)
        row_w = np.zeros(rows, LD)
        for i in range(rows):
            if counted[i]:
                wi = w if w is not None else np.ones(cols, LD)
                t[i] = eps * wi / cols
                t[i, labels[i]] += (1 - eps) * wi[labels[i]]
                row_w[i] = wi[labels[i]]
    else:
        y = np.asarray(targets)
        y = (y.reshape(1, -1) if y.ndim == 1 else y).astype(LD)
        counted = np.ones(rows, bool)
        t = (1 - eps) * y + eps / cols
        row_w = np.ones(rows, LD)
    m = x2.max(axis=1, keepdims=True)
    logs = np.log(np.exp(x2 - m).sum(axis=1, keepdims=True))
    lse = (m + logs)[:, 0]
    p = np.exp((x2 - m) - logs)
    n = int(counted.sum())
    wsum = row_w[counted].sum()
    mean = reduction == "mean"
    den = (wsum if w is not None else LD(n)) if mean else LD(1)
    s = gs / den if den != 0 else LD(0)
    zden = LD(n) if mean else LD(1)
    sz = gs / zden if zden != 0 else LD(0)

    loss = np.zeros(rows, LD)
    loss_scale = np.zeros(rows, LD)
    z = np.zeros(rows, LD)
    grad = np.zeros((rows, cols), LD)
    grad_tol = np.zeros((rows, 1), LD)
    for i in range(rows):
        if not counted[i]:
            continue
        d = (m[i, 0] - x2[i]) + logs[i, 0]           # lse - x_j without cancellation
        loss[i] = np.sum(np.where(t[i] == 0, LD(0), t[i] * d))
        loss_scale[i] = np.sum(np.abs(t[i]) * (np.abs(lse[i]) + np.abs(x2[i])))
        z[i] = lam * lse[i] ** 2
        grad[i] = s * (t[i].sum() * p[i] - t[i]) + sz * 2 * lam * lse[i] * p[i]
        grad_tol[i] = abs(s) * max(LD(1), np.abs(t[i]).sum()) + abs(sz) * 2 * lam * max(LD(1), abs(lse[i]))
    if reduction == "none":
        red, red_scale, zred = loss, loss_scale, z
    else:
        red, red_scale, zred = loss.sum(), loss_scale.sum(), z.sum()
        if mean:
            red = red / den if den != 0 else LD(0)
            red_scale = red_scale / den if den != 0 else LD(0)
            zred = zred / n if n else LD(0)
    if x.ndim == 1:
        red, red_scale, zred, lse = np.asarray(red).reshape(()), np.asarray(red_scale).reshape(()), \
            np.asarray(zred).reshape(()), lse.reshape(())
        grad = grad.reshape(-1)
        grad_tol = grad_tol.reshape(-1)
    return dict(loss=red, loss_scale=red_scale, z=zred, grad=grad, grad_tol=grad_tol, lse=lse,
                bias=grad.reshape(-1, cols).sum(axis=0), bias_tol=grad_tol.sum() * np.ones(cols, LD))


def close(actual, expected, rtol, scale=0.0, what=""):
    a = np.asarray(actual).astype(LD)
    e = np.asarray(expected).astype(LD)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    tol = rtol * (np.abs(e) + np.asarray(scale, LD)) + LD(1e-300)
    err = np.abs(a - e)
    bad = ~(err <= tol)
    if bad.any():
        k = np.unravel_index(np.argmax(np.where(bad, err / tol, 0)), e.shape) if e.ndim else ()
        raise AssertionError(f"{what}: {int(bad.sum())} element(s) off; worst at {k}: actual {a[k]!r} "
                             f"expected {e[k]!r} error {err[k]!r} tolerance {tol[k]!r}")


def check(res, r, dtype, what, grad=True, bias=True, lse=True, z=True):
    rtol = RTOL[np.dtype(dtype)]
    assert isinstance(res, xent.CrossEntropyResult)
    assert np.asarray(res.loss).dtype == np.dtype(dtype)
    close(res.loss, r["loss"], rtol, r["loss_scale"], "loss " + what)
    if z:
        assert len(res) == 5 and res[4] is res.z_loss
        assert np.asarray(res.z_loss).dtype == np.float64, what
        assert np.shape(res.z_loss) == np.shape(r["z"]), what
        close(res.z_loss, r["z"], 4 * rtol, 0.0, "z_loss " + what)
    else:
        assert len(res) == 4 and res.z_loss is None
    if grad:
        assert res.grad.dtype == np.dtype(dtype)
        close(res.grad, r["grad"], rtol, r["grad_tol"], "grad " + what)
    if bias:
        close(res.bias_grad, r["bias"], rtol, r["bias_tol"], "bias_grad " + what)
    if lse:
        close(res.lse, r["lse"], rtol, np.maximum(1, np.abs(r["lse"])), "lse " + what)


def _data(rng, rows, cols, dtype, scale=3.0):
    x = (rng.standard_normal((rows, cols)) * scale).astype(dtype)
    labels = rng.integers(0, cols, size=rows)
    return x, labels


def _weights(rng, cols, zero=(1,)):
    w = rng.uniform(0.2, 3.0, size=cols)
    w[list(zero)] = 0.0
    return w


# ---------------------------------------------------------------------------------------------------------------
# z-loss

@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("lam", [0.0, 1e-4, 0.3])
def test_z_loss(dtype, reduction, ignore, smoothing, lam):
    rng = np.random.default_rng(11)
    x, labels = _data(rng, 19, 41, dtype)
    if ignore:
        labels[[0, 7, 8]] = -7
    r = reference(x, labels, reduction=reduction, ignore_index=-7, eps=smoothing, grad_scale=2.5, lam=lam)
    res = xent.cross_entropy(x, labels, reduction=reduction, ignore_index=-7, label_smoothing=smoothing,
                             grad_scale=2.5, z_loss=lam, return_z_loss=True, grad=True, return_lse=True,
                             bias_grad=True)
    check(res, r, dtype, f"{dtype.__name__} {reduction} ignore={ignore} eps={smoothing} lam={lam}")
    if reduction == "none" and ignore:
        assert (res.z_loss[[0, 7, 8]] == 0).all() and (res.loss[[0, 7, 8]] == 0).all()
        assert (res.grad[[0, 7, 8]] == 0).all()
    # the z-loss is never added to the loss: the loss is the one without z-loss (same value up to rounding)
    plain = xent.cross_entropy(x, labels, reduction=reduction, ignore_index=-7, label_smoothing=smoothing)
    close(res.loss, plain, RTOL[np.dtype(dtype)], r["loss_scale"], "loss unchanged by z_loss")


@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_z_loss_without_return(dtype, reduction):
    """z_loss > 0 without return_z_loss: the gradient has the term, the result keeps its 1.0.0 shape."""
    rng = np.random.default_rng(12)
    x, labels = _data(rng, 9, 30, dtype)
    r = reference(x, labels, reduction=reduction, lam=0.05)
    res = xent.cross_entropy(x, labels, reduction=reduction, z_loss=0.05, grad=True)
    assert len(res) == 4 and res.z_loss is None
    loss, g, lse, bias = res
    check(res, r, dtype, reduction, bias=False, lse=False, z=False)
    only_loss = xent.cross_entropy(x, labels, reduction=reduction, z_loss=0.05)
    assert not isinstance(only_loss, xent.CrossEntropyResult)
    close(only_loss, r["loss"], RTOL[np.dtype(dtype)], r["loss_scale"], "loss")


@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_z_loss_only_requested(dtype, reduction):
    rng = np.random.default_rng(13)
    x, labels = _data(rng, 6, 12, dtype)
    r = reference(x, labels, reduction=reduction, lam=0.2)
    res = xent.cross_entropy(x, labels, reduction=reduction, z_loss=0.2, return_z_loss=True)
    assert isinstance(res, xent.CrossEntropyResult) and len(res) == 5
    loss, g, lse, bias, z = res
    assert g is None and lse is None and bias is None
    close(z, r["z"], 4 * RTOL[np.dtype(dtype)], 0, "z")
    close(loss, r["loss"], RTOL[np.dtype(dtype)], r["loss_scale"], "loss")


@needs_1_1
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_z_loss_all_rows_ignored(reduction):
    rng = np.random.default_rng(14)
    x, _ = _data(rng, 4, 10, np.float64)
    labels = np.full(4, -100)
    res = xent.cross_entropy(x, labels, reduction=reduction, z_loss=0.5, return_z_loss=True, grad=True)
    assert np.all(np.asarray(res.z_loss) == 0) and np.all(np.asarray(res.loss) == 0)
    assert np.all(res.grad == 0)


@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_z_loss_soft_targets(dtype, reduction, smoothing):
    rng = np.random.default_rng(15)
    x, _ = _data(rng, 11, 23, dtype)
    y = rng.dirichlet(np.ones(23), size=11).astype(dtype)
    r = reference(x, targets=y, reduction=reduction, eps=smoothing, grad_scale=0.5, lam=0.1)
    res = xent.soft_cross_entropy(x, y, reduction=reduction, label_smoothing=smoothing, grad_scale=0.5,
                                  z_loss=0.1, return_z_loss=True, grad=True, return_lse=True, bias_grad=True)
    check(res, r, dtype, f"soft {dtype.__name__} {reduction} eps={smoothing}")


# ---------------------------------------------------------------------------------------------------------------
# class weights

@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("ignore", [False, True])
def test_class_weights(dtype, reduction, smoothing, ignore):
    rng = np.random.default_rng(21)
    x, labels = _data(rng, 23, 37, dtype)
    w = _weights(rng, 37, zero=(1, 5))
    labels[3] = 1           # a row whose label has weight 0
    labels[4] = 5
    if ignore:
        labels[[0, 10]] = -100
    r = reference(x, labels, reduction=reduction, eps=smoothing, grad_scale=1.5, weights=w)
    res = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=smoothing, grad_scale=1.5,
                             class_weights=w, grad=True, return_lse=True, bias_grad=True)
    what = f"{dtype.__name__} {reduction} eps={smoothing} ignore={ignore}"
    check(res, r, dtype, what, z=False)
    if reduction == "mean":
        # the MEAN denominator is sum(w[label]) over counted rows, not their number
        counted = labels != -100
        per_row = reference(x, labels, reduction="none", eps=smoothing, weights=w)["loss"]
        close(res.loss, per_row.sum() / w[labels[counted]].sum(), RTOL[np.dtype(dtype)], r["loss_scale"],
              "mean denominator " + what)
    if smoothing == 0:
        # a zero-weight label contributes nothing without smoothing
        g = res.grad
        assert np.all(g[3] == 0) and np.all(g[4] == 0)


@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_class_weights_and_z_loss(dtype, reduction, smoothing):
    rng = np.random.default_rng(22)
    x, labels = _data(rng, 17, 29, dtype)
    w = _weights(rng, 29, zero=(2,))
    labels[[1, 6]] = -100
    labels[2] = 2
    r = reference(x, labels, reduction=reduction, eps=smoothing, grad_scale=3.0, lam=0.02, weights=w)
    res = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=smoothing, grad_scale=3.0,
                             class_weights=w, z_loss=0.02, return_z_loss=True, grad=True, return_lse=True,
                             bias_grad=True)
    check(res, r, dtype, f"{dtype.__name__} {reduction} eps={smoothing}")


@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_one_d(dtype, reduction):
    rng = np.random.default_rng(23)
    x = (rng.standard_normal(31) * 2).astype(dtype)
    w = _weights(rng, 31, zero=(0,))
    r = reference(x, [4], reduction=reduction, eps=0.1, lam=0.1, weights=w)
    res = xent.cross_entropy(x, 4, reduction=reduction, label_smoothing=0.1, class_weights=w, z_loss=0.1,
                             return_z_loss=True, grad=True, return_lse=True, bias_grad=True)
    assert np.ndim(res.loss) == 0 and np.ndim(res.z_loss) == 0 and np.ndim(res.lse) == 0
    assert res.grad.shape == x.shape
    check(res, r, dtype, f"1-D {reduction}")


@needs_1_1
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_weights_all_zero_for_the_labels(reduction):
    """MEAN with sum(w[label]) == 0: the loss is 0 and the gradient zero (like the mean of no rows; PyTorch
    gives NaN)."""
    rng = np.random.default_rng(24)
    x, _ = _data(rng, 5, 8, np.float64)
    w = np.ones(8)
    w[3] = 0
    labels = np.full(5, 3)
    res = xent.cross_entropy(x, labels, reduction=reduction, class_weights=w, grad=True)
    assert np.all(np.asarray(res.loss) == 0) and np.all(res.grad == 0)


@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
def test_class_weights_long_rows(dtype):
    """Rows of >= 65536 classes take the column-block path: weighted smoothing and z-loss there too."""
    rng = np.random.default_rng(25)
    cols = 70001
    x, labels = _data(rng, 3, cols, dtype, scale=4.0)
    x[1, 50000] = 40.0          # the row maximum in a later block
    w = rng.uniform(0, 2, size=cols)
    r = reference(x, labels, reduction="mean", eps=0.1, lam=0.01, weights=w)
    for threads in (1, 2):
        res = xent.cross_entropy(x, labels, label_smoothing=0.1, class_weights=w, z_loss=0.01,
                                 return_z_loss=True, grad=True, return_lse=True, bias_grad=True,
                                 num_threads=threads)
        check(res, r, dtype, f"long rows threads={threads}")


@needs_1_1
def test_layouts_and_threads_bit_identical():
    rng = np.random.default_rng(26)
    wide = (rng.standard_normal((64, 50)) * 3).astype(np.float32)
    x = wide[:, :40]
    labels = rng.integers(0, 40, size=64)
    labels[5] = -100
    w = rng.uniform(0, 2, size=40)
    kw = dict(label_smoothing=0.1, class_weights=w, z_loss=0.01, return_z_loss=True, bias_grad=True)
    base = xent.cross_entropy(np.ascontiguousarray(x), labels, grad=True, num_threads=1, **kw)
    for threads in (0, 2, 3):
        res = xent.cross_entropy(x, labels, grad=True, num_threads=threads, **kw)
        assert res.loss == base.loss and res.z_loss == base.z_loss
        assert np.array_equal(res.grad, base.grad) and np.array_equal(res.bias_grad, base.bias_grad)
    inplace = wide.copy()[:, :40]
    res = xent.cross_entropy(inplace, labels, grad="inplace", **kw)
    assert res.grad is inplace and np.array_equal(inplace, base.grad)


@needs_1_1
def test_class_weights_conversion():
    """Any array-like of real numbers is converted (once) to contiguous float64; results are identical."""
    rng = np.random.default_rng(27)
    x, labels = _data(rng, 8, 6, np.float64)
    w64 = np.array([1.0, 2.0, 0.0, 3.0, 0.5, 4.0])
    want = xent.cross_entropy(x, labels, class_weights=w64, grad=True)
    variants = [w64.tolist(), [1, 2, 0, 3, 0.5, 4], w64.astype(np.float32), np.repeat(w64, 2)[::2],
                tuple(w64)]
    for v in variants:
        got = xent.cross_entropy(x, labels, class_weights=v, grad=True)
        assert got.loss == want.loss and np.array_equal(got.grad, want.grad), repr(v)
    ints = np.array([1, 2, 0, 3, 1, 4], np.int32)
    got = xent.cross_entropy(x, labels, class_weights=ints)
    assert got == xent.cross_entropy(x, labels, class_weights=ints.astype(np.float64))
    # the caller's array is not modified
    w_copy = w64.copy()
    xent.cross_entropy(x, labels, class_weights=w64)
    assert np.array_equal(w64, w_copy)


# ---------------------------------------------------------------------------------------------------------------
# errors

@needs_1_1
@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf, -np.inf])
def test_bad_weight_values(bad):
    rng = np.random.default_rng(31)
    x, labels = _data(rng, 4, 5, np.float32)
    before = x.copy()
    w = np.ones(5)
    w[2] = bad
    with pytest.raises(xent.XentError) as e:
        xent.cross_entropy(x, labels, class_weights=w, grad="inplace")
    assert e.value.status == xent.ERR_INVALID_OPTION
    assert np.array_equal(x, before)   # nothing written


@needs_1_1
@pytest.mark.parametrize("w", [np.ones(4), np.ones(6), np.ones((1, 5)), np.ones(()), []])
def test_weights_wrong_shape(w):
    rng = np.random.default_rng(32)
    x, labels = _data(rng, 4, 5, np.float64)
    with pytest.raises(ValueError, match="class_weights"):
        xent.cross_entropy(x, labels, class_weights=w)


@needs_1_1
@pytest.mark.parametrize("w", [np.array(["a"] * 5), np.ones(5, complex), np.ones(5, bool), [None] * 5])
def test_weights_not_real(w):
    rng = np.random.default_rng(33)
    x, labels = _data(rng, 4, 5, np.float64)
    with pytest.raises(TypeError, match="class_weights"):
        xent.cross_entropy(x, labels, class_weights=w)


@needs_1_1
@pytest.mark.parametrize("lam", [-1e-3, -1.0, np.nan, np.inf, 1e39])   # 1e39 overflows the float to inf
def test_bad_z_loss(lam):
    rng = np.random.default_rng(34)
    x, labels = _data(rng, 3, 5, np.float64)
    with pytest.raises(xent.XentError) as e:
        xent.cross_entropy(x, labels, z_loss=lam, return_z_loss=True)
    assert e.value.status == xent.ERR_INVALID_OPTION
    with pytest.raises(xent.XentError):
        xent.soft_cross_entropy(x, np.full_like(x, 0.2), z_loss=lam)


@needs_1_1
@pytest.mark.parametrize("bad", ["0.1", None, True])
def test_z_loss_type(bad):
    x = np.zeros((2, 3))
    with pytest.raises(TypeError):
        xent.cross_entropy(x, [0, 1], z_loss=bad)
    with pytest.raises(TypeError):
        xent.cross_entropy(x, [0, 1], soft_cap=bad)
    with pytest.raises(TypeError):
        xent.cross_entropy(x, [0, 1], return_z_loss="yes")


def _soft_cap_implemented():
    """The soft cap was reserved (XENT_ERR_UNSUPPORTED) when 1.1.0 options first shipped; include/xent.h now
    documents it as c*tanh(x/c). Each test below checks one state precisely."""
    try:
        xent.cross_entropy(np.zeros((1, 2)), [0], soft_cap=1.0)
    except xent.XentError as e:
        if e.status == xent.ERR_UNSUPPORTED:
            return False
        raise
    return True


@needs_1_1
@pytest.mark.parametrize("cap", [1.0, 30.0, 1e-3])
def test_soft_cap_reserved(cap):
    if _soft_cap_implemented():
        pytest.skip("this library implements the soft cap (see test_soft_cap)")
    rng = np.random.default_rng(35)
    x, labels = _data(rng, 3, 5, np.float32)
    before = x.copy()
    with pytest.raises(xent.XentError) as e:
        xent.cross_entropy(x, labels, soft_cap=cap, grad="inplace")
    assert e.value.status == xent.ERR_UNSUPPORTED == 6
    assert np.array_equal(x, before)
    with pytest.raises(xent.XentError) as e:
        xent.soft_cross_entropy(x, np.full_like(x, 0.2), soft_cap=cap)
    assert e.value.status == 6


@needs_1_1
def test_soft_cap_zero_and_invalid():
    rng = np.random.default_rng(37)
    x, labels = _data(rng, 3, 5, np.float32)
    assert xent.cross_entropy(x, labels, soft_cap=0.0) == xent.cross_entropy(x, labels)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(xent.XentError) as e:
            xent.cross_entropy(x, labels, soft_cap=bad)
        assert e.value.status == xent.ERR_INVALID_OPTION


@needs_1_1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cap", [1.0, 5.0])
@pytest.mark.parametrize("extras", ["plain", "weights+z"])
def test_soft_cap(dtype, reduction, cap, extras):
    """Where implemented (include/xent.h): logits become c*tanh(x/c) everywhere, gradient by the chain rule."""
    if not _soft_cap_implemented():
        pytest.skip("this library reserves the soft cap (see test_soft_cap_reserved)")
    rng = np.random.default_rng(38)
    x, labels = _data(rng, 13, 21, dtype, scale=6.0)
    labels[4] = -100
    kw = dict(class_weights=_weights(rng, 21, zero=(3,)), z_loss=0.05) if extras != "plain" else {}
    c = LD(np.float32(cap))
    th = np.tanh(x.astype(LD) / c)
    capped = c * th
    r = reference(capped, labels, reduction=reduction, eps=0.1, grad_scale=2.0, lam=kw.get("z_loss", 0.0),
                  weights=kw.get("class_weights"))
    r["grad"] = r["grad"] * (1 - th * th)
    r["bias"] = r["grad"].sum(axis=0)
    res = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=0.1, grad_scale=2.0, soft_cap=cap,
                             return_z_loss=True, grad=True, return_lse=True, bias_grad=True, **kw)
    # the cap itself rounds: a few ulp of c per logit
    r["loss_scale"] = r["loss_scale"] * max(1.0, float(cap))
    r["grad_tol"] = r["grad_tol"] * 4 * max(1.0, float(cap))
    r["bias_tol"] = r["bias_tol"] * 4 * max(1.0, float(cap))
    check(res, r, dtype, f"soft cap {cap} {extras} {dtype.__name__} {reduction}")


@needs_1_1
def test_class_weights_with_soft_targets():
    rng = np.random.default_rng(36)
    x, _ = _data(rng, 3, 5, np.float64)
    y = np.full_like(x, 0.2)
    with pytest.raises(xent.XentError) as e:
        xent.soft_cross_entropy(x, y, class_weights=np.ones(5), grad=True)
    assert e.value.status == xent.ERR_UNSUPPORTED
    assert "soft" in str(e.value)


# ---------------------------------------------------------------------------------------------------------------
# the result convention

@needs_1_1
def test_result_convention():
    rng = np.random.default_rng(41)
    x, labels = _data(rng, 4, 6, np.float64)
    four = xent.cross_entropy(x, labels, grad=True)
    assert len(four) == 4 and four.z_loss is None
    loss, grad, _, _ = four                      # 1.0.0 code keeps working
    five = xent.cross_entropy(x, labels, grad=True, return_z_loss=True)
    assert len(five) == 5 and five.z_loss == 0.0   # lambda = 0: z-loss 0
    loss5, grad5, lse5, bias5, z5 = five
    assert loss5 == loss and np.array_equal(grad5, grad) and lse5 is None and bias5 is None
    assert xent.CrossEntropyResult._fields == ("loss", "grad", "lse", "bias_grad", "z_loss")
    assert four._fields == ("loss", "grad", "lse", "bias_grad") and five._fields == xent.CrossEntropyResult._fields
    assert list(four._asdict()) == list(four._fields) and five._asdict()["z_loss"] == z5
    assert four._replace(z_loss=1.5).z_loss == 1.5 and len(four._replace(z_loss=1.5)) == 5
    assert len(five._replace(z_loss=None)) == 4
    assert "z_loss" not in repr(four) and "z_loss=" in repr(five)
    for r in (four, five):
        back = pickle.loads(pickle.dumps(r))
        assert type(back) is xent.CrossEntropyResult and len(back) == len(r) and back.loss == r.loss
    assert xent.CrossEntropyResult(1.0, None, None, None) == (1.0, None, None, None)
    with pytest.raises(ValueError):
        four._replace(nope=1)
    with pytest.raises(AttributeError):
        four.loss = 2


@needs_1_1
def test_z_loss_out_shape_none_and_float32():
    rng = np.random.default_rng(42)
    x, labels = _data(rng, 7, 9, np.float32)
    res = xent.cross_entropy(x, labels, reduction="none", z_loss=0.1, return_z_loss=True)
    assert res.z_loss.shape == (7,) and res.z_loss.dtype == np.float64
    assert res.loss.shape == (7,) and res.loss.dtype == np.float32
    out = np.empty(7, np.float32)
    res = xent.cross_entropy(x, labels, reduction="none", z_loss=0.1, return_z_loss=True, out=out)
    assert res.loss is out
    empty = xent.cross_entropy(np.empty((0, 9), np.float32), np.empty(0, np.int64), reduction="mean",
                               z_loss=0.1, return_z_loss=True)
    assert empty.loss == 0 and empty.z_loss == 0


# ---------------------------------------------------------------------------------------------------------------
# against a 1.0.0 library (simulated: the package decides from the loaded library's version)

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
    x, labels = _data(rng, 5, 7, np.float64)
    want = xent.cross_entropy(x, labels, grad=True, label_smoothing=0.1)
    rec = _RecordingLib(_lib.lib)
    monkeypatch.setattr(_lib, "lib", rec)
    monkeypatch.setattr(_lib, "OPTIONS_V1_1", False)
    got = xent.cross_entropy(x, labels, grad=True, label_smoothing=0.1, z_loss=0.0, soft_cap=0.0,
                             class_weights=None, return_z_loss=False)
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
    assert len(rec.sizes) == 2    # refused before any call


@needs_1_1
def test_full_struct_size_with_1_1_library(monkeypatch):
    rec = _RecordingLib(_lib.lib)
    monkeypatch.setattr(_lib, "lib", rec)
    x = np.zeros((2, 3))
    xent.cross_entropy(x, [0, 1])
    assert rec.sizes == [ctypes.sizeof(_lib.Options)]
    # the 1.1.0 layout of include/xent.h on an LP64 platform
    assert _lib.OPTIONS_V1_SIZE == 32 and ctypes.sizeof(_lib.Options) == 56
    assert (_lib.Options.z_loss.offset, _lib.Options.soft_cap.offset, _lib.Options.class_weights.offset,
            _lib.Options.z_loss_out.offset) == (32, 36, 40, 48)


@needs_1_1
def test_options_init_defaults_1_1():
    o = _lib.Options()
    o.z_loss, o.soft_cap = 5.0, 6.0
    init = _lib.lib.xent_options_init_size
    init.argtypes, init.restype = [ctypes.POINTER(_lib.Options), ctypes.c_size_t], None
    init(ctypes.byref(o), ctypes.sizeof(_lib.Options))
    assert (o.z_loss, o.soft_cap, o.class_weights, o.z_loss_out) == (0.0, 0.0, None, None)
    assert o.struct_size == ctypes.sizeof(_lib.Options)
    # The plain function leaves the 1.1.0 fields alone (a 1.0.0 caller's struct ends before them).
    o.z_loss = 5.0
    _lib.lib.xent_options_init(ctypes.byref(o))
    assert o.z_loss == 5.0 and o.struct_size == _lib.OPTIONS_V1_SIZE


# ---------------------------------------------------------------------------------------------------------------
# PyTorch (optional)

@needs_1_1
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("z", [0.0, 0.01])
@pytest.mark.parametrize("cap", [0.0, 7.5])
def test_vs_torch(reduction, smoothing, z, cap):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(61)
    x, labels = _data(rng, 33, 57, np.float64)
    labels[[2, 9]] = -100
    w = rng.uniform(0.1, 2.0, size=57)
    w[[3, 4]] = 0.0
    labels[5] = 3
    eps = float(np.float32(smoothing))
    lam = float(np.float32(z))
    tx = torch.tensor(x, requires_grad=True)
    tlab = torch.tensor(labels)
    tc = cap * torch.tanh(tx / cap) if cap else tx   # the Gemma 2 soft cap, then everything on tc
    tl = F.cross_entropy(tc, tlab, weight=torch.tensor(w), ignore_index=-100, label_smoothing=eps,
                         reduction=reduction)
    counted = tlab != -100
    zrow = lam * torch.logsumexp(tc, 1) ** 2 * counted
    tz = {"none": zrow, "sum": zrow.sum(), "mean": zrow.sum() / counted.sum()}[reduction]
    (tl.sum() + tz.sum()).backward()
    res = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=smoothing, class_weights=w,
                             z_loss=z, return_z_loss=True, grad=True, soft_cap=cap)
    np.testing.assert_allclose(res.loss, tl.detach().numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.z_loss, tz.detach().numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.grad, tx.grad.numpy(), rtol=1e-11, atol=1e-13)
