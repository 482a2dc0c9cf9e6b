"""The soft_cap option: logits become c*tanh(x/c) everywhere (loss, lse, smoothing, z-loss), the gradient follows
the chain rule. A library may reserve the field (XENT_ERR_UNSUPPORTED for any value but 0): each state has its
tests, and the ones of the other state skip."""

import numpy as np
import pytest

import _reference as ref
import xent
from helpers import (
    DTYPES,
    OPTIONS_RTOL,
    REDUCTIONS,
    check_cross_entropy_result,
    class_weights,
    logits_and_labels,
    needs_1_1,
    sweep,
)

pytestmark = needs_1_1


def _soft_cap_implemented():
    """False when the loaded library reserves the soft cap (ERR_UNSUPPORTED), True when it computes it."""
    try:
        xent.cross_entropy(np.zeros((1, 2)), [0], soft_cap=1.0)
    except xent.XentError as e:
        if e.status == xent.ERR_UNSUPPORTED:
            return False
        raise
    return True


@pytest.mark.parametrize("cap", [1.0, 30.0, 1e-3])
def test_soft_cap_reserved(cap):
    if _soft_cap_implemented():
        pytest.skip("this library implements the soft cap (see test_soft_cap)")
    rng = np.random.default_rng(35)
    x, labels = logits_and_labels(rng, 3, 5, np.float32)
    before = x.copy()
    with pytest.raises(xent.XentError) as e:
        xent.cross_entropy(x, labels, soft_cap=cap, grad="inplace")
    assert e.value.status == xent.ERR_UNSUPPORTED
    assert np.array_equal(x, before)
    with pytest.raises(xent.XentError) as e:
        xent.soft_cross_entropy(x, np.full_like(x, 0.2), soft_cap=cap)
    assert e.value.status == xent.ERR_UNSUPPORTED


def test_soft_cap_zero_and_invalid():
    rng = np.random.default_rng(37)
    x, labels = logits_and_labels(rng, 3, 5, np.float32)
    assert xent.cross_entropy(x, labels, soft_cap=0.0) == xent.cross_entropy(x, labels)
    for bad in (-1.0, np.nan, np.inf):
        with pytest.raises(xent.XentError) as e:
            xent.cross_entropy(x, labels, soft_cap=bad)
        assert e.value.status == xent.ERR_INVALID_OPTION


@sweep(dtype=DTYPES, reduction=REDUCTIONS, cap=[1.0, 5.0], extras=["plain", "weights+z"])
def test_soft_cap(dtype, reduction, cap, extras):
    """Where implemented (include/xent.h): logits become c*tanh(x/c) everywhere, gradient by the chain rule."""
    if not _soft_cap_implemented():
        pytest.skip("this library reserves the soft cap (see test_soft_cap_reserved)")
    rng = np.random.default_rng(38)
    x, labels = logits_and_labels(rng, 13, 21, dtype, scale=6.0)
    labels[4] = -100
    kw = dict(class_weights=class_weights(rng, 21, zero=(3,)), z_loss=0.05) if extras != "plain" else {}
    c = ref.LD(np.float32(cap))
    th = np.tanh(x.astype(ref.LD) / c)
    r = ref.cross_entropy(c * th, labels, reduction, -100, 0.1, 2.0, **kw)
    r["grad"] = r["grad"] * (1 - th * th)
    r["bias"] = r["grad"].sum(axis=0)
    res = xent.cross_entropy(
        x,
        labels,
        reduction=reduction,
        label_smoothing=0.1,
        grad_scale=2.0,
        soft_cap=cap,
        return_z_loss=True,
        grad=True,
        return_lse=True,
        bias_grad=True,
        **kw,
    )
    # the cap itself rounds: a few ulp of c per logit
    r["loss_scale"] = r["loss_scale"] * max(1.0, float(cap))
    r["grad_scale"] = r["grad_scale"] * 4 * max(1.0, float(cap))
    r["bias_scale"] = r["bias_scale"] * 4 * max(1.0, float(cap))
    check_cross_entropy_result(
        res,
        r,
        dtype,
        False,
        reduction,
        want_z=True,
        rtol=OPTIONS_RTOL[np.dtype(dtype)],
        ctx=f"soft cap {cap} {extras} {dtype.__name__} {reduction}",
    )
