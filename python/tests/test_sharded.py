"""Sharded vocabulary: partial_stats -> merge_stats -> finalize_stats / grad_from_stats on one process.

Every result is compared with the unsharded xent.cross_entropy on the same logits: the shards are column views
of one matrix (row-strided, passed without copying), merged by a left fold in shard order.
"""

import numpy as np
import pytest

import xent
from _reference import assert_close
from _sharding import fold_left
from helpers import DTYPES, REDUCTIONS, fake_library, raises_xent, run_python

pytestmark = pytest.mark.skipif(
    not xent.sharded_stats_available() and xent.library_version() < "1.1",
    reason=f"library {xent.library_version()} predates the sharded-vocabulary functions (1.1.0)",
)

# The header's error bounds of xent_cross_entropy (loss: relative to the row's scale |lse| + max|x|, as the package's
# reference tests measure it; grad: absolute, times s = grad_scale / denominator; lse: relative to max(1, |lse|)).
TOL = {np.dtype(np.float32): 2e-7, np.dtype(np.float64): 1e-14}
# The gradient is compared between two implementations that each may be off by TOL*s from the exact value, so the
# difference gets twice that (measured: up to 2.4e-7*s for float32 over random shapes).
GRAD_TOL = {k: 2 * v for k, v in TOL.items()}


# ---------------------------------------------------------------------------------------------------------------
# helpers


def splits(cols, k, rng):
    """Several uneven splits of [0, cols) into k shards: random cut points, 1-column shards first and last."""
    if k == 1:
        return [[0, cols]]
    out = []
    cuts = np.sort(rng.choice(np.arange(1, cols), size=k - 1, replace=False))
    out.append([0, *cuts.tolist(), cols])
    out.append([0, *range(1, k), cols])  # k-1 shards of one column, then the rest
    out.append([0, *range(cols - k + 1, cols), cols])  # the rest, then k-1 shards of one column
    out.append([0, 1, *np.linspace(2, cols - 1, k - 2, dtype=int).tolist(), cols] if k > 2 else [0, cols // 2, cols])
    return [b for b in out if all(b1 > b0 for b0, b1 in zip(b, b[1:]))]


def shard_views(x, bounds):
    if x.ndim == 1:
        return [x[b0:b1] for b0, b1 in zip(bounds, bounds[1:])]
    return [x[:, b0:b1] for b0, b1 in zip(bounds, bounds[1:])]


def sharded(
    x, labels, bounds, *, reduction="mean", ignore_index=-100, label_smoothing=0.0, grad_scale=1.0, grad_into=None
):
    """Loss, lse, gradient (assembled from the shards) and merged statistics of the sharded path."""
    total = x.shape[-1]
    parts = [
        xent.partial_stats(v, labels, col_offset=b0, total_cols=total, ignore_index=ignore_index)
        for v, b0 in zip(shard_views(x, bounds), bounds)
    ]
    st = fold_left(parts)
    options = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
    loss, lse = xent.finalize_stats(st, labels, total_cols=total, dtype=x.dtype, return_lse=True, **options)
    grad = np.full(x.shape, 7.0, x.dtype) if grad_into is None else grad_into
    for v, g, b0 in zip(shard_views(x, bounds), shard_views(grad, bounds), bounds):
        r = xent.grad_from_stats(
            v, labels, st, col_offset=b0, total_cols=total, grad_scale=grad_scale, grad_out=g, **options
        )
        assert r is g
    return loss, lse, grad, st


def unsharded(x, labels, **kw):
    return xent.cross_entropy(x, labels, grad=True, return_lse=True, **kw)


def denominator(labels, reduction, ignore_index=-100):
    if reduction != "mean":
        return 1.0
    return max(1, int(np.sum(np.asarray(labels).reshape(-1) != ignore_index)))


def compare(x, labels, bounds, *, ctx="", **options):
    """The sharded path against xent.cross_entropy with the same options (reduction, ignore_index,
    label_smoothing, grad_scale); returns the merged statistics."""
    loss, lse, grad, st = sharded(x, labels, bounds, **options)
    ref = unsharded(x, labels, **options)
    reduction, ignore_index = options.get("reduction", "mean"), options.get("ignore_index", -100)
    grad_scale = options.get("grad_scale", 1.0)
    tol = TOL[np.dtype(x.dtype)]
    rows = 1 if x.ndim == 1 else x.shape[0]
    assert np.asarray(loss).dtype == x.dtype and lse.dtype == x.dtype and grad.dtype == x.dtype
    want_lse = np.asarray(ref.lse, np.float64).reshape(rows)
    with np.errstate(invalid="ignore"):
        x2 = np.abs(x.reshape(rows, -1).astype(np.float64))
        row_scale = np.where(np.isfinite(want_lse), np.abs(want_lse), 0) + np.where(np.isfinite(x2), x2, 0).max(axis=1)
    counted = np.asarray(labels).reshape(-1) != ignore_index
    if reduction == "none":
        want_loss = np.asarray(ref.loss, np.float64).reshape(-1)
        scale = np.maximum(np.abs(want_loss), row_scale)
    else:
        want_loss = np.asarray(ref.loss, np.float64)
        scale = max(
            abs(float(want_loss)) if np.isfinite(want_loss) else 0.0,
            row_scale[counted].sum() / denominator(labels, reduction, ignore_index),
        )
    assert_close(loss, want_loss, tol, scale, f"loss {ctx}", relative=False)
    assert_close(lse, want_lse, tol, np.maximum(1.0, np.abs(want_lse)), f"lse {ctx}", relative=False)
    s = abs(grad_scale) / denominator(labels, reduction, ignore_index)
    assert_close(grad, ref.grad, GRAD_TOL[np.dtype(x.dtype)], s, f"grad {ctx}", relative=False)
    return st


# ---------------------------------------------------------------------------------------------------------------
# agreement with the unsharded kernel


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_matches_unsharded(dtype, k, reduction, smoothing, rng):
    rows, cols = 13, 37
    x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    labels = rng.integers(0, cols, rows)
    labels[:3] = [0, cols - 1, 1]  # labels in the 1-column shards at either end
    for bounds in splits(cols, k, rng):
        st = compare(
            x, labels, bounds, reduction=reduction, label_smoothing=smoothing, grad_scale=1.5, ctx=f"bounds {bounds}"
        )
        assert np.all(st["count"] == cols) and np.all(st["label_seen"] == 1)
        assert np.array_equal(st["label_logit"], x[np.arange(rows), labels].astype(np.float64))


@pytest.mark.skipif(xent.library_version() < "1.3", reason="the sharded z-loss needs libxent >= 1.3.0")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_z_loss_matches_unsharded(dtype, reduction, rng):
    """Since 1.3.0: the z-loss value from finalize_stats and its gradient term from grad_from_stats, as the fused
    call forms them (an all -inf row: z = +inf, its gradient term 0; an ignored row: z = 0)."""
    rows, cols, lam = 7, 29, 2e-3
    x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    x[4] = -np.inf
    labels = rng.integers(0, cols, rows)
    labels[2] = -100
    kw = dict(reduction=reduction, label_smoothing=0.1, z_loss=lam)
    ref = xent.cross_entropy(x, labels, grad=True, return_z_loss=True, grad_scale=0.5, **kw)
    bounds = [0, 1, 17, cols]
    stats = None
    for lo, hi in zip(bounds, bounds[1:]):
        s = xent.partial_stats(x[:, lo:hi], labels, col_offset=lo, total_cols=cols)
        stats = s if stats is None else xent.merge_stats(stats, s)
    loss, z = xent.finalize_stats(stats, labels, total_cols=cols, dtype=dtype, return_z_loss=True, **kw)
    tol = TOL[np.dtype(dtype)]
    z_want = np.asarray(ref.z_loss, np.float64)
    finite = np.isfinite(z_want)
    assert np.array_equal(np.isfinite(np.asarray(z)), finite)
    assert np.allclose(np.asarray(z)[finite], z_want[finite], rtol=4 * tol, atol=0), (z, z_want)
    if reduction == "none":
        assert z[2] == 0 and z[4] == np.inf
    grad = np.concatenate(
        [
            xent.grad_from_stats(x[:, lo:hi], labels, stats, col_offset=lo, total_cols=cols, grad_scale=0.5, **kw)
            for lo, hi in zip(bounds, bounds[1:])
        ],
        axis=1,
    )
    s = 0.5 / (1 if reduction != "mean" else rows - 1)
    assert_close(grad, ref.grad, GRAD_TOL[np.dtype(dtype)], s, f"z-loss grad {reduction}", relative=False)
    without = np.concatenate(
        [
            xent.grad_from_stats(
                x[:, lo:hi],
                labels,
                stats,
                col_offset=lo,
                total_cols=cols,
                grad_scale=0.5,
                reduction=reduction,
                label_smoothing=0.1,
            )
            for lo, hi in zip(bounds, bounds[1:])
        ],
        axis=1,
    )
    assert np.max(np.abs(without - grad)) > 100 * GRAD_TOL[np.dtype(dtype)] * s  # the z term is there


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_cap_matches_unsharded(dtype, reduction, rng):
    """partial_stats and grad_from_stats take soft_cap (the C functions read it since 1.1.0): the statistics of the
    capped logits, the gradient with the cap's chain rule, as the fused call with the same cap."""
    rows, cols, cap = 6, 31, 2.5
    x = (rng.standard_normal((rows, cols)) * 6).astype(dtype)
    labels = rng.integers(0, cols, rows)
    kw = dict(reduction=reduction, label_smoothing=0.1)
    ref = xent.cross_entropy(x, labels, grad=True, soft_cap=cap, **kw)
    bounds = [0, 1, 12, cols]
    stats = None
    for lo, hi in zip(bounds, bounds[1:]):
        s = xent.partial_stats(x[:, lo:hi], labels, col_offset=lo, total_cols=cols, soft_cap=cap)
        stats = s if stats is None else xent.merge_stats(stats, s)
    assert stats["max"].max() <= cap
    loss = xent.finalize_stats(stats, labels, total_cols=cols, dtype=dtype, **kw)
    scale = np.maximum(1.0, np.abs(np.asarray(ref.loss, np.float64))) * 2 * cap
    assert_close(loss, ref.loss, TOL[np.dtype(dtype)], scale, f"soft-cap loss {reduction}", relative=False)
    grad = np.concatenate(
        [
            xent.grad_from_stats(x[:, lo:hi], labels, stats, col_offset=lo, total_cols=cols, soft_cap=cap, **kw)
            for lo, hi in zip(bounds, bounds[1:])
        ],
        axis=1,
    )
    s = 1.0 / (rows if reduction == "mean" else 1)
    assert_close(grad, ref.grad, GRAD_TOL[np.dtype(dtype)], s, f"soft-cap grad {reduction}", relative=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_against_extended_precision_reference(dtype, reduction, rng):
    # the sharded path against the package's long-double reference, with the suite's usual tolerances
    import _reference as ref

    rows, cols = 9, 50
    x = (rng.standard_normal((rows, cols)) * 20).astype(dtype)  # large logits: small losses, cancellation
    labels = x.argmax(axis=1)
    labels[::2] = rng.integers(0, cols, (rows + 1) // 2)
    labels[3] = -100
    for bounds in ([0, 1, 2, 30, 50], [0, 49, 50]):
        loss, lse, grad, _ = sharded(x, labels, bounds, reduction=reduction, label_smoothing=0.1, grad_scale=0.5)
        r = ref.cross_entropy(x, labels, reduction=reduction, label_smoothing=0.1, grad_scale=0.5)
        rtol = ref.RTOL[np.dtype(dtype)]
        ref.assert_close(np.asarray(loss).reshape(np.shape(r["loss"])), r["loss"], rtol, r["loss_scale"], "loss")
        ref.assert_close(lse, r["lse"], rtol, r["lse_scale"], "lse")
        ref.assert_close(grad, r["grad"], rtol, r["grad_scale"], "grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_vocabulary_and_one_d(dtype, rng):
    # many columns per shard (vector paths, column blocks) and a single row given as 1-D logits
    x = (rng.standard_normal((3, 70001)) * 4).astype(dtype)
    labels = np.array([5, 70000, 35000])
    compare(x, labels, [0, 12345, 35001, 70001], reduction="mean", label_smoothing=0.1, ctx="large")
    compare(x[1], 70000, [0, 69999, 70001], reduction="sum", ctx="1-D")
    compare(x[2], 35000, [0, 35000, 35001, 70001], reduction="none", ctx="1-D none")


@pytest.mark.parametrize("dtype", DTYPES)
def test_smoothing_uses_the_global_class_count(dtype, rng):
    rows, cols, bounds = 6, 40, [0, 3, 10, 40]
    x = (rng.standard_normal((rows, cols)) * 2).astype(dtype)
    labels = rng.integers(0, cols, rows)
    eps = 0.1
    loss, lse, _, st = sharded(x, labels, bounds, reduction="none", label_smoothing=eps)
    ref = xent.cross_entropy(x, labels, reduction="none", label_smoothing=eps)
    assert_close(loss, ref, TOL[np.dtype(dtype)], np.abs(ref), "loss", relative=False)
    # What a shard-local count and local sum would give (Megatron-LM's old bug): eps * mean over shards of the
    # shard-local means. It must differ from the result by far more than the tolerance, or this test proves nothing.
    x64, lse64, e = x.astype(np.float64), lse.astype(np.float64), np.float32(eps).astype(np.float64)
    local = np.mean([np.mean(x64[:, b0:b1], axis=1) for b0, b1 in zip(bounds, bounds[1:])], axis=0)
    buggy = (1 - e) * (lse64 - x64[np.arange(rows), labels]) + e * (lse64 - local)
    assert np.all(np.abs(buggy - loss) > 1e3 * TOL[np.dtype(dtype)] * np.abs(loss))
    # and the merged statistics carry the global count and sum
    assert np.all(st["count"] == cols)
    # (float32 shards accumulate sum_x in float32: the tolerance is relative to sum |x - max|)
    mag = np.abs(x64 - x64.max(axis=1, keepdims=True)).sum(axis=1)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    assert np.all(np.abs(st["sum_x"] - (x64 - x64.max(axis=1, keepdims=True)).sum(axis=1)) <= tol * mag)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ignore_index(dtype, reduction, rng):
    rows, cols = 10, 23
    x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    labels = rng.integers(0, cols, rows)
    labels[[1, 4, 9]] = -1
    for smoothing in (0.0, 0.1):
        st = compare(x, labels, [0, 5, 6, 23], reduction=reduction, ignore_index=-1, label_smoothing=smoothing)
        assert list(st["label_seen"][[1, 4, 9]]) == [0, 0, 0]
        assert np.all(st["label_seen"][labels != -1] == 1)
    # every row ignored: mean 0, zero gradient
    all_ignored = np.full(rows, -100)
    compare(x, all_ignored, [0, 11, 23], reduction=reduction)
    loss, _, grad, _ = sharded(x, all_ignored, [0, 11, 23], reduction=reduction)
    assert np.all(np.asarray(loss) == 0) and np.all(grad == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_masked_logits(dtype, reduction, smoothing, rng):
    rows, cols, bounds = 8, 30, [0, 4, 5, 12, 30]
    x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    labels = rng.integers(12, cols, rows)  # outside the fully masked shard [0, 4)
    x[:, 0:4] = -np.inf  # a whole shard of -inf (max -inf, sum_exp 0)
    x[rng.random((rows, cols)) < 0.2] = -np.inf  # scattered masked entries
    x[np.arange(rows), labels] = rng.standard_normal(rows).astype(dtype)  # labels stay finite ...
    x[2, labels[2]] = -np.inf  # ... but one: loss +inf
    x[5, :] = -np.inf  # an all -inf row: lse -inf, loss +inf
    labels[6] = 2  # a label inside the masked shard: loss +inf
    compare(x, labels, bounds, reduction=reduction, label_smoothing=smoothing)
    parts = [
        xent.partial_stats(v, labels, col_offset=b0, total_cols=cols) for v, b0 in zip(shard_views(x, bounds), bounds)
    ]
    assert np.all(parts[0]["max"] == -np.inf) and np.all(parts[0]["sum_exp"] == 0)
    loss, lse, grad, st = sharded(x, labels, bounds, reduction="none", label_smoothing=smoothing)
    assert lse[5] == -np.inf and loss[5] == np.inf and loss[2] == np.inf and loss[6] == np.inf
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_row(dtype, bad, rng):
    rows, cols, bounds = 5, 20, [0, 7, 8, 20]
    x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    labels = rng.integers(0, cols, rows)
    x[3, 7] = bad  # in the one-column shard
    for reduction in REDUCTIONS:
        compare(x, labels, bounds, reduction=reduction, label_smoothing=0.1)
    loss, lse, grad, st = sharded(x, labels, bounds, reduction="none")
    assert np.isnan(loss[3]) and np.isnan(lse[3]) and np.all(np.isnan(grad[3]))
    assert np.isnan(st["sum_exp"][3])
    mask = np.arange(rows) != 3
    assert np.all(np.isfinite(loss[mask])) and np.all(np.isfinite(grad[mask]))


# ---------------------------------------------------------------------------------------------------------------
# merging


def _stats_parts(rng, dtype, k=5, rows=64, cols=41):
    x = (rng.standard_normal((rows, cols)) * rng.uniform(0.1, 30, (rows, 1))).astype(dtype)
    x[0, :] = -np.inf
    x[1, :10] = -np.inf
    labels = rng.integers(0, cols, rows)
    labels[2] = -100
    bounds = [0, 1, 9, 10, 25, 41][:k] + [cols]
    return [
        xent.partial_stats(v, labels, col_offset=b0, total_cols=cols) for v, b0 in zip(shard_views(x, bounds), bounds)
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_merge_is_commutative_bitwise(dtype, rng):
    parts = _stats_parts(rng, dtype)
    for i in range(len(parts)):
        for j in range(len(parts)):
            ab = xent.merge_stats(parts[i], parts[j])
            ba = xent.merge_stats(parts[j], parts[i])
            assert ab.tobytes() == ba.tobytes(), (i, j)
    # and for merged (non-trivial reference) inputs
    a, b = xent.merge_stats(parts[0], parts[1]), xent.merge_stats(parts[2], parts[3])
    assert xent.merge_stats(a, b).tobytes() == xent.merge_stats(b, a).tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_merge_groupings_agree(dtype, rng):
    p = _stats_parts(rng, dtype)
    m = xent.merge_stats
    groupings = {
        "left": m(m(m(m(p[0], p[1]), p[2]), p[3]), p[4]),
        "right": m(p[0], m(p[1], m(p[2], m(p[3], p[4])))),
        "tree": m(m(m(p[0], p[1]), m(p[2], p[3])), p[4]),
        "reversed": m(m(m(m(p[4], p[3]), p[2]), p[1]), p[0]),
        "shuffled": m(m(p[3], p[0]), m(m(p[4], p[2]), p[1])),
    }
    ref = groupings["left"]
    for name, g in groupings.items():
        for f in ("max", "count", "label_logit", "label_seen"):
            assert np.array_equal(g[f], ref[f], equal_nan=True), (name, f)
        for f in ("sum_exp", "sum_x"):
            np.testing.assert_allclose(g[f], ref[f], rtol=1e-15, atol=0, err_msg=f"{name} {f}")
    # a fixed order is reproducible
    assert m(m(p[0], p[1]), p[2]).tobytes() == m(m(p[0], p[1]), p[2]).tobytes()


def test_merge_formula(rng):
    # the header's formula, checked field by field in float64
    a = np.zeros(3, xent.STATS_DTYPE)
    b = np.zeros(3, xent.STATS_DTYPE)
    a["max"], b["max"] = [1.0, -np.inf, 2.0], [3.0, 0.5, -np.inf]
    a["sum_exp"], b["sum_exp"] = [2.0, 0.0, 1.5], [1.25, 3.0, 0.0]
    a["sum_x"], b["sum_x"] = [-4.0, 0.0, -1.0], [-2.0, -7.0, 0.0]
    a["count"], b["count"] = [3, 2, 4], [5, 6, 1]
    a["label_logit"], b["label_logit"] = [0.25, 0, 0], [0, 0.5, 0]
    a["label_seen"], b["label_seen"] = [1, 0, 0], [0, 1, 0]
    out = xent.merge_stats(a, b)
    ref_a = np.where(np.isneginf(a["max"]), 0, a["max"])
    ref_b = np.where(np.isneginf(b["max"]), 0, b["max"])
    mx = np.maximum(a["max"], b["max"])
    ref = np.where(np.isneginf(mx), 0, mx)
    assert np.array_equal(out["max"], mx)
    np.testing.assert_allclose(
        out["sum_exp"], a["sum_exp"] * np.exp(ref_a - ref) + b["sum_exp"] * np.exp(ref_b - ref), rtol=1e-15
    )
    np.testing.assert_allclose(
        out["sum_x"], a["sum_x"] + a["count"] * (ref_a - ref) + b["sum_x"] + b["count"] * (ref_b - ref), rtol=1e-15
    )
    assert np.array_equal(out["count"], a["count"] + b["count"])
    assert np.array_equal(out["label_logit"], [0.25, 0.5, 0])
    assert np.array_equal(out["label_seen"], [1, 1, 0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_merge_in_place_and_out(dtype, rng):
    p = _stats_parts(rng, dtype, k=2)
    want = xent.merge_stats(p[0], p[1]).tobytes()
    a, b = p[0].copy(), p[1].copy()
    assert xent.merge_stats(a, b, out=a) is a and a.tobytes() == want
    a, b = p[0].copy(), p[1].copy()
    assert xent.merge_stats(a, b, out=b) is b and b.tobytes() == want
    o = np.empty_like(p[0])
    assert xent.merge_stats(p[0], p[1], out=o) is o and o.tobytes() == want
    e = np.empty(0, xent.STATS_DTYPE)
    assert xent.merge_stats(e, e).shape == (0,)


@pytest.mark.parametrize("dtype", DTYPES)
def test_partial_stats_fields(dtype, rng):
    rows, cols, c0, total = 7, 9, 4, 20
    x = (rng.standard_normal((rows, cols + 3)) * 5).astype(dtype)[:, :cols]  # row-strided
    labels = np.array([4, 12, 3, 13, -100, 0, 19])
    st = xent.partial_stats(x, labels, col_offset=c0, total_cols=total)
    assert st.dtype == xent.STATS_DTYPE and st.shape == (rows,)
    x64 = x.astype(np.float64)
    mx = x64.max(axis=1)
    assert np.array_equal(st["max"], mx)
    np.testing.assert_allclose(
        st["sum_exp"], np.exp(x64 - mx[:, None]).sum(axis=1), rtol=4e-7 if dtype == np.float32 else 1e-15
    )
    # float32 shards accumulate sum_x in float32
    np.testing.assert_allclose(
        st["sum_x"], (x64 - mx[:, None]).sum(axis=1), rtol=1e-6 if dtype == np.float32 else 1e-13
    )
    assert np.all(st["count"] == cols)
    inside = (labels >= c0) & (labels < c0 + cols)
    assert np.array_equal(st["label_seen"], inside.astype(float))
    want_ll = np.where(inside, x64[np.arange(rows), np.clip(labels - c0, 0, cols - 1)], 0.0)
    assert np.array_equal(st["label_logit"], want_ll)
    # out= is filled and returned
    o = np.empty(rows, xent.STATS_DTYPE)
    assert xent.partial_stats(x, labels, col_offset=c0, total_cols=total, out=o) is o and o.tobytes() == st.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_in_place_and_strided_out(dtype, rng):
    rows, cols, bounds = 6, 25, [0, 10, 11, 25]
    x = (rng.standard_normal((rows, cols)) * 3).astype(dtype)
    labels = rng.integers(0, cols, rows)
    _, _, want, st = sharded(x, labels, bounds, label_smoothing=0.1)
    # gradient into a row-strided buffer, shard by shard (zero-copy column views)
    wide = np.full((rows, cols + 4), 9.0, dtype)
    _, _, g, _ = sharded(x, labels, bounds, label_smoothing=0.1, grad_into=wide[:, :cols])
    assert g.tobytes() == want.tobytes() and np.all(wide[:, cols:] == 9.0)
    # in place on each shard (a copy of the logits)
    xc = x.copy()
    for v, b0 in zip(shard_views(xc, bounds), bounds):
        assert (
            xent.grad_from_stats(v, labels, st, col_offset=b0, total_cols=cols, label_smoothing=0.1, grad_out="inplace")
            is v
        )
    assert xc.tobytes() == want.tobytes()


# ---------------------------------------------------------------------------------------------------------------
# validation


def _refused_with(stats, field, row, value, labels, **kwargs):
    """A copy of ``stats`` with ``field`` of ``row`` set to ``value``, which finalize_stats refuses naming the row."""
    bad = stats.copy()
    bad[field][row] = value
    with raises_xent(xent.ERR_INVALID_SHAPE, f"row {row}"):
        xent.finalize_stats(bad, labels, **kwargs)
    return bad


def test_finalize_requires_every_column(rng):
    x = rng.standard_normal((4, 10))
    labels = np.array([0, 1, 2, -100])
    st = xent.partial_stats(x[:, :6], labels, col_offset=0, total_cols=10)  # the shard [6, 10) is missing
    with raises_xent(xent.ERR_INVALID_SHAPE, "row 0"):
        xent.finalize_stats(st, labels, total_cols=10)
    full = xent.merge_stats(st, xent.partial_stats(x[:, 6:], labels, col_offset=6, total_cols=10))
    _refused_with(full, "count", 2, 9, labels, total_cols=10, reduction="none")
    xent.finalize_stats(full, labels, total_cols=10)  # complete: fine


def test_label_seen_twice(rng):
    x = rng.standard_normal((3, 8))
    labels = np.array([5, 1, 6])
    # the shard [0, 4) counted twice: count reaches 8 = total_cols, but row 1's label is seen twice and the
    # labels of rows 0 and 2 never
    a = xent.partial_stats(x[:, :4], labels, col_offset=0, total_cols=8)
    twice = xent.merge_stats(a, a)
    assert np.all(twice["count"] == 8) and list(twice["label_seen"]) == [0, 2, 0]
    with raises_xent(xent.ERR_INVALID_SHAPE, "row"):
        xent.finalize_stats(twice, labels, total_cols=8)
    ok = xent.merge_stats(a, xent.partial_stats(x[:, 4:], labels, col_offset=4, total_cols=8))
    bad = _refused_with(ok, "label_seen", 1, 2, labels, total_cols=8)
    loss = xent.finalize_stats(bad, np.array([5, -100, 6]), total_cols=8)  # an ignored row is not checked
    assert np.isfinite(loss)


@pytest.mark.parametrize("dtype", DTYPES)
def test_shard_outside_vocabulary(dtype, rng):
    x = rng.standard_normal((3, 5)).astype(dtype)
    labels = np.array([0, 1, 2])
    with raises_xent(xent.ERR_INVALID_SHAPE):
        xent.partial_stats(x, labels, col_offset=6, total_cols=10)  # [6, 11) > 10
    st = xent.partial_stats(x, labels, col_offset=5, total_cols=10)  # [5, 10) is fine
    full = xent.merge_stats(st, xent.partial_stats(x, labels, col_offset=0, total_cols=10))
    g = np.full(x.shape, 3.0, dtype)
    with raises_xent(xent.ERR_INVALID_SHAPE):
        xent.grad_from_stats(x, labels, full, col_offset=6, total_cols=10, grad_out=g)
    assert np.all(g == 3.0)  # nothing written on error


@pytest.mark.parametrize("dtype", DTYPES)
def test_label_out_of_range(dtype, rng):
    x = rng.standard_normal((3, 4)).astype(dtype)
    out = np.zeros(3, xent.STATS_DTYPE)
    for bad in (10, 11, -1):
        labels = np.array([0, bad, 2])
        with raises_xent(xent.ERR_LABEL_OUT_OF_RANGE, "row 1", str(bad)):
            xent.partial_stats(x, labels, col_offset=4, total_cols=10, out=out)
        assert out.tobytes() == np.zeros(3, xent.STATS_DTYPE).tobytes()
    st = xent.partial_stats(x, np.array([0, 9, 2]), col_offset=4, total_cols=10)  # 9 is a global label
    assert list(st["label_seen"]) == [0, 0, 0]
    full = xent.merge_stats(
        st, xent.partial_stats(np.zeros((3, 6), dtype), np.array([0, 9, 2]), col_offset=0, total_cols=10)
    )
    with pytest.raises(xent.XentError) as ei:
        xent.finalize_stats(full, np.array([0, 10, 2]), total_cols=10)
    assert ei.value.status in (xent.ERR_LABEL_OUT_OF_RANGE, xent.ERR_INVALID_SHAPE)
    with raises_xent(xent.ERR_LABEL_OUT_OF_RANGE, "row 1"):
        xent.grad_from_stats(x, np.array([0, 10, 2]), full, col_offset=4, total_cols=10)


def test_python_argument_errors(rng):
    x = rng.standard_normal((3, 4))
    labels = np.array([0, 1, 2])
    st = xent.partial_stats(x, labels, col_offset=0, total_cols=4)
    with pytest.raises(TypeError):
        xent.partial_stats(x.tolist(), labels, col_offset=0, total_cols=4)
    with pytest.raises(TypeError):
        xent.partial_stats(x.astype(np.float16), labels, col_offset=0, total_cols=4)
    with pytest.raises(ValueError):
        xent.partial_stats(x, labels, col_offset=-1, total_cols=4)
    with pytest.raises(TypeError):
        xent.partial_stats(x, labels, col_offset=0.0, total_cols=4)
    with pytest.raises(TypeError):
        xent.partial_stats(x, labels, col_offset=0, total_cols=4, out=np.zeros((3, 6)))
    with pytest.raises(ValueError):
        xent.partial_stats(x, labels, col_offset=0, total_cols=4, out=np.zeros(2, xent.STATS_DTYPE))
    with pytest.raises(ValueError):
        xent.partial_stats(x, labels[:2], col_offset=0, total_cols=4)
    with pytest.raises(ValueError):
        xent.partial_stats(x.T, labels, col_offset=0, total_cols=3)
    with pytest.raises(TypeError):
        xent.merge_stats(st, st.view(np.float64).reshape(3, 6))
    with pytest.raises(ValueError):
        xent.merge_stats(st, st[:2])
    with pytest.raises(ValueError):
        xent.merge_stats(st[::2], st[::2])
    ro = st.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        xent.merge_stats(st, st, out=ro)
    with pytest.raises(TypeError):
        xent.finalize_stats(st, labels, total_cols=4, dtype=np.int32)
    with pytest.raises(ValueError):
        xent.finalize_stats(st, labels, total_cols=4, reduction="avg")
    with pytest.raises(xent.XentError):
        xent.finalize_stats(st, labels, total_cols=4, label_smoothing=1.5)
    with pytest.raises(ValueError):
        xent.grad_from_stats(x, labels, st[:2], col_offset=0, total_cols=4)
    with pytest.raises(TypeError):
        xent.grad_from_stats(x, labels, st, col_offset=0, total_cols=4, grad_out=np.empty((3, 4), np.float32))
    with pytest.raises(ValueError):
        xent.grad_from_stats(x, labels, st, col_offset=0, total_cols=4, grad_out="in place")
    # a partial overlap of out with an input is the library's ALIASING error
    both = np.concatenate([st, st])
    with pytest.raises(xent.XentError) as ei:
        xent.merge_stats(both[:3], both[3:], out=both[1:4])
    assert ei.value.status == xent.ERR_ALIASING


def test_dtype_mirrors_the_c_struct():
    assert xent.STATS_DTYPE.names == ("max", "sum_exp", "sum_x", "count", "label_logit", "label_seen")
    assert xent.STATS_DTYPE.itemsize == 48
    assert [xent.STATS_DTYPE.fields[n][1] for n in xent.STATS_DTYPE.names] == list(range(0, 48, 8))
    assert xent.sharded_stats_available()


def test_old_library_raises_clearly(tmp_path):
    """Against a 1.0.0 library the package imports; the sharded functions raise XentError(ERR_UNSUPPORTED)."""
    code = """
        import numpy as np, xent
        assert not xent.sharded_stats_available()
        try:
            xent.partial_stats(np.zeros((2, 3)), [0, 1], col_offset=0, total_cols=3)
        except xent.XentError as e:
            assert e.status == xent.ERR_UNSUPPORTED and "1.1.0" in str(e), str(e)
            print("OK", e)
        else:
            raise SystemExit("no error")
    """
    p = run_python(code, fake_library(tmp_path, "1.0.0"))
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr
