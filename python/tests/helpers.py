"""Array builders, parameter sweeps and result checks shared by the tests."""

import contextlib
import itertools
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import _reference as ref
import xent
from xent import _lib

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "sum", "mean"]
LAYOUTS = ["contiguous", "strided", "1d"]
GRAD_MODES = ["none", "new", "inplace", "grad_out", "grad_out_strided"]

# Tolerance of the checks with z-loss, class weights or a soft cap: those terms add roundings of their own, so the
# float32 bound is twice the plain one of _reference.RTOL.
OPTIONS_RTOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}

needs_1_1 = pytest.mark.skipif(not _lib.OPTIONS_V1_1, reason="the loaded library is older than 1.1.0")


def sweep(**axes):
    """``@pytest.mark.parametrize`` over every combination of the given axes (name=values, one per argument)."""
    names = list(axes)
    if len(names) == 1:
        return pytest.mark.parametrize(names[0], axes[names[0]])
    return pytest.mark.parametrize(",".join(names), list(itertools.product(*axes.values())))


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


def logits_and_labels(rng, rows, cols, dtype, scale=3.0):
    """C-contiguous (rows, cols) logits and int64 labels in [0, cols)."""
    x = (rng.standard_normal((rows, cols)) * scale).astype(dtype)
    return x, rng.integers(0, cols, size=rows)


def class_weights(rng, cols, zero=(1,)):
    """Weights in [0.2, 3) with exact zeros at the indices ``zero``."""
    w = rng.uniform(0.2, 3.0, size=cols)
    w[list(zero)] = 0.0
    return w


def make_grad_out(shape, dtype, pad):
    if len(shape) == 1:
        return np.full(shape, 7.0, dtype)
    rows, cols = shape
    return np.full((rows, cols + pad), 7.0, dtype)[:, :cols]


def grad_kwargs(mode, logits):
    """The gradient keywords of one of GRAD_MODES (grad_out buffers are filled with 7)."""
    if mode == "none":
        return {}
    if mode == "new":
        return {"grad": True}
    if mode == "inplace":
        return {"grad": "inplace"}
    pad = 0 if mode == "grad_out" else 3
    return {"grad_out": make_grad_out(logits.shape, logits.dtype, pad)}


@contextlib.contextmanager
def raises_xent(status, *words):
    """Expect an XentError with this status whose library message contains every one of ``words``."""
    with pytest.raises(xent.XentError) as info:
        yield info
    e = info.value
    assert e.status == status, (e.status, str(e))
    for w in words:
        assert w in e.detail, (w, e.detail)


def check_cross_entropy_result(
    res,
    r,
    dtype,
    one_d,
    reduction,
    want_grad=True,
    want_lse=True,
    want_bias=True,
    want_z=False,
    rtol=None,
    ctx="",
):
    """Compare a cross-entropy result (the loss alone or a CrossEntropyResult) with the reference ``r``.

    ``want_z``: the result must have the fifth element z_loss (float64, compared with 4*rtol relative to itself);
    otherwise it must have four elements.
    """
    rtol = ref.RTOL[np.dtype(dtype)] if rtol is None else rtol
    loss = res.loss if isinstance(res, xent.CrossEntropyResult) else res
    rl, rs = np.asarray(r["loss"]), np.asarray(r["loss_scale"])
    scalar = one_d or reduction != "none"
    if scalar:
        assert np.ndim(loss) == 0, f"scalar loss expected, got {loss!r} {ctx}"
        rl, rs = rl.reshape(()), rs.reshape(())
    ref.assert_close(np.asarray(loss), rl, rtol, rs, "loss " + ctx)
    assert np.asarray(loss).dtype == np.dtype(dtype), ctx
    if not isinstance(res, xent.CrossEntropyResult):
        assert not want_z, ctx
        return
    if want_z:
        assert len(res) == 5 and res[4] is res.z_loss, ctx
        z, rz = np.asarray(res.z_loss), np.asarray(r["z_loss"])
        assert z.dtype == np.float64, ctx
        assert z.shape == (() if scalar else rz.shape), ctx
        ref.assert_close(z, rz.reshape(z.shape), 4 * rtol, 0.0, "z_loss " + ctx)
    else:
        assert len(res) == 4 and res.z_loss is None, ctx
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


def compare_with_reference(
    fn, x, second, options, *, grad="new", lse=True, bias=True, z=False, rtol=None, ctx="", **xent_only
):
    """Call ``xent.<fn>(x, second, **options)`` and check the result against ``_reference.<fn>(x, second,
    **options)`` (computed first: the call may overwrite ``x``). ``fn``: "cross_entropy" or "soft_cross_entropy";
    ``grad``: one of GRAD_MODES or a dict of gradient keywords; ``lse``/``bias``/``z``: request the log-sum-exp / the
    bias gradient / the z-loss; ``xent_only``: more keywords for the call alone (e.g. num_threads).
    Returns (result, reference)."""
    r = getattr(ref, fn)(x, second, **options)
    kw = grad_kwargs(grad, x) if isinstance(grad, str) else dict(grad)
    res = getattr(xent, fn)(x, second, return_lse=lse, bias_grad=bias, return_z_loss=z, **kw, **options, **xent_only)
    wants = dict(want_grad=bool(kw), want_lse=lse, want_bias=bias, want_z=z)
    check_cross_entropy_result(
        res, r, x.dtype, x.ndim == 1, options.get("reduction", "mean"), rtol=rtol, ctx=ctx, **wants
    )
    return res, r


def fake_library(tmp_path, version):
    """Build a stand-in libxent.so that reports ``version`` ("M.m.p") and has every function the package needs at
    import (stubs returning 0) but none of the optional ones; skips the test without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build a fake library")
    major, minor, patch = (int(v) for v in version.split("."))
    own = {"xent_version_number", "xent_version_string", "xent_status_string", "xent_last_error_message"}
    stubs = "".join(f"int {name}(void) {{ return 0; }}\n" for name in _lib._SIGNATURES if name not in own)
    src = tmp_path / "fake.c"
    src.write_text(
        f"unsigned xent_version_number(void) {{ return {major * 10000 + minor * 100 + patch}; }}\n"
        f'const char *xent_version_string(void) {{ return "{version}"; }}\n'
        'const char *xent_status_string(int s) { return "a status of the fake library"; }\n'
        'const char *xent_last_error_message(void) { return ""; }\n' + stubs
    )
    so = tmp_path / "libfake.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
    return so


def run_python(code, library):
    """Run ``code`` in a new interpreter whose ``import xent`` loads ``library`` (XENT_LIBRARY)."""
    env = {"XENT_LIBRARY": str(library), "PATH": "/usr/bin:/bin"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True)
