"""Hypothesis property tests: random shapes, strides, options and values (including special values) against
the extended-precision reference."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _reference as ref
import xent
from helpers import GRAD_MODES, compare_with_reference

# example count from the active profile (conftest.py: XENT_HYPOTHESIS_PROFILE=thorough for 3000 examples)
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPECIALS = [-np.inf, np.inf, np.nan, 1e30, -1e30, 0.0, 1e-30]


@st.composite
def matrices(draw, max_rows=12, max_cols=40, specials=True):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    one_d = draw(st.booleans()) and draw(st.booleans())
    rows = 1 if one_d else draw(st.integers(0, max_rows))
    cols = draw(st.integers(1, max_cols))
    pad = 0 if one_d else draw(st.sampled_from([0, 0, 1, 2, 5, 8]))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.01, 1.0, 5.0, 30.0]))
    rng = np.random.default_rng(seed)
    base = (rng.standard_normal((rows, cols + pad)) * scale).astype(dtype)
    base[:, cols:] = np.nan
    if specials and draw(st.integers(0, 3)) == 0:
        n = draw(st.integers(1, 4))
        for _ in range(n):
            v = draw(st.sampled_from(SPECIALS))
            if rows:
                base[rng.integers(rows), rng.integers(cols)] = v
        if rows and draw(st.booleans()):
            base[rng.integers(rows), :cols] = -np.inf  # an all -inf row
    x = base[:, :cols]
    if one_d:
        x = np.ascontiguousarray(x[0])
    return x, rng


OPTIONS = st.fixed_dictionaries(
    {
        "reduction": st.sampled_from(["none", "sum", "mean"]),
        "label_smoothing": st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0, width=32)),
        # |grad_scale| >= 1e-30: the documented error bounds are relative to |grad_scale|, which float32 gradients
        # cannot meet once they are subnormal
        "grad_scale": st.one_of(
            st.just(1.0), st.just(0.0), st.floats(-8.0, 8.0, width=32).filter(lambda v: abs(v) >= 1e-30)
        ),
    }
)
GRAD_MODE = st.sampled_from(GRAD_MODES)


@SETTINGS
@given(
    m=matrices(),
    opts=OPTIONS,
    grad_mode=GRAD_MODE,
    ignore=st.sampled_from([-100, -1, 0, 3]),
    frac_ignored=st.sampled_from([0.0, 0.2, 1.0]),
    bias=st.booleans(),
)
def test_cross_entropy_property(m, opts, grad_mode, ignore, frac_ignored, bias):
    x, rng = m
    rows, cols = (1, x.shape[0]) if x.ndim == 1 else x.shape
    labels = rng.integers(0, cols, size=rows)
    labels[rng.random(rows) < frac_ignored] = ignore
    if x.ndim == 1:
        labels = int(labels[0])
    x_before = x.copy()
    opts = dict(opts, ignore_index=ignore)
    ctx = f"{x.dtype} {x.shape} strides={x.strides} {opts} {grad_mode}"
    compare_with_reference("cross_entropy", x, labels, opts, grad=grad_mode, bias=bias, ctx=ctx)
    if grad_mode != "inplace":
        np.testing.assert_array_equal(x, x_before)  # inputs are never modified


@SETTINGS
@given(
    m=matrices(),
    opts=OPTIONS,
    grad_mode=GRAD_MODE,
    tpad=st.sampled_from([0, 2]),
    tkind=st.sampled_from(["uniform", "sparse", "negative", "onehot"]),
    bias=st.booleans(),
)
def test_soft_cross_entropy_property(m, opts, grad_mode, tpad, tkind, bias):
    x, rng = m
    rows, cols = (1, x.shape[0]) if x.ndim == 1 else x.shape
    if tkind == "uniform":
        t = rng.uniform(0, 2, size=(rows, cols + tpad))
    elif tkind == "sparse":
        t = rng.uniform(0, 1, size=(rows, cols + tpad)) * (rng.random((rows, cols + tpad)) < 0.3)
    elif tkind == "negative":
        t = rng.uniform(-1, 1, size=(rows, cols + tpad))
    else:
        t = np.eye(cols + tpad)[rng.integers(0, cols, size=rows)]
    if tkind == "negative" and np.isneginf(x).any():
        t = np.abs(t)  # -inf logits with negative targets: +inf and -inf terms, no defined loss
    t = t.astype(x.dtype)[:, :cols]
    if x.ndim == 1:
        t = np.ascontiguousarray(t[0])
    # an all -inf row with zero total target weight has no defined loss in the spec: avoid it
    x2, t2 = ref.as2d(x), ref.as2d(t)
    eps = float(np.float32(opts["label_smoothing"]))
    for i in range(rows):
        if np.isneginf(x2[i]).all() and not ((1 - eps) * t2[i] + eps / cols != 0).any():
            t2[i, 0] = 1
    ctx = f"{x.dtype} {x.shape} strides={x.strides} {opts} {tkind}"
    compare_with_reference("soft_cross_entropy", x, t, opts, grad=grad_mode, bias=bias, ctx=ctx)


@SETTINGS
@given(m=matrices(), out_kind=st.sampled_from(["new", "inplace", "out", "out_strided"]))
def test_primitives_property(m, out_kind):
    x, _ = m
    rtol = ref.RTOL[x.dtype]
    lse = xent.logsumexp(x)
    ref.assert_close(np.asarray(lse).reshape(-1), ref.lse(x), rtol, ref.lse_scale(x), "logsumexp")
    for name in ("softmax", "log_softmax"):
        expected = getattr(ref, name)(x).reshape(x.shape)
        scale = 1.0 if name == "softmax" else np.maximum(1, np.abs(np.where(np.isfinite(expected), expected, 0)))
        src = x.copy() if out_kind == "inplace" else x
        if out_kind == "new":
            got = getattr(xent, name)(src)
        elif out_kind == "inplace":
            got = getattr(xent, name)(src, out=src)
            assert got is src
        else:
            pad = 0 if out_kind == "out" or x.ndim == 1 else 3
            shape = x.shape if x.ndim == 1 else (x.shape[0], x.shape[1] + pad)
            buf = np.full(shape, 7.0, x.dtype)
            out = buf if x.ndim == 1 else buf[:, : x.shape[1]]
            got = getattr(xent, name)(src, out=out)
            assert got is out
            if pad:
                assert (buf[:, x.shape[1] :] == 7).all()
        ref.assert_close(got, expected, rtol, scale, f"{name} {x.dtype} {x.shape} {x.strides}")


@SETTINGS
@given(m=matrices(specials=False), shift=st.floats(-50, 50))
def test_softmax_invariants(m, shift):
    """softmax rows sum to 1, log_softmax == log(softmax) where representable, lse(x + c) = lse(x) + c."""
    x, _ = m
    x2 = ref.as2d(x)
    if x2.shape[0] == 0:
        return
    sm = ref.as2d(xent.softmax(x))
    np.testing.assert_allclose(sm.sum(axis=1, dtype=np.float64), 1, rtol=x2.shape[1] * 2 * np.finfo(x.dtype).eps)
    ls = ref.as2d(xent.log_softmax(x))
    ok = sm > np.finfo(x.dtype).tiny * 1e3
    np.testing.assert_allclose(np.exp(ls.astype(np.float64))[ok], sm[ok], rtol=1e-5)
    c = x.dtype.type(shift)
    y = x + c
    ref.assert_close(np.asarray(xent.logsumexp(y)).reshape(-1), ref.lse(y), ref.RTOL[x.dtype], ref.lse_scale(y))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    m=matrices(max_rows=70, max_cols=3000), opts=OPTIONS, grad_mode=GRAD_MODE, num_threads=st.sampled_from([0, 1, 2, 5])
)
def test_cross_entropy_property_large(m, opts, grad_mode, num_threads):
    """Sizes past any blocking/threading thresholds, with explicit thread counts."""
    x, rng = m
    rows, cols = (1, x.shape[0]) if x.ndim == 1 else x.shape
    labels = rng.integers(0, cols, size=rows)
    labels[rng.random(rows) < 0.1] = -100
    if x.ndim == 1:
        labels = int(labels[0])
    ctx = f"{x.dtype} {x.shape} strides={x.strides} {opts} {grad_mode} t={num_threads}"
    compare_with_reference("cross_entropy", x, labels, opts, grad=grad_mode, ctx=ctx, num_threads=num_threads)
