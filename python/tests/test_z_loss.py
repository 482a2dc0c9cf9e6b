"""The z-loss option (z_loss, return_z_loss) against the extended-precision reference (_reference.py).

z_i = lambda*lse_i^2 per counted (non-ignored) row, reduced like the loss but "mean" always divides by the number of
counted rows; returned separately, never added to the loss; the gradient gains s_z*2*lambda*lse_i*softmax_i.
"""

import numpy as np
import pytest

import _reference as ref
import xent
from helpers import (
    DTYPES,
    OPTIONS_RTOL,
    REDUCTIONS,
    check_cross_entropy_result,
    compare_with_reference,
    logits_and_labels,
    needs_1_1,
    sweep,
)

pytestmark = needs_1_1


@sweep(dtype=DTYPES, reduction=REDUCTIONS, ignore=[False, True], smoothing=[0.0, 0.1], lam=[0.0, 1e-4, 0.3])
def test_z_loss(dtype, reduction, ignore, smoothing, lam):
    rng = np.random.default_rng(11)
    x, labels = logits_and_labels(rng, 19, 41, dtype)
    if ignore:
        labels[[0, 7, 8]] = -7
    opts = dict(reduction=reduction, ignore_index=-7, label_smoothing=smoothing, grad_scale=2.5, z_loss=lam)
    rtol = OPTIONS_RTOL[np.dtype(dtype)]
    res, r = compare_with_reference("cross_entropy", x, labels, opts, z=True, rtol=rtol, ctx=f"{dtype.__name__} {opts}")
    if reduction == "none" and ignore:
        assert (res.z_loss[[0, 7, 8]] == 0).all() and (res.loss[[0, 7, 8]] == 0).all()
        assert (res.grad[[0, 7, 8]] == 0).all()
    # the z-loss is never added to the loss: the loss is the one without z-loss (same value up to rounding)
    plain = xent.cross_entropy(x, labels, reduction=reduction, ignore_index=-7, label_smoothing=smoothing)
    ref.assert_close(res.loss, plain, rtol, r["loss_scale"], "loss unchanged by z_loss")


@sweep(dtype=DTYPES, reduction=REDUCTIONS, requested=["grad", "z_loss"])
def test_z_loss_partial_requests(dtype, reduction, requested):
    """z_loss > 0 with only the gradient requested (it has the z-loss term; the result keeps four elements), or only
    the z-loss (five elements, the others None); the loss alone is a plain scalar or array."""
    rng = np.random.default_rng(12)
    x, labels = logits_and_labels(rng, 9, 30, dtype)
    opts = dict(reduction=reduction, z_loss=0.05)
    rtol = OPTIONS_RTOL[np.dtype(dtype)]
    grad, z = ("new", False) if requested == "grad" else ("none", True)
    res, r = compare_with_reference(
        "cross_entropy", x, labels, opts, grad=grad, lse=False, bias=False, z=z, rtol=rtol, ctx=requested
    )
    assert res.lse is None and res.bias_grad is None and (res.grad is None) == (requested == "z_loss")
    only_loss = xent.cross_entropy(x, labels, **opts)
    assert not isinstance(only_loss, xent.CrossEntropyResult)
    check_cross_entropy_result(only_loss, r, dtype, False, reduction, rtol=rtol, ctx="loss only " + reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_z_loss_all_rows_ignored(reduction):
    rng = np.random.default_rng(14)
    x, _ = logits_and_labels(rng, 4, 10, np.float64)
    labels = np.full(4, -100)
    res = xent.cross_entropy(x, labels, reduction=reduction, z_loss=0.5, return_z_loss=True, grad=True)
    assert np.all(np.asarray(res.z_loss) == 0) and np.all(np.asarray(res.loss) == 0)
    assert np.all(res.grad == 0)


@sweep(dtype=DTYPES, reduction=REDUCTIONS, smoothing=[0.0, 0.1])
def test_z_loss_soft_targets(dtype, reduction, smoothing):
    rng = np.random.default_rng(15)
    x, _ = logits_and_labels(rng, 11, 23, dtype)
    y = rng.dirichlet(np.ones(23), size=11).astype(dtype)
    opts = dict(reduction=reduction, label_smoothing=smoothing, grad_scale=0.5, z_loss=0.1)
    rtol = OPTIONS_RTOL[np.dtype(dtype)]
    compare_with_reference("soft_cross_entropy", x, y, opts, z=True, rtol=rtol, ctx=f"soft {dtype.__name__} {opts}")


def test_z_loss_out_shape_none_and_float32():
    rng = np.random.default_rng(42)
    x, labels = logits_and_labels(rng, 7, 9, np.float32)
    res = xent.cross_entropy(x, labels, reduction="none", z_loss=0.1, return_z_loss=True)
    assert res.z_loss.shape == (7,) and res.z_loss.dtype == np.float64
    assert res.loss.shape == (7,) and res.loss.dtype == np.float32
    out = np.empty(7, np.float32)
    res = xent.cross_entropy(x, labels, reduction="none", z_loss=0.1, return_z_loss=True, out=out)
    assert res.loss is out
    empty = xent.cross_entropy(
        np.empty((0, 9), np.float32), np.empty(0, np.int64), reduction="mean", z_loss=0.1, return_z_loss=True
    )
    assert empty.loss == 0 and empty.z_loss == 0


@pytest.mark.parametrize("lam", [-1e-3, -1.0, np.nan, np.inf, 1e39])  # 1e39 overflows the float to inf
def test_bad_z_loss(lam):
    rng = np.random.default_rng(34)
    x, labels = logits_and_labels(rng, 3, 5, np.float64)
    with pytest.raises(xent.XentError) as e:
        xent.cross_entropy(x, labels, z_loss=lam, return_z_loss=True)
    assert e.value.status == xent.ERR_INVALID_OPTION
    with pytest.raises(xent.XentError):
        xent.soft_cross_entropy(x, np.full_like(x, 0.2), z_loss=lam)


@pytest.mark.parametrize("bad", ["0.1", None, True])
def test_z_loss_type(bad):
    x = np.zeros((2, 3))
    with pytest.raises(TypeError):
        xent.cross_entropy(x, [0, 1], z_loss=bad)
    with pytest.raises(TypeError):
        xent.cross_entropy(x, [0, 1], soft_cap=bad)
    with pytest.raises(TypeError):
        xent.cross_entropy(x, [0, 1], return_z_loss="yes")


@pytest.mark.parametrize("fn", ["cross_entropy", "soft_cross_entropy", "cross_entropy_bf16", "linear_cross_entropy"])
def test_z_loss_zero_lambda_none_is_zeros(fn, monkeypatch):
    """return_z_loss=True with z_loss=0 and reduction "none" gives rows zeros. (libxent 1.1.0-1.2.0 leaves that
    output unwritten for the rows its kernel takes 8 at a time, here 16 of 19, and writes the rest; the package hands
    it zeroed memory. np.empty is poisoned with NaN here so that the test can fail.)"""
    if fn == "linear_cross_entropy" and not xent.linear_cross_entropy_available():
        pytest.skip("the loaded library is older than 1.2.0")
    rng = np.random.default_rng(43)
    x, labels = logits_and_labels(rng, 19, 5, np.float32)
    args = {
        "cross_entropy": (x, labels),
        "soft_cross_entropy": (x, np.full_like(x, 0.2)),
        "cross_entropy_bf16": (ref.bf16_round(x), labels),
        "linear_cross_entropy": (x, rng.standard_normal((4, 5)).astype(np.float32), labels % 4),
    }[fn]
    empty = np.empty

    def poisoned(shape, dtype=float, order="C", **kw):
        a = empty(shape, dtype, order, **kw)
        if a.dtype.kind == "f":
            a.fill(np.nan)
        return a

    monkeypatch.setattr(np, "empty", poisoned)
    res = getattr(xent, fn)(*args, reduction="none", return_z_loss=True)
    assert res.z_loss.shape == (19,) and not res.z_loss.any(), res.z_loss
