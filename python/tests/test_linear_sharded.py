"""xent.linear_partial_stats / xent.linear_grad_from_stats (the LM head over a sharded vocabulary, libxent >= 1.3.0) in
one process.

The shards are row blocks ``[c0, c1)`` of one weight (and bias); their statistics are merged by a left fold in shard
order (xent.merge_stats), the loss and lse come from xent.finalize_stats, and the shards' ``grad_hidden``
contributions are summed in the element type in shard order (as MPI.SUM on two ranks does). Every result is compared
with the unsharded fused call xent.linear_cross_entropy on the whole weight, with the header's bounds:

* loss: within 1 ulp of the unsharded call's (every row for reduction "none"; measured: 1 ulp at most), and the
  per-row losses and the lse within TOL of the row's scale |lse| + max |logit| (as test_sharded.py compares the
  sharded kernel with xent.cross_entropy);
* grad_hidden (summed over the shards), and every shard's grad_weight and grad_bias against the corresponding rows
  of the unsharded call's: max |sharded - unsharded| / max |unsharded| <= GRAD_RTOL, float32 4e-6, float64 1e-12
  (measured over this file: float32 1.1e-6 for grad_hidden, 3.2e-7 for grad_weight and grad_bias; float64 2.9e-15
  and 3e-16);

and with the extended-precision reference of _reference (normwise, the tolerance of test_linear.py).
"""

import numpy as np
import pytest

import _reference as ref
import xent
from _sharding import fold_left, rel_diff, ulps
from helpers import DTYPES, REDUCTIONS, fake_library, raises_xent, run_python, sweep

pytestmark = pytest.mark.skipif(
    not xent.linear_sharded_available(), reason="the loaded library is older than 1.3.0 (no sharded linear calls)"
)

# per-row loss and lse against the unsharded call, relative to the row's scale (test_sharded.py's TOL)
TOL = {np.dtype(np.float32): 2e-7, np.dtype(np.float64): 1e-14}
# gradients against the unsharded call, relative to the largest element of the unsharded gradient
GRAD_RTOL = {np.dtype(np.float32): 4e-6, np.dtype(np.float64): 1e-12}
# against the extended-precision reference, normwise (test_linear.py's RTOL)
REF_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
GRADS = ("hidden", "weight", "bias")
#: the shard layouts of the tests: bounds [0, c1, c2, ..., classes]
LAYOUTS = {
    "one shard": lambda c: [0, c],
    "1, 17, rest": lambda c: [0, 1, 18, c],
    "rest, 1": lambda c: [0, c - 1, c],
    "four uneven": lambda c: [0, c // 3, c // 3 + 1, c - 5, c],
}


def problem(rng, rows, dim, classes, dtype, bias=True, pad=0, scale=3.0):
    """hidden (rows, dim), weight (classes, dim), bias (classes,) or None, labels; logits of magnitude ~scale.
    ``pad`` > 0: hidden and weight are column slices of wider arrays whose padding is NaN (never read)."""

    def mat(n, s):
        base = np.full((n, dim + pad), np.nan)
        base[:, :dim] = rng.standard_normal((n, dim)) * s
        return base.astype(dtype)[:, :dim]

    h = mat(rows, 1.0)
    w = mat(classes, scale / np.sqrt(dim))
    b = rng.standard_normal(classes).astype(dtype) if bias else None
    return h, w, b, rng.integers(0, classes, size=rows)


def shards(w, b, bounds):
    """[(c0, weight rows [c0, c1), bias entries or None)] of the shard layout ``bounds``."""
    return [(c0, w[c0:c1], None if b is None else b[c0:c1]) for c0, c1 in zip(bounds, bounds[1:])]


def sharded(
    h,
    w,
    b,
    labels,
    bounds,
    *,
    grad=True,
    reduction="mean",
    ignore_index=-100,
    label_smoothing=0.0,
    grad_scale=1.0,
    soft_cap=0.0,
    z_loss=0.0,
    **kw,
):
    """Every step of the sharded path in one process: a dict of loss, lse, the merged statistics, the shards'
    partial statistics and gradients, and the gradients assembled (grad_hidden summed in the dtype in shard order,
    grad_weight / grad_bias the shards' rows stacked; None when not requested)."""
    total = w.shape[0]
    common = dict(total_cols=total, ignore_index=ignore_index, soft_cap=soft_cap, **kw)
    parts = [
        xent.linear_partial_stats(h, ws, labels, col_offset=c0, bias=bs, **common)
        for c0, ws, bs in shards(w, b, bounds)
    ]
    st = fold_left(parts)
    options = dict(reduction=reduction, label_smoothing=label_smoothing, z_loss=z_loss)
    loss, lse = xent.finalize_stats(
        st, labels, total_cols=total, dtype=h.dtype, return_lse=True, ignore_index=ignore_index, **options
    )
    per_shard = [
        xent.linear_grad_from_stats(
            h, ws, labels, st, col_offset=c0, bias=bs, grad=grad, grad_scale=grad_scale, **common, **options
        )
        for c0, ws, bs in shards(w, b, bounds)
    ]
    gh = None
    if per_shard[0][0] is not None:
        gh = per_shard[0][0].copy()
        for g in per_shard[1:]:
            gh += g[0]
    gw = None if per_shard[0][1] is None else np.concatenate([g[1] for g in per_shard])
    gb = None if per_shard[0][2] is None else np.concatenate([g[2] for g in per_shard])
    return dict(
        loss=loss, lse=lse, stats=st, parts=parts, per_shard=per_shard, grad_hidden=gh, grad_weight=gw, grad_bias=gb
    )


def row_scale(h, w, b, lse, soft_cap=0.0):
    """|lse| + max |logit| per row (float64 logits; the cap bounds them)."""
    o = np.abs(h.astype(np.float64) @ w.astype(np.float64).T)
    if b is not None:
        o = o + np.where(np.isfinite(b), np.abs(b.astype(np.float64)), 0)
    if soft_cap:
        o = np.minimum(o, soft_cap)
    m = o.max(axis=1) if o.size else np.zeros(o.shape[0])
    lse = np.asarray(lse, np.float64)
    return np.where(np.isfinite(lse), np.abs(lse), 0) + m + 1.0


def compare(h, w, b, labels, bounds, *, grad=True, ctx="", sharded_only=None, **options):
    """The sharded path against xent.linear_cross_entropy with the same options (``sharded_only``: more keywords of
    the sharded calls alone); returns the sharded dict and the measured differences (loss ulps, gradient relative
    differences)."""
    dtype = np.dtype(h.dtype)
    s = sharded(h, w, b, labels, bounds, grad=grad, **options, **(sharded_only or {}))
    u = xent.linear_cross_entropy(h, w, labels, bias=b, grad=grad, return_lse=True, **options)
    reduction = options.get("reduction", "mean")
    assert np.asarray(s["loss"]).dtype == dtype and s["lse"].dtype == dtype, ctx
    measured = {}
    sc = row_scale(h, w, b, u.lse, options.get("soft_cap", 0.0))
    if reduction == "none":
        ref.assert_close(s["loss"], u.loss, TOL[dtype], sc, f"loss {ctx}", relative=False)
    measured["loss_ulp"] = u_ = ulps(s["loss"], u.loss, dtype)
    assert u_ <= 1, f"loss {ctx}: {s['loss']!r} vs unsharded {u.loss!r}: {u_} ulp"
    ref.assert_close(s["lse"], u.lse, TOL[dtype], sc, f"lse {ctx}", relative=False)
    for name in GRADS:
        got, want = s["grad_" + name], getattr(u, "grad_" + name)
        if want is None:
            assert got is None, (name, ctx)
            continue
        assert got.dtype == dtype and got.shape == want.shape, (name, ctx)
        measured[name] = r = rel_diff(got, want, strict=True)
        assert r <= GRAD_RTOL[dtype], f"grad_{name} {ctx}: max relative difference {r:.3g} > {GRAD_RTOL[dtype]}"
    return s, measured


def against_reference(s, h, w, b, labels, ctx="", **options):
    """The sharded results against the extended-precision reference, normwise."""
    r = ref.linear_cross_entropy(h, w, b, labels, **options)
    rtol = REF_RTOL[np.dtype(h.dtype)]
    fin = np.isfinite(r["lse"])
    scale = float(np.abs(r["lse"][fin]).max(initial=0)) + float(np.abs(r["loss"]).max(initial=0)) + 1
    ref.assert_close(np.asarray(s["loss"]), r["loss"], rtol, scale, f"loss vs reference {ctx}")
    ref.assert_close(s["lse"], r["lse"], rtol, scale, f"lse vs reference {ctx}")
    for name in GRADS:
        if s["grad_" + name] is not None:
            want = r["grad_" + name]
            ref.assert_close(s["grad_" + name], want, rtol, np.abs(want).max(initial=0), f"grad_{name} vs ref {ctx}")


# ---------------------------------------------------------------------------------------------------------------
# agreement with the unsharded fused call


@sweep(dtype=DTYPES, reduction=REDUCTIONS, smoothing=[0.0, 0.1], layout=list(LAYOUTS), with_bias=[True, False])
def test_matches_unsharded(dtype, reduction, smoothing, layout, with_bias):
    rng = np.random.default_rng(31)
    classes = 2068  # "1, 17, rest": shards of 1, 17 and 2050 classes
    h, w, b, labels = problem(rng, 37, 24, classes, dtype, bias=with_bias)
    labels[:6] = [0, 1, 17, 18, classes - 1, classes // 3]  # labels in every shard, at their edges
    labels[[7, 20]] = -100
    bounds = LAYOUTS[layout](classes)
    opts = dict(reduction=reduction, label_smoothing=smoothing, grad_scale=1.5)
    s, _ = compare(h, w, b, labels, bounds, ctx=f"{layout} {opts}", **opts)
    st = s["stats"]
    assert np.all(st["count"] == classes)
    assert np.array_equal(st["label_seen"], (labels != -100).astype(float))
    for part, (c0, c1) in zip(s["parts"], zip(bounds, bounds[1:])):
        assert np.all(part["count"] == c1 - c0)
        assert np.array_equal(part["label_seen"], ((labels >= c0) & (labels < c1)).astype(float))


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_against_extended_precision_reference(dtype, reduction):
    rng = np.random.default_rng(32)
    h, w, b, labels = problem(rng, 11, 16, 300, dtype)
    labels[3] = -100
    opts = dict(reduction=reduction, label_smoothing=0.1, grad_scale=0.5)
    for bounds in ([0, 1, 18, 300], [0, 150, 299, 300]):
        s = sharded(h, w, b, labels, bounds, **opts)
        against_reference(s, h, w, b, labels, ctx=str(bounds), **opts)


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_smoothing_uses_the_global_class_count(dtype, reduction):
    """The smoothing term of every shard uses total_cols and the merged sum of logits; a shard-local count would give
    a loss far outside the bound (checked, so that this test can fail)."""
    rng = np.random.default_rng(33)
    h, w, b, labels = problem(rng, 9, 12, 60, dtype)
    bounds = [0, 5, 20, 60]
    compare(h, w, b, labels, bounds, reduction=reduction, label_smoothing=0.2)
    s = sharded(h, w, b, labels, bounds, reduction="none", label_smoothing=0.2)
    o = h.astype(np.float64) @ w.astype(np.float64).T + b
    eps, lse = np.float64(np.float32(0.2)), s["lse"].astype(np.float64)
    local = np.mean([o[:, c0:c1].mean(axis=1) for c0, c1 in zip(bounds, bounds[1:])], axis=0)
    buggy = (1 - eps) * (lse - o[np.arange(9), labels]) + eps * (lse - local)
    assert np.all(np.abs(buggy - s["loss"]) > 1e3 * TOL[np.dtype(dtype)] * row_scale(h, w, b, lse))


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_ignored_rows(dtype, reduction):
    rng = np.random.default_rng(34)
    h, w, b, labels = problem(rng, 10, 8, 40, dtype)
    labels[[1, 4, 9]] = -7
    for smoothing in (0.0, 0.1):
        s, _ = compare(h, w, b, labels, [0, 3, 4, 40], reduction=reduction, ignore_index=-7, label_smoothing=smoothing)
        assert list(s["stats"]["label_seen"][[1, 4, 9]]) == [0, 0, 0]
        # an ignored row contributes nothing to any gradient
        assert not s["grad_hidden"][[1, 4, 9]].any()
    if reduction == "none":
        assert not s["loss"][[1, 4, 9]].any()


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_every_row_ignored(dtype, reduction):
    """No counted row: the loss is 0 (the mean of nothing, not NaN), every gradient zero, the lse still computed."""
    rng = np.random.default_rng(35)
    h, w, b, _ = problem(rng, 7, 6, 30, dtype)
    labels = np.full(7, -100)
    s, _ = compare(h, w, b, labels, [0, 1, 18, 30], reduction=reduction, label_smoothing=0.1)
    assert not np.asarray(s["loss"]).any() and np.isfinite(s["lse"]).all()
    for name in GRADS:
        assert not s["grad_" + name].any(), name
    assert not s["stats"]["label_seen"].any()


@sweep(dtype=DTYPES, reduction=REDUCTIONS, smoothing=[0.0, 0.1])
def test_soft_cap(dtype, reduction, smoothing):
    """soft_cap reaches both calls: logits of magnitude ~12 capped at 4 (uncapped results differ far beyond the
    bounds, so a cap lost on the way fails)."""
    rng = np.random.default_rng(36)
    h, w, b, labels = problem(rng, 12, 10, 80, dtype, scale=12.0)
    opts = dict(reduction=reduction, label_smoothing=smoothing, soft_cap=4.0)
    s, _ = compare(h, w, b, labels, [0, 1, 30, 80], ctx="soft cap", **opts)
    against_reference(s, h, w, b, labels, ctx="soft cap", **opts)
    plain = xent.linear_cross_entropy(h, w, labels, bias=b, reduction=reduction, label_smoothing=smoothing)
    assert np.abs(np.asarray(plain, np.float64) - np.asarray(s["loss"], np.float64)).max() > 0.1


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_z_loss(dtype, reduction):
    """z_loss reaches linear_grad_from_stats (its gradient 2*lambda*lse*softmax, from the merged lse) and
    finalize_stats (its value): both as the unsharded call's (a lost z_loss moves the gradient far past the bound)."""
    rng = np.random.default_rng(38)
    h, w, b, labels = problem(rng, 11, 9, 70, dtype)
    opts = dict(reduction=reduction, label_smoothing=0.1, z_loss=0.05)
    s, _ = compare(h, w, b, labels, [0, 3, 41, 70], ctx="z-loss", **opts)
    u = xent.linear_cross_entropy(h, w, labels, bias=b, return_z_loss=True, **opts)
    loss, z = xent.finalize_stats(s["stats"], labels, total_cols=70, dtype=dtype, return_z_loss=True, **opts)
    assert np.allclose(z, u.z_loss, rtol=TOL[np.dtype(dtype)] * 8, atol=0), (z, u.z_loss)
    plain = sharded(h, w, b, labels, [0, 3, 41, 70], reduction=reduction, label_smoothing=0.1)
    assert rel_diff(plain["grad_hidden"], s["grad_hidden"], strict=True) > 100 * GRAD_RTOL[np.dtype(dtype)]


@sweep(dtype=DTYPES)
def test_grad_subsets(dtype):
    """grad= names: exactly the named gradients (the same bits as with all three), None for the others."""
    rng = np.random.default_rng(37)
    h, w, b, labels = problem(rng, 8, 6, 25, dtype)
    st = sharded(h, w, b, labels, [0, 10, 25])["stats"]
    kw = dict(col_offset=10, total_cols=25, bias=b[10:], label_smoothing=0.1)
    full = xent.linear_grad_from_stats(h, w[10:], labels, st, **kw)
    assert type(full) is tuple and len(full) == 3 and all(g is not None for g in full)
    subsets = [("hidden",), ("weight",), ("bias",), ("hidden", "bias"), ("weight", "bias"), ("hidden", "weight"), GRADS]
    for names in subsets:
        for grad in (names, list(names), set(names), iter(names)) + ((names[0],) if len(names) == 1 else ()):
            res = xent.linear_grad_from_stats(h, w[10:], labels, st, grad=grad, **kw)
            for i, n in enumerate(GRADS):
                if n in names:
                    assert np.array_equal(res[i], full[i]), (names, n)
                else:
                    assert res[i] is None, (names, n)
    # without a bias, True means hidden and weight
    nob = xent.linear_grad_from_stats(h, w[10:], labels, st, col_offset=10, total_cols=25)
    assert nob[0] is not None and nob[1] is not None and nob[2] is None
    with pytest.raises(ValueError, match="bias"):
        xent.linear_grad_from_stats(h, w[10:], labels, st, col_offset=10, total_cols=25, grad="bias")
    for bad in (False, None, np.bool_(False), [], ()):
        with pytest.raises(ValueError) as e:
            xent.linear_grad_from_stats(h, w[10:], labels, st, grad=bad, **kw)
        assert not isinstance(e.value, xent.XentError)
    for bad in (["hidden", "logits"], "weights", [1]):
        with pytest.raises(ValueError, match="unknown"):
            xent.linear_grad_from_stats(h, w[10:], labels, st, grad=bad, **kw)
    for bad in (1, 2.0, object()):
        with pytest.raises(TypeError):
            xent.linear_grad_from_stats(h, w[10:], labels, st, grad=bad, **kw)


@sweep(dtype=DTYPES, layout=["column slices", "every other row", "out strided"])
def test_strided_views(dtype, layout):
    """Row-strided hidden and weight (views with NaN padding, never copied) and row-strided outputs: the bounds hold,
    the padding of the outputs is never written, and the views give the bits of their contiguous copies."""
    rng = np.random.default_rng(38)
    h, w, b, labels = problem(rng, 12, 10, 50, dtype, pad=5)
    if layout == "every other row":
        hb = np.full((24, 10), np.nan, dtype)
        hb[::2] = h
        h = hb[::2]
    bounds = [0, 1, 18, 50]
    compare(h, w, b, labels, bounds, label_smoothing=0.1, ctx=layout)
    hc, wc = np.ascontiguousarray(h), np.ascontiguousarray(w)
    st = sharded(hc, wc, b, labels, bounds)["stats"]
    kw = dict(col_offset=1, total_cols=50, bias=b[1:18])
    assert (
        xent.linear_partial_stats(h, w[1:18], labels, **kw).tobytes()
        == xent.linear_partial_stats(hc, wc[1:18], labels, **kw).tobytes()
    )
    want = xent.linear_grad_from_stats(hc, wc[1:18], labels, st, **kw)
    out = None
    if layout == "out strided":
        ghb, gwb = np.full((12, 13), 9, dtype), np.full((17, 14), 9, dtype)
        out = {"grad_hidden": ghb[:, :10], "grad_weight": gwb[:, :10]}
    got = xent.linear_grad_from_stats(h, w[1:18], labels, st, out=out, **kw)
    for g, x in zip(got, want):
        assert np.array_equal(g, x)
    if out is not None:
        assert got[0] is out["grad_hidden"] and got[1] is out["grad_weight"]
        assert (ghb[:, 10:] == 9).all() and (gwb[:, 10:] == 9).all()


@sweep(dtype=DTYPES)
def test_one_class(dtype):
    """One class in all (one shard): probability 1, loss 0 and every gradient exactly 0 (reduction "sum")."""
    rng = np.random.default_rng(39)
    h, w, b, labels = problem(rng, 6, 5, 1, dtype)
    s, _ = compare(h, w, b, labels, [0, 1], reduction="sum")
    assert s["loss"] == 0 and not any(s["grad_" + n].any() for n in GRADS)
    np.testing.assert_allclose(s["lse"], (h @ w.T + b)[:, 0], rtol=REF_RTOL[np.dtype(dtype)])
    compare(h, w, b, labels, [0, 1], reduction="mean", label_smoothing=0.1)


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_no_rows(dtype, reduction):
    rng = np.random.default_rng(40)
    _, w, b, _ = problem(rng, 0, 6, 11, dtype)
    h, labels = np.empty((0, 6), dtype), np.empty(0, np.int64)
    st = xent.linear_partial_stats(h, w[3:], labels, col_offset=3, total_cols=11, bias=b[3:])
    assert st.shape == (0,) and st.dtype == xent.STATS_DTYPE
    s, _ = compare(h, w, b, labels, [0, 3, 11], reduction=reduction)
    assert s["grad_hidden"].shape == (0, 6) and s["lse"].shape == (0,)
    assert s["grad_weight"].shape == w.shape and not s["grad_weight"].any()
    assert s["grad_bias"].shape == b.shape and not s["grad_bias"].any()
    # preallocated outputs are zeroed, or left alone when accumulating
    gw, gb = np.full_like(w[3:], 7), np.full_like(b[3:], 7)
    kw = dict(col_offset=3, total_cols=11, bias=b[3:], out={"grad_weight": gw, "grad_bias": gb})
    xent.linear_grad_from_stats(h, w[3:], labels, st, **kw)
    assert not gw.any() and not gb.any()
    gw[:], gb[:] = 7, 7
    xent.linear_grad_from_stats(h, w[3:], labels, st, accumulate=True, **kw)
    assert (gw == 7).all() and (gb == 7).all()


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_out_and_accumulate(dtype, reduction):
    """out= arrays are filled and returned (an array given there is computed); accumulate=True adds grad_weight and
    grad_bias into them (twice the batch: twice the gradient), grad_hidden is always overwritten."""
    rng = np.random.default_rng(41)
    h, w, b, labels = problem(rng, 14, 7, 33, dtype)
    st = sharded(h, w, b, labels, [0, 20, 33])["stats"]
    kw = dict(col_offset=20, total_cols=33, bias=b[20:], reduction=reduction, label_smoothing=0.1)
    once = xent.linear_grad_from_stats(h, w[20:], labels, st, **kw)
    gh, gw, gb = np.empty_like(h), np.zeros_like(w[20:]), np.zeros_like(b[20:])
    res = xent.linear_grad_from_stats(h, w[20:], labels, st, out={"grad_hidden": gh, "grad_weight": gw}, grad=[], **kw)
    assert res[0] is gh and res[1] is gw and res[2] is None
    assert np.array_equal(gh, once[0]) and np.array_equal(gw, once[1])
    again = xent.linear_grad_from_stats(h, w[20:], labels, st, out=res, grad=["bias"], **kw)
    assert again[0] is gh and again[1] is gw and np.array_equal(again[2], once[2])
    gw[:] = 0
    out = {"grad_weight": gw, "grad_bias": gb}
    for _ in range(2):
        r = xent.linear_grad_from_stats(h, w[20:], labels, st, out=out, accumulate=True, **kw)
        assert r[1] is gw and r[2] is gb and np.array_equal(r[0], once[0])
    rtol = REF_RTOL[np.dtype(dtype)]
    np.testing.assert_allclose(gw, 2 * once[1], rtol=rtol, atol=rtol * np.abs(once[1]).max())
    np.testing.assert_allclose(gb, 2 * once[2], rtol=rtol, atol=rtol * np.abs(once[2]).max())
    with pytest.raises(ValueError, match="accumulate"):
        xent.linear_grad_from_stats(h, w[20:], labels, st, accumulate=True, **kw)
    with pytest.raises(ValueError, match="accumulate"):
        xent.linear_grad_from_stats(h, w[20:], labels, st, accumulate=True, out={"grad_weight": gw}, **kw)
    # a LinearCrossEntropyResult as out: its gradient arrays are reused
    lr = xent.LinearCrossEntropyResult(np.float32(0), gh, gw, gb, None)
    r = xent.linear_grad_from_stats(h, w[20:], labels, st, out=lr, **kw)
    assert r[0] is gh and r[1] is gw and r[2] is gb and np.array_equal(gw, once[1])
    # partial statistics into out=
    o = np.empty(14, xent.STATS_DTYPE)
    p = xent.linear_partial_stats(h, w[20:], labels, col_offset=20, total_cols=33, bias=b[20:], out=o)
    assert (
        p is o
        and o.tobytes()
        == xent.linear_partial_stats(h, w[20:], labels, col_offset=20, total_cols=33, bias=b[20:]).tobytes()
    )


@sweep(dtype=DTYPES)
def test_thread_counts_bit_identical(dtype):
    rng = np.random.default_rng(42)
    h, w, b, labels = problem(rng, 300, 32, 700, dtype)
    bounds = [0, 1, 18, 700]
    runs = [sharded(h, w, b, labels, bounds, label_smoothing=0.1, num_threads=n) for n in (1, 2, 0)]
    for r in runs[1:]:
        assert all(p.tobytes() == q.tobytes() for p, q in zip(r["parts"], runs[0]["parts"]))
        for name in GRADS:
            assert np.array_equal(r["grad_" + name], runs[0]["grad_" + name]), name


@sweep(dtype=DTYPES)
def test_workspace_bytes(dtype):
    """A workspace of one row block (R = 1) gives results within the bounds; one too small for a row of the shard's
    logits beside the bias gradient's sums (reserved by both functions, so that both form the same row blocks) is
    XentError ERR_INVALID_OPTION, with nothing written."""
    rng = np.random.default_rng(43)
    h, w, b, labels = problem(rng, 9, 8, 3000, dtype)
    item = np.dtype(dtype).itemsize
    cols = 2000  # the shard [1000, 3000)
    tiles = -(-cols // 2048)
    one_row = cols * item + 64 * (tiles + 1) + (min(tiles, 4) - 1) * 8 * item + 192
    bias_sums = (8 if dtype == np.float32 else 16) * cols
    compare(
        h, w, b, labels, [0, 1000, 3000], label_smoothing=0.1, sharded_only=dict(workspace_bytes=one_row + bias_sums)
    )
    kw = dict(col_offset=1000, total_cols=3000, bias=b[1000:])
    out = np.zeros(9, xent.STATS_DTYPE)
    with raises_xent(xent.ERR_INVALID_OPTION):
        xent.linear_partial_stats(h, w[1000:], labels, workspace_bytes=one_row + bias_sums - 1, out=out, **kw)
    assert not out.tobytes().strip(b"\0")
    st = sharded(h, w, b, labels, [0, 1000, 3000])["stats"]
    xent.linear_partial_stats(h, w[1000:], labels, workspace_bytes=one_row + bias_sums, **kw)
    gw = np.full((cols, 8), 5, dtype)
    with raises_xent(xent.ERR_INVALID_OPTION):  # without grad_bias all the same
        xent.linear_grad_from_stats(
            h, w[1000:], labels, st, workspace_bytes=one_row + bias_sums - 1, out={"grad_weight": gw}, **kw
        )
    assert (gw == 5).all()


@sweep(dtype=DTYPES)
def test_partial_stats_fields(dtype):
    """The statistics of a shard are those of its logits: max, sum_exp relative to max, sum_x, count, the label's
    logit when it lies in the shard (float64 logits formed here; tolerance: the logits' rounding)."""
    rng = np.random.default_rng(44)
    h, w, b, labels = problem(rng, 7, 9, 20, dtype)
    labels[:] = [4, 12, 3, 13, -100, 19, 8]
    c0, c1 = 4, 13
    st = xent.linear_partial_stats(h, w[c0:c1], labels, col_offset=c0, total_cols=20, bias=b[c0:c1])
    assert st.dtype == xent.STATS_DTYPE and st.shape == (7,)
    o = h.astype(np.float64) @ w[c0:c1].astype(np.float64).T + b[c0:c1]
    mag = np.abs(h.astype(np.float64)) @ np.abs(w[c0:c1].astype(np.float64)).T + np.abs(b[c0:c1])
    tol = (1e-6 if dtype == np.float32 else 1e-14) * mag.max()
    mx = o.max(axis=1)
    assert np.abs(st["max"] - mx).max() <= tol
    np.testing.assert_allclose(st["sum_exp"], np.exp(o - mx[:, None]).sum(axis=1), rtol=20 * tol)
    np.testing.assert_allclose(st["sum_x"], (o - mx[:, None]).sum(axis=1), atol=20 * tol * (c1 - c0))
    assert np.all(st["count"] == c1 - c0)
    inside = (labels >= c0) & (labels < c1)
    assert np.array_equal(st["label_seen"], inside.astype(float))
    want = np.where(inside, o[np.arange(7), np.clip(labels - c0, 0, c1 - c0 - 1)], 0.0)
    assert np.abs(st["label_logit"] - want).max() <= tol and not st["label_logit"][~inside].any()


@sweep(dtype=DTYPES)
def test_special_values(dtype):
    """A -inf bias masks its class; a shard whose bias is all -inf has max -inf and sum_exp 0 and still merges to the
    unsharded result; a NaN in a row of hidden makes that row NaN (loss, lse, grad_hidden) and leaves the others."""
    rng = np.random.default_rng(45)
    h, w, b, labels = problem(rng, 6, 5, 30, dtype)
    labels[:] = [10, 11, 12, 25, 29, 15]
    b[3] = -np.inf
    b[0:3] = -np.inf  # the shard [0, 3): fully masked
    bounds = [0, 3, 4, 30]
    s, _ = compare(h, w, b, labels, bounds, reduction="none")
    assert np.all(s["parts"][0]["max"] == -np.inf) and not s["parts"][0]["sum_exp"].any()
    assert not s["grad_weight"][:4].any() and not s["grad_bias"][:4].any()
    hn = h.copy()
    hn[2, 1] = np.nan
    bad = sharded(hn, w, b, labels, bounds, reduction="none")
    assert np.isnan(bad["loss"][2]) and np.isnan(bad["lse"][2]) and np.isnan(bad["grad_hidden"][2]).all()
    ok = np.arange(6) != 2
    assert np.array_equal(bad["loss"][ok], s["loss"][ok])
    assert np.array_equal(bad["grad_hidden"][ok], s["grad_hidden"][ok])


# ---------------------------------------------------------------------------------------------------------------
# validation


def test_argument_errors():
    rng = np.random.default_rng(46)
    h, w, b, labels = problem(rng, 4, 6, 10, np.float32)
    ws, bs = w[2:7], b[2:7]
    kw = dict(col_offset=2, total_cols=10)
    st = sharded(h, w, b, labels, [0, 2, 7, 10])["stats"]

    def both(*args, stats=st, **extra):
        """Call linear_partial_stats and linear_grad_from_stats with these arguments (each must raise)."""
        yield lambda: xent.linear_partial_stats(*args, **{**kw, **extra})
        yield lambda: xent.linear_grad_from_stats(*args[:3], stats, *args[3:], **{**kw, **extra})

    type_errors = [
        *both(h, w.astype(np.float64)[2:7], labels),  # dtype mismatch
        *both(h.astype(np.float64), ws, labels),
        *both(h, ws, labels, bias=bs.astype(np.float64)),
        *both(h.astype(np.float16), ws.astype(np.float16), labels),
        *both(h.tolist(), ws, labels),
        *both(h, ws, labels.astype(float)),
        *both(h, ws, labels, col_offset=2.0),
        *both(h, ws, labels, num_threads=1.5),
        *both(h, ws, labels, soft_cap="1"),
        lambda: xent.linear_partial_stats(h, ws, labels, z_loss=0.1, **kw),  # the statistics do not depend on it
        *both(h, ws, labels, class_weights=np.ones(10)),  # not offered: the statistics carry no class-weighted sums
        lambda: xent.linear_partial_stats(h, ws, labels, out=np.zeros((4, 6)), **kw),
        lambda: xent.linear_partial_stats(h, ws, labels, reduction="sum", **kw),  # not a keyword of the statistics
        lambda: xent.linear_grad_from_stats(h, ws, labels, st.view(np.float64), **kw),
        lambda: xent.linear_grad_from_stats(h, ws, labels, st, out=[np.zeros_like(h)], **kw),
        lambda: xent.linear_grad_from_stats(h, ws, labels, st, out={"grad_hidden": np.zeros((4, 6))}, **kw),
        lambda: xent.linear_grad_from_stats(h, ws, labels, st, accumulate=1, **kw),
        lambda: xent.linear_partial_stats(h, ws, labels),  # col_offset and total_cols are required
    ]
    for call in type_errors:
        with pytest.raises(TypeError):
            call()
    ro = np.zeros(4, xent.STATS_DTYPE)
    ro.flags.writeable = False
    value_errors = [
        *both(h[0], ws, labels[:1]),  # 1-D hidden
        *both(h[None], ws, labels),  # 3-D
        *both(h, ws[:, :5], labels),  # dim mismatch
        *both(h, ws[:0], labels),  # a shard without classes
        *both(h, ws.T.copy().T, labels),  # column-major (Fortran) weight
        *both(h[::-1], ws, labels),  # negative row stride
        *both(h, ws, labels[:3]),  # labels of the wrong length
        *both(h, ws, labels, bias=b[2:6]),  # bias of the wrong length
        *both(h, ws, labels, bias=b[2:12:2]),  # strided bias
        *both(h, ws, labels, col_offset=-1),
        *both(h, ws, labels, ignore_index=1 << 63),
        lambda: xent.linear_partial_stats(h, ws, labels, out=np.zeros(3, xent.STATS_DTYPE), **kw),
        lambda: xent.linear_partial_stats(h, ws, labels, out=ro, **kw),
        lambda: xent.linear_grad_from_stats(h, ws, labels, st[:3], **kw),  # statistics of other rows
        lambda: xent.linear_grad_from_stats(h, ws, labels, st, reduction="avg", **kw),
        lambda: xent.linear_grad_from_stats(h, ws, labels, st, out={"lse": np.zeros(4, np.float32)}, **kw),
        lambda: xent.linear_grad_from_stats(h, ws, labels, st, out={"grad_weight": np.zeros((5, 5), np.float32)}, **kw),
        lambda: xent.linear_grad_from_stats(h, ws, labels, st, out={"grad_bias": np.zeros(5, np.float32)}, **kw),
        lambda: xent.linear_grad_from_stats(
            h, ws, labels, st, bias=bs, out={"grad_bias": np.zeros(10, np.float32)[::2]}, **kw
        ),
    ]
    for call in value_errors:
        with pytest.raises(ValueError) as e:
            call()
        assert not isinstance(e.value, xent.XentError), str(e.value)


@sweep(dtype=DTYPES)
def test_library_errors(dtype):
    """What the library refuses: XentError with its status and message, and nothing written."""
    rng = np.random.default_rng(47)
    h, w, b, labels = problem(rng, 4, 6, 10, dtype)
    st = sharded(h, w, b, labels, [0, 5, 10])["stats"]
    out = np.zeros(4, xent.STATS_DTYPE)
    gh = np.full_like(h, 3)
    # a shard reaching past total_cols
    with raises_xent(xent.ERR_INVALID_SHAPE):
        xent.linear_partial_stats(h, w[:6], labels, col_offset=5, total_cols=10, out=out)
    with raises_xent(xent.ERR_INVALID_SHAPE):
        xent.linear_grad_from_stats(h, w[:6], labels, st, col_offset=5, total_cols=10, out={"grad_hidden": gh})
    # a label outside [0, total_cols) (a label outside the shard but inside the vocabulary is fine)
    for bad in (10, 11, -1):
        bad_labels = labels.copy()
        bad_labels[1] = bad
        with raises_xent(xent.ERR_LABEL_OUT_OF_RANGE, "row 1", str(bad)):
            xent.linear_partial_stats(h, w[5:], bad_labels, col_offset=5, total_cols=10, out=out)
        with raises_xent(xent.ERR_LABEL_OUT_OF_RANGE, "row 1"):
            xent.linear_grad_from_stats(h, w[5:], bad_labels, st, col_offset=5, total_cols=10, out={"grad_hidden": gh})
    # statistics not merged over every class (one shard's only)
    part = xent.linear_partial_stats(h, w[5:], labels, col_offset=5, total_cols=10)
    with pytest.raises(xent.XentError) as e:
        xent.linear_grad_from_stats(h, w[5:], labels, part, col_offset=5, total_cols=10, out={"grad_hidden": gh})
    assert e.value.status == xent.ERR_INVALID_SHAPE and "row" in e.value.detail, str(e.value)
    # options out of range
    for status, opts in [
        (xent.ERR_INVALID_OPTION, dict(label_smoothing=1.5)),
        (xent.ERR_INVALID_OPTION, dict(grad_scale=np.inf)),
        (xent.ERR_INVALID_OPTION, dict(soft_cap=np.nan)),
        (xent.ERR_INVALID_OPTION, dict(soft_cap=-1.0)),
        (xent.ERR_INVALID_OPTION, dict(num_threads=-1)),
    ]:
        with raises_xent(status):
            xent.linear_grad_from_stats(
                h, w[5:], labels, st, col_offset=5, total_cols=10, out={"grad_hidden": gh}, **opts
            )
    for opts in (dict(soft_cap=np.nan), dict(num_threads=-1)):
        with raises_xent(xent.ERR_INVALID_OPTION):
            xent.linear_partial_stats(h, w[5:], labels, col_offset=5, total_cols=10, out=out, **opts)
    # an output overlapping an input
    with raises_xent(xent.ERR_ALIASING):
        xent.linear_grad_from_stats(h, w[5:], labels, st, col_offset=5, total_cols=10, out={"grad_hidden": h})
    assert not out.tobytes().strip(b"\0") and (gh == 3).all()


def test_signatures_and_exports():
    import inspect

    for fn in (xent.linear_partial_stats, xent.linear_grad_from_stats):
        params = inspect.signature(fn).parameters
        assert "o" not in params
        assert all(p.kind is p.KEYWORD_ONLY for p in params.values() if p.name in ("col_offset", "total_cols"))
        assert params["bias"].default is None and params["ignore_index"].default == -100
        assert fn.__name__ in xent.__all__
    grad_params = inspect.signature(xent.linear_grad_from_stats).parameters
    assert grad_params["grad"].default is True and grad_params["reduction"].default == "mean"
    assert list(grad_params)[:4] == ["hidden", "weight", "labels", "stats"]


def test_older_library(tmp_path):
    """Against a 1.2.0 library (no xent_linear_*_stats_*) the package imports; the functions raise XentError
    ERR_UNSUPPORTED naming 1.3.0, and linear_sharded_available() is False."""
    code = """
        import numpy as np, xent
        assert not xent.linear_sharded_available()
        h, w, labels = np.zeros((2, 3)), np.zeros((4, 3)), [0, 1]
        st = np.zeros(2, xent.STATS_DTYPE)
        for call in (lambda: xent.linear_partial_stats(h, w, labels, col_offset=0, total_cols=4),
                     lambda: xent.linear_grad_from_stats(h, w, labels, st, col_offset=0, total_cols=4)):
            try:
                call()
            except xent.XentError as e:
                assert e.status == xent.ERR_UNSUPPORTED and "1.3.0" in str(e), str(e)
            else:
                raise AssertionError("no XentError")
        print("ok")
    """
    p = run_python(code, fake_library(tmp_path, "1.2.0"))
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr
