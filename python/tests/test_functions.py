"""Every function, both dtypes, 1-D/2-D/row-strided, all reductions and options, against the reference."""

import numpy as np
import pytest

import _reference as ref
import xent
from helpers import (
    DTYPES,
    GRAD_MODES,
    LAYOUTS,
    REDUCTIONS,
    compare_with_reference,
    grad_kwargs,
    make_grad_out,
    make_logits,
    strided,
    sweep,
)


def _labels(rng, rows, cols, ignore_index=-100, n_ignored=1):
    labels = rng.integers(0, cols, size=rows)
    if rows > 1 and n_ignored:
        labels[rng.choice(rows, size=min(n_ignored, rows - 1), replace=False)] = ignore_index
    return labels


@sweep(dtype=DTYPES, layout=LAYOUTS, reduction=REDUCTIONS, smoothing=[0.0, 0.1], grad_mode=GRAD_MODES)
def test_cross_entropy(dtype, layout, reduction, smoothing, grad_mode, rng):
    rows, cols = 13, 37
    logits = make_logits(layout, rows, cols, dtype, rng)
    labels = _labels(rng, rows, cols) if layout != "1d" else int(rng.integers(0, cols))
    kw = grad_kwargs(grad_mode, logits)
    opts = dict(reduction=reduction, label_smoothing=smoothing, grad_scale=2.5)
    res, _ = compare_with_reference("cross_entropy", logits, labels, opts, grad=kw, ctx=f"{layout} {opts} {grad_mode}")
    assert isinstance(res, xent.CrossEntropyResult)
    if grad_mode == "none":
        assert res.grad is None
    elif grad_mode == "inplace":
        assert res.grad is logits
    elif "grad_out" in kw:
        assert res.grad is kw["grad_out"]
    else:
        assert res.grad.shape == logits.shape and res.grad.flags.c_contiguous


@sweep(dtype=DTYPES, layout=LAYOUTS, reduction=REDUCTIONS, smoothing=[0.0, 0.2], grad_mode=GRAD_MODES)
def test_soft_cross_entropy(dtype, layout, reduction, smoothing, grad_mode, rng):
    rows, cols = 11, 29
    logits = make_logits(layout, rows, cols, dtype, rng)
    # targets that do NOT sum to 1 (exact gradient required), some exact zeros, row-strided for 2-D layouts
    tbase = rng.uniform(0, 1, size=(rows, cols + 4)) * rng.uniform(0.3, 2.0, size=(rows, 1))
    tbase[:, ::5] = 0
    targets = tbase.astype(dtype)[:, :cols]
    if layout == "1d":
        targets = np.ascontiguousarray(targets[0])
    elif layout == "contiguous":
        targets = np.ascontiguousarray(targets)
    opts = dict(reduction=reduction, label_smoothing=smoothing, grad_scale=-1.5)
    compare_with_reference(
        "soft_cross_entropy", logits, targets, opts, grad=grad_mode, ctx=f"{layout} {opts} {grad_mode}"
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "cols", [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 63, 65, 100, 257, 1000, 4099]
)
@pytest.mark.parametrize("pad", [0, 1, 3])
def test_length_sweep_all_functions(dtype, cols, pad, rng):
    """Tails: every column count around the vector widths, misaligned row starts via pad."""
    rows = 5
    x = strided(rows, cols, dtype, pad, rng, scale=4.0)
    rtol = ref.RTOL[np.dtype(dtype)]
    labels = rng.integers(0, cols, size=rows)
    compare_with_reference("cross_entropy", x, labels, dict(reduction="none"), ctx=f"cols={cols} pad={pad}")
    ref.assert_close(xent.logsumexp(x), ref.lse(x), rtol, ref.lse_scale(x), "logsumexp")
    ref.assert_close(xent.softmax(x), ref.softmax(x), rtol, 1.0, "softmax")
    ls_scale = np.maximum(1, np.abs(ref.log_softmax(x)))
    ref.assert_close(xent.log_softmax(x), ref.log_softmax(x), rtol, ls_scale, "log_softmax")


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_vocabulary(dtype, rng):
    rows, cols = 6, 50000
    x = (rng.standard_normal((rows, cols)) * 2).astype(dtype)
    labels = rng.integers(0, cols, size=rows)
    for reduction in REDUCTIONS:
        compare_with_reference(
            "cross_entropy", x, labels, dict(reduction=reduction, label_smoothing=0.05), ctx=reduction
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_logsumexp(dtype, layout, rng):
    x = make_logits(layout, 9, 33, dtype, rng)
    rtol = ref.RTOL[np.dtype(dtype)]
    got = xent.logsumexp(x)
    if layout == "1d":
        assert np.ndim(got) == 0 and isinstance(got, np.generic) and got.dtype == dtype
    else:
        assert got.shape == (9,) and got.dtype == dtype
    ref.assert_close(np.asarray(got).reshape(-1), ref.lse(x), rtol, ref.lse_scale(x))
    out = np.full(1 if layout == "1d" else 9, 5.0, dtype)
    assert xent.logsumexp(x, out=out) is out
    ref.assert_close(out, ref.lse(x), rtol, ref.lse_scale(x))
    if layout == "1d":
        out0 = np.zeros((), dtype)
        assert xent.logsumexp(x, out=out0) is out0
        ref.assert_close(out0.reshape(1), ref.lse(x), rtol, ref.lse_scale(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("out_mode", ["new", "out", "out_strided", "inplace"])
def test_softmax_log_softmax(dtype, layout, fn, out_mode, rng):
    x = make_logits(layout, 9, 33, dtype, rng)
    x[..., 4] = -np.inf  # a masked entry
    rtol = ref.RTOL[np.dtype(dtype)]
    expected = getattr(ref, fn)(x).reshape(x.shape)
    scale = 1.0 if fn == "softmax" else np.maximum(1, np.abs(np.where(np.isfinite(expected), expected, 0)))
    if out_mode == "new":
        out = None
    elif out_mode == "inplace":
        out = x
    else:
        out = make_grad_out(x.shape, dtype, 0 if out_mode == "out" else 2)
    got = getattr(xent, fn)(x, out=out) if out is not None else getattr(xent, fn)(x)
    if out is not None:
        assert got is out
    assert got.shape == x.shape and got.dtype == dtype
    ref.assert_close(got, expected, rtol, scale, fn)
    if fn == "softmax":
        assert (got[..., 4] == 0).all()
    else:
        assert np.isneginf(got[..., 4]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ignore_index(dtype, reduction, rng):
    rows, cols = 10, 12
    x = make_logits("contiguous", rows, cols, dtype, rng)
    for ignore_index in (-100, -1, 0, 5, 1 << 40):
        labels = rng.integers(0, cols, size=rows)
        labels[[1, 4, 7]] = ignore_index
        if 0 <= ignore_index < cols:
            labels[labels == ignore_index] = ignore_index  # class ignore_index itself is ignored
        opts = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=0.1)
        res, _ = compare_with_reference("cross_entropy", x, labels, opts, ctx=f"ignore_index={ignore_index}")
        ignored = labels == ignore_index
        assert (res.grad[ignored] == 0).all()
        if reduction == "none":
            assert (res.loss[ignored] == 0).all()
        assert np.isfinite(res.lse[ignored]).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_mean_of_nothing_is_zero(dtype, rng):
    x = make_logits("contiguous", 4, 6, dtype, rng)
    labels = np.full(4, -100)
    res = xent.cross_entropy(x, labels, grad=True, bias_grad=True, return_lse=True)
    assert res.loss == 0 and (res.grad == 0).all() and (res.bias_grad == 0).all()
    ref.assert_close(res.lse, ref.lse(x), ref.RTOL[np.dtype(dtype)], ref.lse_scale(x))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_zero_rows(dtype, reduction):
    x = np.zeros((0, 7), dtype)
    res = xent.cross_entropy(x, np.zeros(0, np.int64), reduction=reduction, grad=True, return_lse=True, bias_grad=True)
    if reduction == "none":
        assert res.loss.shape == (0,)
    else:
        assert res.loss == 0
    assert res.grad.shape == (0, 7) and res.lse.shape == (0,)
    assert (res.bias_grad == 0).all() and res.bias_grad.shape == (7,)
    res = xent.soft_cross_entropy(x, x, reduction=reduction, bias_grad=True)
    assert (res.bias_grad == 0).all()
    assert xent.logsumexp(x).shape == (0,)
    assert xent.softmax(x).shape == (0, 7)
    assert xent.log_softmax(x).shape == (0, 7)
    assert xent.cross_entropy(x, [], reduction=reduction).shape == ((0,) if reduction == "none" else ())


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_grad_is_column_sum_of_grad(dtype, rng):
    x = make_logits("strided", 40, 50, dtype, rng)
    labels = _labels(rng, 40, 50, n_ignored=5)
    for reduction in REDUCTIONS:
        res = xent.cross_entropy(
            x, labels, reduction=reduction, label_smoothing=0.3, grad_scale=0.7, grad=True, bias_grad=True
        )
        colsum = res.grad.astype(ref.LD).sum(axis=0)
        r = ref.cross_entropy(x, labels, reduction, -100, 0.3, 0.7)
        ref.assert_close(res.bias_grad, colsum, ref.RTOL[np.dtype(dtype)], r["bias_scale"], "bias vs colsum")
        # without materializing grad: same numbers
        only = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=0.3, grad_scale=0.7, bias_grad=True)
        assert only.grad is None
        ref.assert_close(only.bias_grad, r["bias"], ref.RTOL[np.dtype(dtype)], r["bias_scale"], "bias only")
        soft = np.abs(rng.standard_normal((40, 50))).astype(dtype)
        res = xent.soft_cross_entropy(x, soft, reduction=reduction, grad=True, bias_grad=True)
        ref.assert_close(
            res.bias_grad,
            res.grad.astype(ref.LD).sum(axis=0),
            ref.RTOL[np.dtype(dtype)],
            ref.soft_cross_entropy(x, soft, reduction)["bias_scale"],
            "soft bias vs colsum",
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_equals_hard_for_one_hot(dtype, rng):
    x = make_logits("contiguous", 16, 21, dtype, rng)
    labels = rng.integers(0, 21, size=16)
    onehot = np.eye(21, dtype=dtype)[labels]
    for reduction in REDUCTIONS:
        h = xent.cross_entropy(x, labels, reduction=reduction, label_smoothing=0.1, grad=True)
        s = xent.soft_cross_entropy(x, onehot, reduction=reduction, label_smoothing=0.1, grad=True)
        rtol = ref.RTOL[np.dtype(dtype)]
        ref.assert_close(s.loss, h.loss, 4 * rtol, 10.0, "loss")
        ref.assert_close(s.grad, h.grad, 4 * rtol, 1.0, "grad")


@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_gradient_is_exact_for_unnormalized_targets(dtype, rng):
    """Finite differences of the loss agree with grad for targets summing to 3 (and to 0.2)."""
    x64 = rng.standard_normal((3, 8))
    for total in (3.0, 0.2):
        y = rng.uniform(0, 1, size=(3, 8))
        y *= total / y.sum(axis=1, keepdims=True)
        x, t = x64.astype(dtype), y.astype(dtype)
        res = xent.soft_cross_entropy(x, t, reduction="sum", grad=True)
        g_ref = ref.soft_cross_entropy(x, t, "sum")["grad"]
        ref.assert_close(res.grad, g_ref, ref.RTOL[np.dtype(dtype)], np.abs(t).sum(1, keepdims=True) + 1)
        if dtype == np.float64:
            h = 1e-6
            fd = np.zeros_like(x)
            for i in range(3):
                for j in range(8):
                    xp, xm = x.copy(), x.copy()
                    xp[i, j] += h
                    xm[i, j] -= h
                    fd[i, j] = (
                        xent.soft_cross_entropy(xp, t, reduction="sum")
                        - xent.soft_cross_entropy(xm, t, reduction="sum")
                    ) / (2 * h)
            np.testing.assert_allclose(res.grad, fd, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
def test_num_threads(dtype, rng):
    x = make_logits("contiguous", 300, 2000, dtype, rng)
    labels = rng.integers(0, 2000, size=300)
    base = xent.cross_entropy(x, labels, grad=True, num_threads=1)
    for n in (0, 2, 3, 16):
        res = xent.cross_entropy(x, labels, grad=True, num_threads=n)
        rtol = ref.RTOL[np.dtype(dtype)]
        ref.assert_close(res.loss, base.loss, rtol, 10.0, f"loss threads={n}")
        ref.assert_close(res.grad, base.grad, rtol, 1.0 / 300, f"grad threads={n}")


# ------------------------------------------------------------------------------------------------------------
# return conventions and buffers


@pytest.mark.parametrize("dtype", DTYPES)
def test_out_buffers(dtype, rng):
    x = make_logits("contiguous", 6, 10, dtype, rng)
    labels = rng.integers(0, 10, size=6)
    expected_none = xent.cross_entropy(x, labels, reduction="none")
    out = np.full(6, 9.0, dtype)
    assert xent.cross_entropy(x, labels, reduction="none", out=out) is out
    np.testing.assert_array_equal(out, expected_none)
    for shape in [(1,), ()]:
        out = np.full(shape, 9.0, dtype)
        assert xent.cross_entropy(x, labels, reduction="sum", out=out) is out
        assert out.reshape(()) == xent.cross_entropy(x, labels, reduction="sum")
    res = xent.cross_entropy(x, labels, out=np.zeros(1, dtype), grad=True)
    assert isinstance(res.loss, np.ndarray)
    # grad_out reused across calls gives the same result as a fresh one
    g = np.empty_like(x)
    for _ in range(3):
        r = xent.cross_entropy(x, labels, grad_out=g, grad=False)  # grad_out implies grad=True
        assert r.grad is g
    np.testing.assert_array_equal(g, xent.cross_entropy(x, labels, grad=True).grad)
    # grad_out and soft targets
    t = np.abs(rng.standard_normal((6, 10))).astype(dtype)
    g2 = make_grad_out(x.shape, dtype, 3)
    r = xent.soft_cross_entropy(x, t, grad_out=g2)
    np.testing.assert_array_equal(r.grad, xent.soft_cross_entropy(x, t, grad=True).grad)
    # grad_out may be given for grad='inplace' only as logits itself
    y = x.copy()
    r = xent.cross_entropy(y, labels, grad="inplace", grad_out=y)
    assert r.grad is y
    np.testing.assert_array_equal(y, g)


@pytest.mark.parametrize("dtype", DTYPES)
def test_inplace_grad_matches_out_of_place(dtype, rng):
    for layout in LAYOUTS:
        x = make_logits(layout, 7, 19, dtype, rng)
        labels = rng.integers(0, 19, size=7) if layout != "1d" else 3
        expected = xent.cross_entropy(x, labels, reduction="sum", grad=True, return_lse=True)
        base = x.base
        res = xent.cross_entropy(x, labels, reduction="sum", grad="inplace", return_lse=True)
        assert res.grad is x
        np.testing.assert_array_equal(x, expected.grad)
        assert res.loss == expected.loss
        np.testing.assert_array_equal(res.lse, expected.lse)
        if layout == "strided":
            assert np.isnan(base[:, 19:]).all()  # the padding between rows is untouched


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_outputs_leave_padding_alone(dtype, rng):
    x = make_logits("strided", 5, 9, dtype, rng)
    g = make_grad_out(x.shape, dtype, 4)
    xent.cross_entropy(x, np.arange(5), grad_out=g)
    assert (g.base[:, 9:] == 7).all()
    o = make_grad_out(x.shape, dtype, 4)
    xent.softmax(x, out=o)
    assert (o.base[:, 9:] == 7).all()
    xent.log_softmax(x, out=o)
    assert (o.base[:, 9:] == 7).all()


@pytest.mark.parametrize("label_dtype", [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32, np.uint64])
def test_label_dtype_conversion(label_dtype, rng):
    x = make_logits("contiguous", 5, 10, np.float32, rng)
    labels64 = np.array([0, 9, 3, 4, 5])
    expected = xent.cross_entropy(x, labels64, reduction="none")
    np.testing.assert_array_equal(xent.cross_entropy(x, labels64.astype(label_dtype), reduction="none"), expected)
    np.testing.assert_array_equal(xent.cross_entropy(x, labels64.tolist(), reduction="none"), expected)
    strided_labels = np.repeat(labels64, 2)[::2]
    np.testing.assert_array_equal(xent.cross_entropy(x, strided_labels, reduction="none"), expected)
    # ignore_index still matches after conversion of signed dtypes
    if np.dtype(label_dtype).kind == "i":
        lab = labels64.astype(label_dtype)
        lab[1] = -100
        assert xent.cross_entropy(x, lab, reduction="none")[1] == 0


def test_info():
    # the version itself is held to include/xent.h by test_header_facts.py
    assert xent.__version__ == xent.library_version()
    assert xent.isa() in ("avx512", "avx2", "sse2", "neon")
    assert xent.library_path
