"""The class_weights option (PyTorch semantics) against the extended-precision reference (_reference.py).

T = (1 - eps)*w[label]*onehot + eps*w/cols, loss_i = sum_j T_j (lse - x_j), "mean" divides by sum(w[label_i])
over the counted rows, gradient s*(sum(T)*softmax - T). Hard labels only.
"""

import numpy as np
import pytest

import _reference as ref
import xent
from helpers import (
    DTYPES,
    OPTIONS_RTOL,
    REDUCTIONS,
    class_weights,
    compare_with_reference,
    logits_and_labels,
    needs_1_1,
    sweep,
)

pytestmark = needs_1_1


@sweep(dtype=DTYPES, reduction=REDUCTIONS, smoothing=[0.0, 0.1], ignore=[False, True])
def test_class_weights(dtype, reduction, smoothing, ignore):
    rng = np.random.default_rng(21)
    x, labels = logits_and_labels(rng, 23, 37, dtype)
    w = class_weights(rng, 37, zero=(1, 5))
    labels[3] = 1  # a row whose label has weight 0
    labels[4] = 5
    if ignore:
        labels[[0, 10]] = -100
    opts = dict(reduction=reduction, label_smoothing=smoothing, grad_scale=1.5, class_weights=w)
    what = f"{dtype.__name__} {reduction} eps={smoothing} ignore={ignore}"
    rtol = OPTIONS_RTOL[np.dtype(dtype)]
    res, r = compare_with_reference("cross_entropy", x, labels, opts, rtol=rtol, ctx=what)
    if reduction == "mean":
        # the MEAN denominator is sum(w[label]) over counted rows, not their number
        counted = labels != -100
        per_row = ref.cross_entropy(x, labels, **dict(opts, reduction="none"))["loss"]
        mean = per_row.sum() / w[labels[counted]].sum()
        ref.assert_close(res.loss, mean, rtol, r["loss_scale"], "mean denominator " + what)
    if smoothing == 0:
        # a zero-weight label contributes nothing without smoothing
        assert np.all(res.grad[3] == 0) and np.all(res.grad[4] == 0)


@sweep(dtype=DTYPES, reduction=REDUCTIONS, smoothing=[0.0, 0.1])
def test_class_weights_and_z_loss(dtype, reduction, smoothing):
    rng = np.random.default_rng(22)
    x, labels = logits_and_labels(rng, 17, 29, dtype)
    w = class_weights(rng, 29, zero=(2,))
    labels[[1, 6]] = -100
    labels[2] = 2
    opts = dict(reduction=reduction, label_smoothing=smoothing, grad_scale=3.0, z_loss=0.02, class_weights=w)
    rtol = OPTIONS_RTOL[np.dtype(dtype)]
    compare_with_reference("cross_entropy", x, labels, opts, z=True, rtol=rtol, ctx=f"{dtype.__name__} {opts}")


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_one_d(dtype, reduction):
    rng = np.random.default_rng(23)
    x = (rng.standard_normal(31) * 2).astype(dtype)
    w = class_weights(rng, 31, zero=(0,))
    opts = dict(reduction=reduction, label_smoothing=0.1, z_loss=0.1, class_weights=w)
    rtol = OPTIONS_RTOL[np.dtype(dtype)]
    res, _ = compare_with_reference("cross_entropy", x, 4, opts, z=True, rtol=rtol, ctx=f"1-D {reduction}")
    assert np.ndim(res.loss) == 0 and np.ndim(res.z_loss) == 0 and np.ndim(res.lse) == 0
    assert res.grad.shape == x.shape


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_class_weights_all_zero_for_the_labels(reduction):
    """MEAN with sum(w[label]) == 0: the loss is 0 and the gradient zero (like the mean of no rows; PyTorch
    gives NaN)."""
    rng = np.random.default_rng(24)
    x, _ = logits_and_labels(rng, 5, 8, np.float64)
    w = np.ones(8)
    w[3] = 0
    labels = np.full(5, 3)
    res = xent.cross_entropy(x, labels, reduction=reduction, class_weights=w, grad=True)
    assert np.all(np.asarray(res.loss) == 0) and np.all(res.grad == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_class_weights_long_rows(dtype):
    """Rows of >= 65536 classes take the column-block path: weighted smoothing and z-loss there too."""
    rng = np.random.default_rng(25)
    cols = 70001
    x, labels = logits_and_labels(rng, 3, cols, dtype, scale=4.0)
    x[1, 50000] = 40.0  # the row maximum in a later block
    opts = dict(label_smoothing=0.1, z_loss=0.01, class_weights=rng.uniform(0, 2, size=cols))
    rtol = OPTIONS_RTOL[np.dtype(dtype)]
    for threads in (1, 2):
        compare_with_reference(
            "cross_entropy", x, labels, opts, z=True, rtol=rtol, ctx=f"{threads}", num_threads=threads
        )


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


def test_class_weights_conversion():
    """Any array-like of real numbers is converted (once) to contiguous float64; results are identical."""
    rng = np.random.default_rng(27)
    x, labels = logits_and_labels(rng, 8, 6, np.float64)
    w64 = np.array([1.0, 2.0, 0.0, 3.0, 0.5, 4.0])
    want = xent.cross_entropy(x, labels, class_weights=w64, grad=True)
    variants = [w64.tolist(), [1, 2, 0, 3, 0.5, 4], w64.astype(np.float32), np.repeat(w64, 2)[::2], tuple(w64)]
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


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf, -np.inf])
def test_bad_weight_values(bad):
    rng = np.random.default_rng(31)
    x, labels = logits_and_labels(rng, 4, 5, np.float32)
    before = x.copy()
    w = np.ones(5)
    w[2] = bad
    with pytest.raises(xent.XentError) as e:
        xent.cross_entropy(x, labels, class_weights=w, grad="inplace")
    assert e.value.status == xent.ERR_INVALID_OPTION
    assert np.array_equal(x, before)  # nothing written


@pytest.mark.parametrize("w", [np.ones(4), np.ones(6), np.ones((1, 5)), np.ones(()), []])
def test_weights_wrong_shape(w):
    rng = np.random.default_rng(32)
    x, labels = logits_and_labels(rng, 4, 5, np.float64)
    with pytest.raises(ValueError, match="class_weights"):
        xent.cross_entropy(x, labels, class_weights=w)


@pytest.mark.parametrize("w", [np.array(["a"] * 5), np.ones(5, complex), np.ones(5, bool), [None] * 5])
def test_weights_not_real(w):
    rng = np.random.default_rng(33)
    x, labels = logits_and_labels(rng, 4, 5, np.float64)
    with pytest.raises(TypeError, match="class_weights"):
        xent.cross_entropy(x, labels, class_weights=w)


def test_class_weights_with_soft_targets():
    rng = np.random.default_rng(36)
    x, _ = logits_and_labels(rng, 3, 5, np.float64)
    y = np.full_like(x, 0.2)
    with pytest.raises(xent.XentError) as e:
        xent.soft_cross_entropy(x, y, class_weights=np.ones(5), grad=True)
    assert e.value.status == xent.ERR_UNSUPPORTED
    assert "soft" in str(e.value)
