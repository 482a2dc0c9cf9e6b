"""-inf masking, all -inf rows, NaN/+inf row isolation, huge finite logits."""

import numpy as np
import pytest

import _reference as ref
import xent
from helpers import DTYPES, check_cross_entropy_result, compare_with_reference

INF, NAN = np.inf, np.nan


def _special_matrix(dtype):
    x = np.array(
        [
            [1.0, 2.0, 3.0, 0.5, -1.0, 0.0],  # 0 normal
            [-INF, 2.0, -INF, 0.5, -INF, 1.0],  # 1 masked entries
            [-INF] * 6,  # 2 all -inf
            [1.0, NAN, 3.0, 0.5, -1.0, 0.0],  # 3 NaN
            [1.0, 2.0, INF, 0.5, -1.0, 0.0],  # 4 +inf
            [1e30, -1e30, 1e30, 0.0, 5.0, -5.0],  # 5 huge
            [-1e30, -1e30, -1e30, -1e30, -1e30, -1e30],  # 6 huge negative, all equal
            [3.0, 1.0, -INF, 0.0, 2.0, 1.0],  # 7 label on a -inf logit
        ],
        dtype=dtype,
    )
    labels = np.array([2, 3, 1, 0, 1, 0, 4, 2])
    return x, labels


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_special_rows(dtype, reduction, smoothing):
    x, labels = _special_matrix(dtype)
    opts = dict(reduction=reduction, label_smoothing=smoothing, grad_scale=2.0)
    res, _ = compare_with_reference("cross_entropy", x, labels, opts, ctx=f"{reduction} eps={smoothing}")
    # spelled out, independent of the reference implementation
    assert np.isneginf(res.lse[2]) and np.isnan(res.lse[3]) and np.isnan(res.lse[4])
    assert np.isnan(res.grad[3]).all() and np.isnan(res.grad[4]).all()
    assert np.isfinite(res.grad[[0, 1, 2, 5, 6, 7]]).all()
    if reduction == "none":
        assert np.isposinf(res.loss[2]) and np.isposinf(res.loss[7])
        assert np.isnan(res.loss[3]) and np.isnan(res.loss[4])
        assert np.isfinite(res.loss[[0, 5, 6]]).all()
        assert np.isfinite(res.loss[1]) == (smoothing == 0)  # smoothing puts mass on the masked entries
    else:
        assert np.isnan(res.loss)
    s = 2.0 / (8 if reduction == "mean" else 1)
    t = np.full(6, smoothing / 6)
    t[labels[2]] += 1 - smoothing
    np.testing.assert_allclose(res.grad[2], -s * t, rtol=1e-6)  # all -inf row: grad = -s*t
    if smoothing == 0:
        assert (res.grad[1][np.isneginf(x[1])] == 0).all()  # masked entries: probability 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_row_isolation(dtype, rng):
    x = rng.standard_normal((6, 40)).astype(dtype)
    labels = rng.integers(0, 40, size=6)
    clean = xent.cross_entropy(x, labels, reduction="none", grad=True, return_lse=True)
    y = x.copy()
    y[2, 17] = np.nan
    y[4, 0] = np.inf
    dirty = xent.cross_entropy(y, labels, reduction="none", grad=True, return_lse=True)
    for r in (2, 4):
        assert np.isnan(dirty.loss[r]) and np.isnan(dirty.lse[r]) and np.isnan(dirty.grad[r]).all()
    keep = [0, 1, 3, 5]
    np.testing.assert_array_equal(dirty.loss[keep], clean.loss[keep])
    np.testing.assert_array_equal(dirty.grad[keep], clean.grad[keep])
    np.testing.assert_array_equal(dirty.lse[keep], clean.lse[keep])
    for fn in (xent.softmax, xent.log_softmax):
        a, b = fn(x), fn(y)
        assert np.isnan(b[[2, 4]]).all()
        np.testing.assert_array_equal(a[keep], b[keep])
    lse = xent.logsumexp(y)
    assert np.isnan(lse[[2, 4]]).all()
    np.testing.assert_array_equal(lse[keep], xent.logsumexp(x)[keep])


@pytest.mark.parametrize("dtype", DTYPES)
def test_ignored_nan_row_does_not_poison_mean(dtype, rng):
    """An ignored row has loss 0 and a zero gradient whatever its logits are."""
    x = rng.standard_normal((4, 9)).astype(dtype)
    x[1, 3] = np.nan
    labels = np.array([1, -100, 2, 3])
    res = xent.cross_entropy(x, labels, grad=True, return_lse=True)
    r = ref.cross_entropy(x, labels, "mean")
    ref.assert_close(res.loss, r["loss"], ref.RTOL[np.dtype(dtype)], r["loss_scale"], "loss")
    assert (res.grad[1] == 0).all()
    assert np.isnan(res.lse[1])


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_neg_inf_primitives(dtype):
    x = np.array([[-np.inf] * 5, [0.0, -np.inf, 1.0, -np.inf, 2.0]], dtype)
    assert np.isneginf(xent.logsumexp(x)[0])
    sm = xent.softmax(x)
    assert (sm[0] == 0).all() and (sm[1, [1, 3]] == 0).all()
    ls = xent.log_softmax(x)
    assert np.isneginf(ls[0]).all() and np.isneginf(ls[1, [1, 3]]).all()
    ref.assert_close(sm, ref.softmax(x), ref.RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_logits(dtype):
    x = np.array([[1e30, 1e30, 0.0], [-1e30, 3.0, 1e30], [1e30, 1e30 * (1 + 1e-6), -1e30]], dtype)
    labels = np.array([0, 1, 1])
    res = xent.cross_entropy(x, labels, reduction="none", grad=True, return_lse=True)
    r = ref.cross_entropy(x, labels, "none")
    check_cross_entropy_result(res, r, dtype, False, "none", want_bias=False)
    assert np.isfinite(res.loss).all() and np.isfinite(res.grad).all()
    np.testing.assert_allclose(res.grad[0], [-0.5, 0.5, 0.0], atol=1e-6)
    np.testing.assert_allclose(res.loss[0], np.log(2), rtol=1e-6)  # no cancellation: computed as (m - x) + log s
    sm = xent.softmax(x)
    ref.assert_close(sm, ref.softmax(x), ref.RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_targets_special(dtype):
    x = np.array([[0.0, -np.inf, 1.0, 2.0], [-np.inf] * 4, [1.0, np.nan, 0.0, 0.0], [0.0, -np.inf, 1.0, 2.0]], dtype)
    t = np.array([[0.2, 0.0, 0.3, 0.5], [0.25] * 4, [0.25] * 4, [0.2, 0.1, 0.3, 0.4]], dtype)
    res = xent.soft_cross_entropy(x, t, reduction="none", grad=True, return_lse=True, bias_grad=True)
    r = ref.soft_cross_entropy(x, t, "none")
    check_cross_entropy_result(res, r, dtype, False, "none")
    assert np.isfinite(res.loss[0])  # -inf logit with zero target counts 0
    assert np.isposinf(res.loss[1]) and np.isposinf(res.loss[3])  # all -inf; -inf with a nonzero target
    assert np.isnan(res.loss[2]) and np.isnan(res.grad[2]).all()
    np.testing.assert_allclose(res.grad[1], -t[1], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_soft_nan_row_with_zero_targets_is_nan(dtype, bad):
    """include/xent.h: a NaN or +inf logit makes that row's loss NaN -- also when the row's targets are all 0
    (the 't_j == 0 counts as 0' rule is for -inf logits; lse itself is NaN)."""
    x = np.array([[bad, 1.0], [0.5, 1.0]], dtype)
    t = np.array([[0.0, 0.0], [0.5, 0.5]], dtype)
    res = xent.soft_cross_entropy(x, t, reduction="none", grad=True, return_lse=True)
    assert np.isnan(res.lse[0]) and np.isnan(res.grad[0]).all()
    assert np.isnan(res.loss[0]), f"row with a {bad} logit and zero targets: loss {res.loss[0]} (expected NaN)"
    assert np.isnan(xent.soft_cross_entropy(x, t, reduction="sum"))
