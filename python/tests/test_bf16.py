"""bfloat16 logits: equal to the float32 path on the widened logits; the bfloat16 gradient is the float32
gradient rounded to nearest-even; in place; errors."""

import numpy as np
import pytest

import xent
from _reference import bf16_round as to_bf16
from _reference import bf16_widen as widen


@pytest.mark.parametrize("cols", [1, 7, 300, 70001])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_matches_float32(cols, reduction):
    rng = np.random.default_rng(cols)
    rows = 3 if cols > 10000 else 11
    h = to_bf16(rng.standard_normal((rows, cols)).astype(np.float32) * 4)
    x = widen(h)
    labels = rng.integers(0, cols, rows)
    labels[1] = -100
    ref = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=0.1, grad=True, return_lse=True)
    got = xent.cross_entropy_bf16(h, labels, reduction=reduction, label_smoothing=0.1, grad="f32", return_lse=True)
    assert np.array_equal(got.loss, ref.loss) and np.array_equal(got.grad, ref.grad)
    assert np.array_equal(got.lse, ref.lse)
    got16 = xent.cross_entropy_bf16(h, labels, reduction=reduction, label_smoothing=0.1, grad="bf16")
    assert got16.grad.dtype == np.uint16
    assert np.array_equal(got16.grad, to_bf16(ref.grad))
    if reduction == "none":
        assert np.array_equal(got16.loss, ref.loss)
    else:
        assert abs(got16.loss - ref.loss) <= 4e-7 * abs(ref.loss)


def test_inplace_and_strided():
    rng = np.random.default_rng(2)
    wide = to_bf16(rng.standard_normal((5, 40)).astype(np.float32))
    h = wide[:, :33]  # row-strided view, no copy
    labels = np.array([0, 5, 32, 7, 1])
    out = xent.cross_entropy_bf16(h, labels, grad="bf16")
    copy = wide.copy()
    loss = xent.cross_entropy_bf16(copy[:, :33], labels, grad="inplace").loss
    assert loss == out.loss and np.array_equal(copy[:, :33], out.grad)
    assert np.array_equal(copy[:, 33:], wide[:, 33:])  # the gaps between rows are untouched


def test_errors():
    h = to_bf16(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError):
        xent.cross_entropy_bf16(np.zeros((2, 4), np.float32), [0, 1])
    with pytest.raises(xent.XentError, match="row 1"):
        xent.cross_entropy_bf16(h, [0, 4])
    with pytest.raises(ValueError):
        xent.cross_entropy_bf16(h, [0, 1], grad="f16")
