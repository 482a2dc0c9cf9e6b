"""Array builders shared by the tests."""
import numpy as np

import xent
import _reference as ref

DTYPES = [np.float32, np.float64]


def strided(rows, cols, dtype, pad, rng, scale=3.0):
    """A (rows, cols) row-strided view into a wider (rows, cols + pad) buffer (pad == 0: C-contiguous)."""
    base = (rng.standard_normal((rows, cols + pad)) * scale).astype(dtype)
    base[:, cols:] = np.nan  # padding must never be read: NaN would poison the row
    return base[:, :cols]


def make_logits(layout, rows, cols, dtype, rng, scale=3.0):
    if layout == "1d":
        return (rng.standard_normal(cols) * scale).astype(dtype)
    if layout == "contiguous":
        return strided(rows, cols, dtype, 0, rng, scale)
    if layout == "strided":
        return strided(rows, cols, dtype, 5, rng, scale)
    raise AssertionError(layout)


def make_grad_out(shape, dtype, pad):
    if len(shape) == 1:
        return np.full(shape, 7.0, dtype)
    rows, cols = shape
    return np.full((rows, cols + pad), 7.0, dtype)[:, :cols]


def check_cross_entropy_result(res, r, dtype, one_d, reduction, want_grad=True, want_lse=True, want_bias=True,
                               ctx=""):
    rtol = ref.RTOL[np.dtype(dtype)]
    loss = res.loss if isinstance(res, xent.CrossEntropyResult) else res
    rl, rs = np.asarray(r["loss"]), np.asarray(r["loss_scale"])
    if one_d or reduction != "none":
        assert np.ndim(loss) == 0, f"scalar loss expected, got {loss!r} {ctx}"
        rl, rs = rl.reshape(()), rs.reshape(())
    ref.assert_close(np.asarray(loss), rl, rtol, rs, "loss " + ctx)
    assert np.asarray(loss).dtype == np.dtype(dtype), ctx
    if not isinstance(res, xent.CrossEntropyResult):
        return
    if want_grad:
        g = res.grad
        assert g.dtype == np.dtype(dtype)
        ref.assert_close(g.reshape(r["grad"].shape), r["grad"], rtol, r["grad_scale"], "grad " + ctx)
    if want_lse:
        lse = np.asarray(res.lse)
        assert lse.dtype == np.dtype(dtype)
        if one_d:
            assert np.ndim(res.lse) == 0
        ref.assert_close(lse.reshape(-1), r["lse"], rtol, r["lse_scale"], "lse " + ctx)
    if want_bias:
        b = res.bias_grad
        assert b.dtype == np.dtype(dtype) and b.shape == (r["grad"].shape[1],)
        ref.assert_close(b, r["bias"], rtol, r["bias_scale"], "bias_grad " + ctx)
