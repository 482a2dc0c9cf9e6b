"""xent.linear_cross_entropy (the fused LM head, libxent >= 1.2.0) against the extended-precision reference
(_reference.linear_cross_entropy: logits = hidden @ weight.T + bias, _reference.cross_entropy with the options,
grad_hidden = G @ weight, grad_weight = G.T @ hidden, grad_bias = G.sum(0)).

Tolerances are relative, with the floor each quantity's rounding can reach: the logits are formed in the element
type from ``dim`` products, so every result may carry an error of the order of u * (|hidden| @ |weight|.T + |bias|)
(M below) on top of the cross-entropy kernel's own; the gradients add the GEMMs' error, of the order of u times the
magnitudes summed (|G| @ |weight| etc.). float64 results must be within 1e-12 of these, float32 within 1e-5.
"""

import importlib.util
import pathlib
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _reference as ref
import xent
from helpers import DTYPES, REDUCTIONS, class_weights, fake_library, raises_xent, run_python, sweep

pytestmark = pytest.mark.skipif(
    not xent.linear_cross_entropy_available(), reason="the loaded library is older than 1.2.0"
)

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
GRADS = ("hidden", "weight", "bias")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def problem(rng, rows, dim, classes, dtype, bias=True, pad=0):
    """hidden (rows, dim), weight (classes, dim), bias (classes,) or None, labels; logits of magnitude ~3.
    ``pad`` > 0: hidden and weight are column slices of wider arrays whose padding is NaN (never read)."""

    def mat(n, scale):
        base = np.full((n, dim + pad), np.nan)
        base[:, :dim] = rng.standard_normal((n, dim)) * scale
        return base.astype(dtype)[:, :dim]

    h = mat(rows, 1.0)
    w = mat(classes, 3.0 / np.sqrt(dim))
    b = rng.standard_normal(classes).astype(dtype) if bias else None
    return h, w, b, rng.integers(0, classes, size=rows)


def reference(h, w, b, labels, **options):
    """The reference dict plus the error floors of every output (see the module docstring)."""
    r = ref.linear_cross_entropy(h, w, b, labels, **options)
    H, W = np.abs(h.astype(ref.LD)), np.abs(w.astype(ref.LD))
    m = H @ W.T
    if b is not None:
        m = m + np.where(np.isfinite(b), np.abs(b.astype(ref.LD)), 0)
    rowmax = m.max(axis=1) if m.size else np.zeros(m.shape[0], ref.LD)
    plain = {k: v for k, v in options.items() if k != "soft_cap"}
    # the loss floor of logits of magnitude m: sum_j |t_j| (|lse| + m_j), reduced like the loss
    r["loss_floor"] = r["loss_scale"] + ref.cross_entropy(m, labels, **plain)["loss_scale"]
    r["lse_floor"] = r["lse_scale"] + rowmax
    # |G| plus what an error of u*m in the logits does to it (through the softmax: s * p * m)
    g_abs = np.abs(r["grad"]) + r["grad_scale"] * r["probs"] * (1 + rowmax[:, None])
    r["grad_hidden_floor"] = g_abs @ W
    r["grad_weight_floor"] = g_abs.T @ H
    r["grad_bias_floor"] = g_abs.sum(axis=0)
    lam = ref.LD(np.float32(options.get("z_loss", 0.0)))
    counted = np.asarray(labels) != options.get("ignore_index", -100)
    zs = np.where(counted, 2 * lam * np.abs(np.nan_to_num(r["lse"])) * (1 + rowmax), 0)
    if options.get("reduction", "mean") != "none":
        n = int(counted.sum())
        zs = zs.sum() / (n if n and options.get("reduction", "mean") == "mean" else 1)
    r["z_floor"] = zs
    return r


def check(res, r, dtype, reduction, want=GRADS, lse=True, z=False, rtol=None, ctx=""):
    """Compare a linear_cross_entropy result with ``reference(...)``; ``want``: the gradients requested."""
    rtol = RTOL[np.dtype(dtype)] if rtol is None else rtol
    asked = bool(want) or lse or z
    assert isinstance(res, xent.LinearCrossEntropyResult) == asked, (type(res), ctx)
    loss = res.loss if asked else res
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.shape == r["loss"].shape, ctx
    else:
        assert isinstance(loss, np.dtype(dtype).type), (type(loss), ctx)
    assert np.asarray(loss).dtype == dtype, ctx
    ref.assert_close(np.asarray(loss), r["loss"], rtol, r["loss_floor"], "loss " + ctx)
    if not asked:
        return
    assert len(res) == (6 if z else 5), ctx
    for name in GRADS:
        g = getattr(res, "grad_" + name)
        if name not in want:
            assert g is None, (name, ctx)
            continue
        assert g.dtype == dtype, (name, ctx)
        ref.assert_close(g, r["grad_" + name], rtol, r[f"grad_{name}_floor"], f"grad_{name} " + ctx)
    if lse:
        assert res.lse.dtype == dtype and res.lse.shape == r["lse"].shape, ctx
        ref.assert_close(res.lse, r["lse"], rtol, r["lse_floor"], "lse " + ctx)
    else:
        assert res.lse is None, ctx
    if z:
        zl = np.asarray(res.z_loss)
        assert zl.dtype == np.float64 and zl.shape == np.shape(r["z_loss"]), ctx
        ref.assert_close(zl, r["z_loss"], 4 * rtol, r["z_floor"], "z_loss " + ctx)
    else:
        assert res.z_loss is None, ctx


def call_and_check(h, w, b, labels, options, want=GRADS, lse=True, z=False, rtol=None, ctx="", **xent_only):
    """linear_cross_entropy(h, w, labels, ...) against the reference; also checks that no input was modified."""
    want = tuple(n for n in want if n != "bias" or b is not None)
    r = reference(h, w, b, labels, **options)
    before = [a.copy() for a in (h, w, labels) + ((b,) if b is not None else ())]
    res = xent.linear_cross_entropy(
        h, w, labels, bias=b, grad=want, return_lse=lse, return_z_loss=z, **options, **xent_only
    )
    after = (h, w, labels) + ((b,) if b is not None else ())
    assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(before, after)), "an input was modified " + ctx
    check(res, r, h.dtype, options.get("reduction", "mean"), want, lse, z, rtol, ctx)
    return res, r


OPTION_SETS = {
    "plain": {},
    "smoothing": dict(label_smoothing=0.1),
    "grad_scale": dict(grad_scale=2.5),
    "ignore": dict(ignore_index=-7),
    "z_loss": dict(z_loss=0.05),
    "soft_cap": dict(soft_cap=4.0),
    "class_weights": dict(class_weights=True),
    # soft cap + smoothing + class weights: the library keeps G beside the logits instead of over them
    "all": dict(ignore_index=-7, label_smoothing=0.1, grad_scale=0.5, z_loss=0.01, soft_cap=4.0, class_weights=True),
}


def options_for(name, reduction, rng, classes, labels):
    opts = dict(OPTION_SETS[name], reduction=reduction)
    if opts.get("class_weights") is True:
        opts["class_weights"] = class_weights(rng, classes, zero=(1,))
    if "ignore_index" in opts:
        labels[[0, 5]] = opts["ignore_index"]
    return opts


@sweep(dtype=DTYPES, reduction=REDUCTIONS, options=list(OPTION_SETS), with_bias=[True, False])
def test_matches_reference(dtype, reduction, options, with_bias):
    rng = np.random.default_rng(61)
    h, w, b, labels = problem(rng, 13, 19, 37, dtype, bias=with_bias)
    opts = options_for(options, reduction, rng, 37, labels)
    call_and_check(h, w, b, labels, opts, z=True, ctx=f"{dtype.__name__} {reduction} {options} bias={with_bias}")


@sweep(dtype=DTYPES, classes=[*range(1, 34), 4099])
def test_class_count_tails(dtype, classes):
    rng = np.random.default_rng(classes)
    h, w, b, labels = problem(rng, 9, 8, classes, dtype)
    opts = dict(label_smoothing=0.05, reduction="sum")
    call_and_check(h, w, b, labels, opts, ctx=f"{dtype.__name__} classes={classes}")


@sweep(dtype=DTYPES, dim=[1, 2, 7, 8, 9, 64, 257])
def test_dims(dtype, dim):
    rng = np.random.default_rng(dim)
    h, w, b, labels = problem(rng, 21, dim, 29, dtype)
    call_and_check(h, w, b, labels, dict(reduction="mean"), ctx=f"{dtype.__name__} dim={dim}")


@sweep(dtype=DTYPES)
def test_one_class(dtype):
    """One class: probability 1, loss and gradient exactly 0 (no smoothing, no z-loss; reduction "sum": with "mean"
    the gradient scale 1/rows is rounded, and the float32 kernel leaves G within an ulp of that scale, as
    xent.cross_entropy does)."""
    rng = np.random.default_rng(3)
    h, w, b, labels = problem(rng, 6, 5, 1, dtype)
    res = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, return_lse=True, reduction="sum")
    assert res.loss == 0 and not res.grad_hidden.any() and not res.grad_weight.any() and not res.grad_bias.any()
    np.testing.assert_allclose(res.lse, (h @ w.T + b)[:, 0], rtol=RTOL[np.dtype(dtype)])
    call_and_check(h, w, b, labels, dict(reduction="mean"), ctx="one class mean")
    call_and_check(h, w, b, labels, dict(z_loss=0.1, reduction="none"), z=True, ctx="one class z-loss")


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_no_rows(dtype, reduction):
    rng = np.random.default_rng(4)
    _, w, b, _ = problem(rng, 0, 6, 11, dtype)
    h = np.empty((0, 6), dtype)
    labels = np.empty(0, np.int64)
    res = xent.linear_cross_entropy(
        h, w, labels, bias=b, reduction=reduction, grad=True, return_lse=True, return_z_loss=True, z_loss=0.1
    )
    if reduction == "none":
        assert res.loss.shape == (0,) and res.z_loss.shape == (0,)
    else:
        assert res.loss == 0 and res.z_loss == 0
    assert res.grad_hidden.shape == (0, 6) and res.lse.shape == (0,)
    assert res.grad_weight.shape == w.shape and not res.grad_weight.any()
    assert res.grad_bias.shape == b.shape and not res.grad_bias.any()
    # preallocated outputs are zeroed, or left alone when accumulating
    gw, gb = np.full_like(w, 7), np.full_like(b, 7)
    xent.linear_cross_entropy(h, w, labels, bias=b, out={"grad_weight": gw, "grad_bias": gb})
    assert not gw.any() and not gb.any()
    gw[:], gb[:] = 7, 7
    xent.linear_cross_entropy(h, w, labels, bias=b, out={"grad_weight": gw, "grad_bias": gb}, accumulate=True)
    assert (gw == 7).all() and (gb == 7).all()


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_every_row_ignored(dtype, reduction):
    """No counted row: the mean is 0, not NaN; gradients are zero; the lse is still computed."""
    rng = np.random.default_rng(5)
    h, w, b, _ = problem(rng, 7, 6, 13, dtype)
    labels = np.full(7, -100)
    res, _ = call_and_check(h, w, b, labels, dict(reduction=reduction, z_loss=0.1), z=True, ctx="all ignored")
    assert not np.asarray(res.loss).any() and not np.asarray(res.z_loss).any()
    assert not res.grad_hidden.any() and not res.grad_weight.any() and not res.grad_bias.any()
    assert np.isfinite(res.lse).all()


@sweep(dtype=DTYPES, layout=["column slices", "every other row", "out strided"])
def test_strided_views(dtype, layout):
    """Row-strided hidden/weight (views, never copied) and row-strided gradient outputs give the results of the
    contiguous arrays; the padding of the outputs is never written."""
    rng = np.random.default_rng(6)
    h, w, b, labels = problem(rng, 12, 10, 23, dtype, pad=5)
    kw = {}
    if layout == "every other row":
        hb = np.full((24, 10), np.nan, dtype)
        hb[::2] = h
        wb = np.full((46, 10), np.nan, dtype)
        wb[::2] = w
        h, w = hb[::2], wb[::2]
    elif layout == "out strided":
        h, w = np.ascontiguousarray(h), np.ascontiguousarray(w)
        ghb, gwb = np.full((12, 13), 9, dtype), np.full((23, 17), 9, dtype)
        kw["out"] = {"grad_hidden": ghb[:, :10], "grad_weight": gwb[:, :10]}
    res, _ = call_and_check(h, w, b, labels, dict(label_smoothing=0.1), ctx=layout, **kw)
    if layout == "out strided":
        assert res.grad_hidden is kw["out"]["grad_hidden"] and res.grad_weight is kw["out"]["grad_weight"]
        assert (ghb[:, 10:] == 9).all() and (gwb[:, 10:] == 9).all()
    else:
        assert h.base is not None and w.base is not None  # still the views
    contiguous = xent.linear_cross_entropy(
        np.ascontiguousarray(h), np.ascontiguousarray(w), labels, bias=b, grad=True, label_smoothing=0.1
    )
    rtol = RTOL[np.dtype(dtype)]
    for got, want in zip(res[:4], contiguous[:4]):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@sweep(dtype=DTYPES)
def test_grad_names(dtype):
    rng = np.random.default_rng(7)
    h, w, b, labels = problem(rng, 8, 6, 15, dtype)
    full = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True)
    assert all(x is not None for x in full[1:4]) and full.lse is None and len(full) == 5
    subsets = [(), ("hidden",), ("weight",), ("bias",), ("hidden", "bias"), ("weight", "bias"), GRADS]
    for names in subsets:
        for grad in (names, list(names), set(names), iter(names)) + ((names[0],) if len(names) == 1 else ()):
            res = xent.linear_cross_entropy(h, w, labels, bias=b, grad=grad)
            if not names:
                assert isinstance(res, np.floating) and res == full.loss
                continue
            assert res.loss == full.loss
            for i, n in enumerate(GRADS, start=1):
                if n in names:
                    assert np.array_equal(res[i], full[i]), (names, n)
                else:
                    assert res[i] is None, (names, n)
        if len(names) == 1:  # one name as a plain string
            res = xent.linear_cross_entropy(h, w, labels, bias=b, grad=names[0])
            assert np.array_equal(getattr(res, "grad_" + names[0]), full[GRADS.index(names[0]) + 1])
    # without a bias, True means hidden and weight
    nob = xent.linear_cross_entropy(h, w, labels, grad=True)
    assert nob.grad_bias is None and nob.grad_hidden is not None and nob.grad_weight is not None
    with pytest.raises(ValueError, match="bias"):
        xent.linear_cross_entropy(h, w, labels, grad=["bias"])
    with pytest.raises(ValueError, match="bias"):
        xent.linear_cross_entropy(h, w, labels, grad="bias")
    for bad in (["hidden", "logits"], "weights", [1], ["Hidden"]):
        with pytest.raises(ValueError, match="unknown"):
            xent.linear_cross_entropy(h, w, labels, bias=b, grad=bad)
    for bad in (1, 2.0, object()):
        with pytest.raises(TypeError):
            xent.linear_cross_entropy(h, w, labels, bias=b, grad=bad)


@sweep(dtype=DTYPES, reduction=REDUCTIONS)
def test_accumulate(dtype, reduction):
    """accumulate=True adds grad_weight and grad_bias into out's arrays: twice the same batch is twice the
    gradient, and two micro-batches add up to the whole batch (reduction "sum"/"none"; the means of two halves are
    the halves' means)."""
    rng = np.random.default_rng(8)
    h, w, b, labels = problem(rng, 16, 9, 21, dtype)
    rtol = RTOL[np.dtype(dtype)]
    opts = dict(reduction=reduction, label_smoothing=0.1, z_loss=0.01)
    once = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, **opts)
    gw, gb = np.zeros_like(w), np.zeros_like(b)
    out = {"grad_weight": gw, "grad_bias": gb}
    for _ in range(2):
        res = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, out=out, accumulate=True, **opts)
        assert res.grad_weight is gw and res.grad_bias is gb
        assert np.array_equal(res.grad_hidden, once.grad_hidden)  # never accumulated
    ref.assert_close(gw, 2 * once.grad_weight.astype(ref.LD), 2 * rtol, np.abs(once.grad_weight).max(), "2x gw")
    ref.assert_close(gb, 2 * once.grad_bias.astype(ref.LD), 2 * rtol, np.abs(once.grad_bias).max(), "2x gb")
    # micro-batches (a previous result passed back as out), against the reference of the whole batch
    whole = reference(h, w, b, labels, **opts)
    res = None
    for k, part in enumerate([slice(0, 5), slice(5, 16)]):
        res = xent.linear_cross_entropy(
            h[part], w, labels[part], bias=b, grad=["weight", "bias"], out=res, accumulate=k > 0, **opts
        )
    if reduction == "mean":
        return  # each part's gradient is scaled by its own count; the sum is not the whole batch's
    ref.assert_close(res.grad_weight, whole["grad_weight"], rtol, whole["grad_weight_floor"], "micro-batch gw")
    ref.assert_close(res.grad_bias, whole["grad_bias"], rtol, whole["grad_bias_floor"], "micro-batch gb")


def test_accumulate_needs_out():
    rng = np.random.default_rng(9)
    h, w, b, labels = problem(rng, 4, 3, 5, np.float64)
    with pytest.raises(ValueError, match="grad_weight"):
        xent.linear_cross_entropy(h, w, labels, grad=True, accumulate=True)
    with pytest.raises(ValueError, match="grad_bias"):
        xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, accumulate=True, out={"grad_weight": 0 * w})
    # nothing to add into: only grad_hidden (never accumulated) or no gradient at all
    res = xent.linear_cross_entropy(h, w, labels, bias=b, grad="hidden", accumulate=True)
    assert res.grad_weight is None
    assert xent.linear_cross_entropy(h, w, labels, accumulate=True) == xent.linear_cross_entropy(h, w, labels)


@sweep(dtype=DTYPES, with_bias=[True, False])
def test_small_workspace(dtype, with_bias):
    """A workspace of a few rows of logits (several row blocks, including 16-row multiples and a short last block)
    gives the same results as one block, within rounding; too small for one row is ERR_INVALID_OPTION."""
    rng = np.random.default_rng(10)
    rows, classes = 53, 31
    h, w, b, labels = problem(rng, rows, 12, classes, dtype, bias=with_bias)
    labels[3] = -100
    item = np.dtype(dtype).itemsize
    # The header's workspace formula: per row, the logits, 64 bytes per 2048-class tile and 64 more, and
    # min(tiles, 4) - 1 rows of dim (the parts of grad_hidden); the bias sums; 192.
    sums = (2 if dtype == np.float64 else 1) * classes * 8 + 192
    tiles = -(-classes // 2048)
    item_row = classes * item + 64 * (tiles + 1) + (min(tiles, 4) - 1) * 12 * item
    opts = dict(label_smoothing=0.1, z_loss=0.01)
    one_block = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, return_lse=True, **opts)
    rtol = RTOL[np.dtype(dtype)]
    for block_rows in (1, 2, 7, 17, 40):
        ws = sums + block_rows * item_row
        res, _ = call_and_check(h, w, b, labels, opts, ctx=f"workspace {block_rows} rows", workspace_bytes=ws)
        for got, want in zip(res[:5], one_block[:5]):
            if want is not None:
                np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
    with raises_xent(xent.ERR_INVALID_OPTION, "workspace"):
        xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, workspace_bytes=sums + item_row - 1)
    with pytest.raises(ValueError):
        xent.linear_cross_entropy(h, w, labels, workspace_bytes=-1)
    with pytest.raises(TypeError):
        xent.linear_cross_entropy(h, w, labels, workspace_bytes=1.5)


@sweep(dtype=DTYPES)
def test_threads_bit_identical(dtype):
    """num_threads bounds every thread of the call, the BLAS's included; results are bit-identical for any count."""
    rng = np.random.default_rng(11)
    h, w, b, labels = problem(rng, 300, 40, 2100, dtype)
    labels[::7] = -100
    kw = dict(bias=b, grad=True, return_lse=True, return_z_loss=True, label_smoothing=0.1, z_loss=0.01)
    results = [xent.linear_cross_entropy(h, w, labels, num_threads=n, **kw) for n in (1, 2, 0, 2)]
    for res in results[1:]:
        for got, want in zip(res, results[0]):
            assert np.array_equal(got, want)
    none = [xent.linear_cross_entropy(h, w, labels, reduction="none", num_threads=n, **kw) for n in (1, 2)]
    assert all(np.array_equal(x, y) for x, y in zip(*none))


@sweep(dtype=DTYPES, options=list(OPTION_SETS))
def test_loss_only(dtype, options):
    """A call without gradients (its tiles in a scratch tile per thread, as tall as the workspace allows: spans of
    several row blocks; keeping only their statistics and the labels' logits) returns the loss, lse and z-loss of
    the call with every gradient up to the BLAS's rounding of logits in GEMMs of another height (4 ulp here), and
    the same bits for any thread count; also with workspaces of a few rows (spans of 1 and of 4 blocks)."""
    rng = np.random.default_rng(12)
    eps = np.finfo(dtype).eps
    for classes, bounds in ((4200, (0, 40 * 4200)), (20000, (32 * 20000, 100 * 20000))):
        h, w, b, labels = problem(rng, 531 if classes < 10000 else 300, 24, classes, dtype)
        for reduction in REDUCTIONS:
            opts = options_for(options, reduction, rng, classes, labels)
            kw = dict(bias=b, return_lse=True, return_z_loss=True, **opts)
            for rows_bytes in bounds:
                ws = dict(workspace_bytes=rows_bytes * h.itemsize + 300000) if rows_bytes else dict()
                full = xent.linear_cross_entropy(h, w, labels, grad=True, **kw, **ws)
                alone = [xent.linear_cross_entropy(h, w, labels, num_threads=n, **kw, **ws) for n in (1, 3)]
                for other in alone[1:]:
                    for got, want in zip(other, alone[0]):
                        assert got is None or np.array_equal(got, want, equal_nan=True), (reduction, rows_bytes)
                for got, want in ((alone[0].loss, full.loss), (alone[0].lse, full.lse), (alone[0].z_loss, full.z_loss)):
                    np.testing.assert_allclose(
                        got, want, rtol=4 * eps, atol=0, equal_nan=True, err_msg=f"{reduction} {classes} {rows_bytes}"
                    )


def test_release_workspace():
    """The library keeps a call's workspace for the next call: a call that reuses a larger block, left full of
    another problem's values (NaN and infinities among them), gives the bits of a call with a fresh block;
    release_workspace() returns the kept block's size, then 0."""
    rng = np.random.default_rng(14)
    h, w, b, labels = problem(rng, 37, 12, 2100, np.float32)
    kw = dict(bias=b, grad=True, return_lse=True, label_smoothing=0.1, soft_cap=20.0, reduction="none")
    other_h, other_w, other_b, other_labels = problem(rng, 61, 7, 4200, np.float64)
    other_h[5, 3], other_b[9], other_b[10] = np.nan, np.inf, -np.inf
    xent.release_workspace()
    fresh = xent.linear_cross_entropy(h, w, labels, **kw)
    assert xent.release_workspace() > 0
    assert xent.release_workspace() == 0
    xent.linear_cross_entropy(other_h, other_w, other_labels, bias=other_b, grad=True, label_smoothing=0.2)
    kept = xent.linear_cross_entropy(h, w, labels, **kw)
    for got, want in zip(kept, fresh):
        assert got is None or np.array_equal(got, want, equal_nan=True)
    assert xent.release_workspace() > 0


@sweep(dtype=DTYPES)
def test_bad_labels(dtype):
    """A label outside [0, classes) raises XentError naming its row; nothing is written."""
    rng = np.random.default_rng(12)
    h, w, b, labels = problem(rng, 6, 4, 9, dtype)
    gw, gb = np.full_like(w, 5), np.full_like(b, 5)
    for row, bad in ((3, 9), (0, -1), (5, 1 << 40)):
        lab = labels.copy()
        lab[row] = bad
        with raises_xent(xent.ERR_LABEL_OUT_OF_RANGE, f"row {row}", str(bad)):
            xent.linear_cross_entropy(h, w, lab, bias=b, out={"grad_weight": gw, "grad_bias": gb}, accumulate=True)
        assert (gw == 5).all() and (gb == 5).all()
    # other integer dtypes are converted; floats are refused
    want = xent.linear_cross_entropy(h, w, labels, bias=b)
    assert xent.linear_cross_entropy(h, w, labels.astype(np.int32), bias=b) == want
    assert xent.linear_cross_entropy(h, w, list(map(int, labels)), bias=b) == want
    with pytest.raises(TypeError):
        xent.linear_cross_entropy(h, w, labels.astype(np.float64), bias=b)
    with pytest.raises(ValueError):
        xent.linear_cross_entropy(h, w, labels[:5], bias=b)


def test_argument_errors():
    rng = np.random.default_rng(13)
    h, w, b, labels = problem(rng, 4, 6, 5, np.float32)
    h64, w64 = h.astype(np.float64), w.astype(np.float64)
    lab = labels

    def call(*args, **kw):
        return xent.linear_cross_entropy(*args, **kw)

    type_errors = [
        ((h.tolist(), w, lab), {}),
        ((h.astype(np.int64), w, lab), {}),
        ((h.astype(np.float16), w.astype(np.float16), lab), {}),
        ((h, w64, lab), {}),  # mixed dtypes
        ((h64, w, lab), {}),
        ((h, w, lab), dict(bias=b.astype(np.float64))),
        ((h, w, lab), dict(bias=b.tolist())),
        ((h, w, lab.astype(np.float32)), {}),
        ((h, w, lab), dict(return_lse=1)),
        ((h, w, lab), dict(accumulate="yes")),
        ((h, w, lab), dict(return_z_loss=None)),
        ((h, w, lab), dict(label_smoothing="0.1")),
        ((h, w, lab), dict(num_threads=1.0)),
        ((h, w, lab), dict(out=[np.zeros_like(w)])),
        ((h, w, lab), dict(out={"grad_weight": np.zeros_like(w64)})),  # wrong dtype
        ((h, w, lab), dict(out={"grad_weight": np.zeros_like(w).tolist()})),
    ]
    for args, kw in type_errors:
        with pytest.raises(TypeError):
            call(*args, **kw)
            pytest.fail(f"no TypeError for {kw or args}")
    wide = np.zeros((4, 12), np.float32)
    value_errors = [
        ((h[0], w, lab[:1]), {}),  # 1-D hidden
        ((h[None], w, lab), {}),  # 3-D
        ((h, w[0], lab), {}),
        ((h[:, :5], w, lab), {}),  # dim mismatch
        ((h, w[:0], lab), {}),  # no classes
        ((wide[:, ::2], w, lab), {}),  # column-strided
        ((h, np.zeros((6, 5), np.float32).T, lab), {}),  # transposed
        ((h[::-1], w, lab), {}),  # negative row stride
        ((h, w, lab), dict(bias=b[:4])),
        ((h, w, lab), dict(bias=np.zeros(10, np.float32)[::2])),  # strided bias
        ((h, w, lab), dict(bias=b[None])),
        ((h, w, lab), dict(reduction="avg")),
        ((h, w, lab), dict(class_weights=np.ones(4))),
        ((h, w, lab), dict(ignore_index=1 << 63)),
        ((h, w, lab), dict(out={"grad": np.zeros_like(w)})),
        ((h, w, lab), dict(out={"grad_weight": np.zeros((5, 7), np.float32)})),
        ((h, w, lab), dict(out={"grad_hidden": np.zeros((4, 6), np.float32)[:, ::-1]})),
        ((h, w, lab), dict(out={"grad_bias": np.zeros(5, np.float32)})),  # no bias
        ((h, w, lab), dict(bias=b, out={"grad_bias": np.zeros(10, np.float32)[::2]})),
        ((h, w, lab), dict(return_lse=True, out={"lse": np.zeros(3, np.float32)})),
    ]
    ro = np.zeros_like(w)
    ro.flags.writeable = False
    value_errors.append(((h, w, lab), dict(out={"grad_weight": ro})))
    for args, kw in value_errors:
        with pytest.raises(ValueError) as e:
            call(*args, **kw)
            pytest.fail(f"no ValueError for {kw or [getattr(a, 'shape', a) for a in args]}")
        assert not isinstance(e.value, xent.XentError), str(e.value)
    # statuses of the library
    library_errors = [
        (xent.ERR_INVALID_OPTION, dict(label_smoothing=1.5)),
        (xent.ERR_INVALID_OPTION, dict(grad_scale=np.inf)),
        (xent.ERR_INVALID_OPTION, dict(z_loss=-1.0)),
        (xent.ERR_INVALID_OPTION, dict(soft_cap=np.nan)),
        (xent.ERR_INVALID_OPTION, dict(class_weights=[1, 1, -1, 1, 1])),
    ]
    for status, kw in library_errors:
        with raises_xent(status):
            call(h, w, lab, grad=True, **kw)
    with raises_xent(xent.ERR_INVALID_SHAPE, "dim"):
        call(np.zeros((4, 0), np.float32), np.zeros((5, 0), np.float32), lab)


@sweep(dtype=DTYPES)
def test_aliasing(dtype):
    """No output may overlap an input or another output: XentError ERR_ALIASING, nothing written."""
    rng = np.random.default_rng(14)
    h, w, b, labels = problem(rng, 5, 4, 5, dtype)  # rows == classes: hidden, weight, outputs share shapes
    keep = {k: v.copy() for k, v in dict(h=h, w=w, b=b).items()}
    other, vec = np.zeros_like(w), np.zeros_like(b)
    cases = [
        {"grad_weight": w},
        {"grad_hidden": h},
        {"grad_hidden": w},
        {"grad_weight": h},
        {"grad_bias": b},
        {"lse": b},
        {"grad_hidden": other, "grad_weight": other},
        {"grad_bias": vec, "lse": vec},
        {"grad_hidden": other, "grad_weight": np.zeros_like(w), "grad_bias": vec},  # disjoint: fine
    ]
    for out in cases[:-1]:
        with raises_xent(xent.ERR_ALIASING):
            xent.linear_cross_entropy(h, w, labels, bias=b, out=out)
        assert all(np.array_equal(v, dict(h=h, w=w, b=b)[k]) for k, v in keep.items()), out
    xent.linear_cross_entropy(h, w, labels, bias=b, out=cases[-1])
    # weight padding used as grad_hidden storage: the byte extents overlap (the library checks extents)
    wb = np.zeros((5, 8), dtype)
    wb[:, :4] = w
    with raises_xent(xent.ERR_ALIASING):
        xent.linear_cross_entropy(h, wb[:, :4], labels, bias=b, out={"grad_hidden": wb[:, 4:]})


@sweep(dtype=DTYPES)
def test_special_values(dtype):
    """A -inf bias masks its class (probability 0, exact zero gradient row without smoothing); a NaN in a row of
    hidden makes that row's loss, lse and grad_hidden NaN and leaves the other rows exact."""
    rng = np.random.default_rng(15)
    h, w, b, labels = problem(rng, 6, 5, 9, dtype)
    labels[labels == 4] = 0
    b[4] = -np.inf
    res, _ = call_and_check(h, w, b, labels, dict(reduction="none"), ctx="-inf bias")
    assert not res.grad_weight[4].any() and res.grad_bias[4] == 0
    hn = h.copy()
    hn[2, 1] = np.nan
    bad = xent.linear_cross_entropy(hn, w, labels, bias=b, reduction="none", grad=True, return_lse=True)
    assert np.isnan(bad.loss[2]) and np.isnan(bad.lse[2]) and np.isnan(bad.grad_hidden[2]).all()
    ok = np.arange(6) != 2
    assert np.array_equal(bad.loss[ok], res.loss[ok]) and np.array_equal(bad.grad_hidden[ok], res.grad_hidden[ok])


def test_result_and_out_conventions():
    rng = np.random.default_rng(16)
    h, w, b, labels = problem(rng, 4, 3, 6, np.float32)
    loss = xent.linear_cross_entropy(h, w, labels)
    assert isinstance(loss, np.float32)
    none = xent.linear_cross_entropy(h, w, labels, reduction="none")
    assert isinstance(none, np.ndarray) and none.shape == (4,) and none.dtype == np.float32
    res = xent.linear_cross_entropy(h, w, labels, bias=b, return_lse=True)
    assert type(res) is xent.LinearCrossEntropyResult and len(res) == 5
    assert res._fields == ("loss", "grad_hidden", "grad_weight", "grad_bias", "lse")
    assert res.grad_hidden is None and res.grad_weight is None and res.grad_bias is None
    loss5, gh, gw, gb, lse = res
    assert lse.shape == (4,) and loss5 == xent.linear_cross_entropy(h, w, labels, bias=b)
    z = xent.linear_cross_entropy(h, w, labels, return_z_loss=True, z_loss=0.1)
    assert len(z) == 6 and isinstance(z.z_loss, np.float64) and z._fields[-1] == "z_loss"
    assert xent.LinearCrossEntropyResult._fields == (*res._fields, "z_loss")
    assert len(z._replace(z_loss=None)) == 5 and z._asdict()["z_loss"] == z.z_loss
    for r in (res, z):
        back = pickle.loads(pickle.dumps(r))
        assert type(back) is xent.LinearCrossEntropyResult and len(back) == len(r) and back.loss == r.loss
    assert repr(res).startswith("LinearCrossEntropyResult(loss=")
    # out: an array given is computed and returned (it implies the request); a result can be passed back
    gh = np.empty_like(h)
    res = xent.linear_cross_entropy(h, w, labels, out={"grad_hidden": gh, "grad_weight": None})
    assert res.grad_hidden is gh and res.grad_weight is None and res.lse is None
    full = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, return_lse=True)
    again = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, return_lse=True, out=full)
    assert all(x is y for x, y in zip(again[1:], full[1:]))


def test_float32_close_to_unfused_pipeline():
    """f32: the fused call is within the error of the unfused float32 pipeline (numpy's sgemm logits,
    xent.cross_entropy, sgemm gradients) against the extended-precision reference (the header's f32 bound)."""
    rng = np.random.default_rng(17)
    h, w, b, labels = problem(rng, 64, 48, 1000, np.float32)
    r = ref.linear_cross_entropy(h, w, b, labels, label_smoothing=0.1)
    fused = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, label_smoothing=0.1)
    logits = h @ w.T + b
    u = xent.cross_entropy(logits, labels, grad=True, bias_grad=True, label_smoothing=0.1)
    unfused = (u.loss, u.grad @ w, u.grad.T @ h, u.bias_grad)
    names = ("loss", "grad_hidden", "grad_weight", "grad_bias")
    for name, a, c in zip(names, fused[:4], unfused):
        want = r[name].astype(np.float64)
        err_fused = np.abs(np.asarray(a, np.float64) - want).max()
        err_unfused = np.abs(np.asarray(c, np.float64) - want).max()
        floor = 1e-7 * np.abs(want).max()
        assert err_fused <= 4 * max(err_unfused, floor), (name, err_fused, err_unfused)


def test_lm_head_example_smoke():
    """python/examples/lm_head_bigram.py: a few dozen steps of training lower the loss."""
    path = ROOT / "python" / "examples" / "lm_head_bigram.py"
    spec = importlib.util.spec_from_file_location("lm_head_bigram", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    losses = mod.train(steps=40, batch=256, dim=32, log_every=0, seed=1)
    assert len(losses) == 40 and np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5]), losses


@st.composite
def linear_problems(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rows, dim, classes = draw(st.integers(0, 20)), draw(st.integers(1, 12)), draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    h, w, b, labels = problem(
        rng, rows, dim, classes, dtype, bias=draw(st.booleans()), pad=draw(st.sampled_from([0, 3]))
    )
    if rows and draw(st.booleans()):
        labels[rng.random(rows) < 0.3] = -100
    opts = dict(reduction=draw(st.sampled_from(REDUCTIONS)))
    if draw(st.booleans()):
        opts["label_smoothing"] = draw(st.sampled_from([0.05, 0.5, 1.0]))
    if draw(st.booleans()):
        opts["grad_scale"] = draw(st.sampled_from([0.25, 3.0, -1.0]))
    if draw(st.booleans()):
        opts["z_loss"] = draw(st.sampled_from([1e-4, 0.1]))
    if draw(st.booleans()):
        opts["soft_cap"] = draw(st.sampled_from([1.0, 10.0]))
    if draw(st.booleans()):
        opts["class_weights"] = class_weights(rng, classes, zero=(0,))
    grads = tuple(n for n in GRADS if draw(st.booleans()))
    return h, w, b, labels, opts, grads, draw(st.booleans()), draw(st.booleans())


def _zero_weight_sum_with_z_loss(labels, opts):
    """The case of test_z_loss_gradient_with_zero_weight_sum: "mean", z_loss > 0, class weights whose sum over the
    counted rows' labels is 0 while some row is counted (only the z-loss gradient remains)."""
    counted = labels[labels != opts.get("ignore_index", -100)]
    weights = opts.get("class_weights")
    return (
        opts["reduction"] == "mean"
        and opts.get("z_loss", 0) > 0
        and weights is not None
        and counted.size > 0
        and np.asarray(weights)[counted].sum() == 0
    )


@given(linear_problems())
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_property_matches_reference(problem_):
    h, w, b, labels, opts, grads, lse, z = problem_
    call_and_check(h, w, b, labels, opts, want=grads, lse=lse, z=z, ctx=str(opts))


@sweep(dtype=DTYPES)
def test_z_loss_gradient_with_zero_weight_sum(dtype):
    rng = np.random.default_rng(18)
    h, w, b, labels = problem(rng, 5, 4, 6, dtype)
    labels[:] = [1, 1, 2, -100, 1]
    opts = dict(reduction="mean", z_loss=0.1, class_weights=[1.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    assert _zero_weight_sum_with_z_loss(labels, opts)
    unfused = xent.cross_entropy(h @ w.T + b, labels, grad=True, **opts)
    assert np.abs(unfused.grad).max() > 1e-3  # the z-loss gradient alone
    call_and_check(h, w, b, labels, opts, ctx="zero weight sum, z-loss")


def test_older_library(tmp_path):
    """Against a 1.1.0 library (no xent_linear_cross_entropy_*) the package imports; the function raises XentError
    ERR_UNSUPPORTED and linear_cross_entropy_available() is False."""
    code = """
        import numpy as np, xent
        assert not xent.linear_cross_entropy_available()
        try:
            xent.linear_cross_entropy(np.zeros((2, 3)), np.zeros((4, 3)), [0, 1])
        except xent.XentError as e:
            assert e.status == xent.ERR_UNSUPPORTED and "1.2.0" in str(e), str(e)
        else:
            raise AssertionError("no XentError")
        print("ok")
    """
    p = run_python(code, fake_library(tmp_path, "1.1.0"))
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


@sweep(dtype=DTYPES)
def test_large_class_count(dtype):
    """70001 classes (above the kernel's 65536-class column blocks, several GEMM pieces): the results of the
    unfused pipeline in float64 (np.matmul logits, xent.cross_entropy, np.matmul gradients) within the bounds."""
    rng = np.random.default_rng(19)
    h, w, b, labels = problem(rng, 6, 8, 70001, dtype)
    labels[1] = -100
    opts = dict(label_smoothing=0.1, z_loss=1e-3, reduction="sum")
    res = xent.linear_cross_entropy(h, w, labels, bias=b, grad=True, return_lse=True, **opts)
    h64, w64, b64 = (a.astype(np.float64) for a in (h, w, b))
    u = xent.cross_entropy(h64 @ w64.T + b64, labels, grad=True, bias_grad=True, return_lse=True, **opts)
    m = np.abs(h64) @ np.abs(w64).T + np.abs(b64)
    rtol = RTOL[np.dtype(dtype)]
    # |G| plus s * p * (1 + m) per counted row (s = 1 + 2 * lambda * |lse|: "sum", grad_scale 1), as in reference()
    s = np.where(labels != -100, 1 + 2e-3 * np.abs(u.lse), 0)[:, None]
    p = xent.softmax(h64 @ w64.T + b64)
    g_abs = np.abs(u.grad) + s * p * (1 + m.max(axis=1, keepdims=True))
    checks = [
        ("loss", res.loss, u.loss, m.max() * 6),
        ("lse", res.lse, u.lse, m.max(axis=1)),
        ("grad_hidden", res.grad_hidden, u.grad @ w64, g_abs @ np.abs(w64)),
        ("grad_weight", res.grad_weight, u.grad.T @ h64, g_abs.T @ np.abs(h64)),
        ("grad_bias", res.grad_bias, u.bias_grad, g_abs.sum(axis=0)),
    ]
    for name, got, want, floor in checks:
        ref.assert_close(got, want, rtol, floor, f"{name} 70001 classes")


def test_concurrent_calls_bit_identical():
    """Calls from 8 Python threads at once (the GIL is released) give the results of sequential calls."""
    import threading

    rng = np.random.default_rng(20)
    shared = problem(rng, 200, 32, 3000, np.float32)
    tasks = []
    for k in range(16):
        own = problem(rng, 20 + 7 * k, 8 + k, 50 + 31 * k, np.float64 if k % 2 else np.float32)
        tasks.append((shared, dict(grad=True, return_lse=True, label_smoothing=0.1, num_threads=k % 3)))
        tasks.append((own, dict(grad=["hidden", "bias"], reduction="none", z_loss=0.01, return_z_loss=True)))

    def run(task):
        (h, w, b, labels), kw = task
        return tuple(xent.linear_cross_entropy(h, w, labels, bias=b, **kw))

    sequential = [run(t) for t in tasks]
    concurrent = [None] * len(tasks)
    errors = []

    def worker(i0):
        try:
            for i in range(i0, len(tasks), 8):
                concurrent[i] = run(tasks[i])
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, (a, c) in enumerate(zip(sequential, concurrent)):
        assert all((x is None and y is None) or np.array_equal(x, y) for x, y in zip(a, c)), f"task {i}"
