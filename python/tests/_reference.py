"""Plain extended-precision NumPy reference for the Xent semantics, and a comparison helper.

The reference works in np.longdouble (80-bit on x86-64), from the exact input values, row by row, following
include/xent.h literally. Nothing here calls xent.
"""
import numpy as np

LD = np.longdouble
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}


def as2d(x):
    x = np.asarray(x)
    return x.reshape(1, -1) if x.ndim == 1 else x


def _row_kind(row):
    """'bad' (NaN or +inf present), 'allneg' (all -inf), or 'ok'."""
    if np.isnan(row).any() or np.isposinf(row).any():
        return "bad"
    if row.size and np.isneginf(row).all():
        return "allneg"
    return "ok"


def _stats(row):
    """(m, log S) with S = sum exp(row - m): lse = m + log S without losing log S next to a huge m."""
    m = row.max()
    return m, np.log(np.sum(np.exp(row - m)))


def lse(x):
    x = as2d(x).astype(LD)
    out = np.empty(x.shape[0], LD)
    for i, row in enumerate(x):
        k = _row_kind(row)
        if k == "bad":
            out[i] = np.nan
        elif k == "allneg":
            out[i] = -np.inf
        else:
            m, logs = _stats(row)
            out[i] = m + logs
    return out


def lse_scale(x):
    """Per-row magnitude used for the absolute error floor of lse/loss: max(1, max |finite x|)."""
    x = as2d(x).astype(LD)
    fin = np.where(np.isfinite(x), np.abs(x), 0)
    return np.maximum(1, fin.max(axis=1)) if x.shape[1] else np.ones(x.shape[0], LD)


def softmax(x):
    x2 = as2d(x).astype(LD)
    out = np.empty_like(x2)
    for i, row in enumerate(x2):
        k = _row_kind(row)
        if k == "ok":
            m, logs = _stats(row)
            out[i] = np.exp((row - m) - logs)
        else:
            out[i] = np.nan if k == "bad" else 0
    return out


def log_softmax(x):
    x2 = as2d(x).astype(LD)
    out = np.empty_like(x2)
    for i, row in enumerate(x2):
        k = _row_kind(row)
        if k == "ok":
            m, logs = _stats(row)
            out[i] = (row - m) - logs
        else:
            out[i] = np.nan if k == "bad" else -np.inf
    return out


def _xent(x, t, counted, reduction, grad_scale):
    """Core: x (rows, cols) LD, t (rows, cols) LD targets, counted (rows,) bool (False = ignored row)."""
    rows, cols = x.shape
    l = lse(x)
    p = softmax(x)
    n = int(counted.sum())
    denom = n if reduction == "mean" else 1
    s = LD(grad_scale) / denom if denom else LD(0)
    loss = np.zeros(rows, LD)
    grad = np.zeros((rows, cols), LD)
    scale = np.zeros(rows, LD)  # per-row loss error floor
    gscale = np.zeros(rows, LD)  # per-row gradient error floor (before multiplying by |s|)
    for i in range(rows):
        if not counted[i]:
            continue
        row, ti = x[i], t[i]
        k = _row_kind(row)
        tsum = ti.sum()
        gscale[i] = max(LD(1), np.abs(ti).sum())
        if k == "bad":
            loss[i] = np.nan
            grad[i] = np.nan
            continue
        if k == "allneg":
            loss[i] = np.inf
            grad[i] = -s * ti
            continue
        m, logs = _stats(row)
        with np.errstate(invalid="ignore"):
            terms = np.where(ti == 0, LD(0), ti * ((m - row) + logs))   # lse - x_j without cancellation
            mags = np.where(ti == 0, LD(0), np.abs(ti) * (np.abs(l[i]) + np.abs(row)))
        loss[i] = terms.sum()
        scale[i] = mags.sum()
        grad[i] = s * (tsum * p[i] - ti)
    if reduction == "none":
        red, red_scale = loss, scale
    else:
        red = loss.sum()
        red_scale = scale.sum()
        if reduction == "mean":
            red = red / n if n else LD(0)
            red_scale = red_scale / n if n else LD(0)
    bias = grad.sum(axis=0)
    bias_scale = abs(s) * gscale.sum()
    return dict(loss=red, loss_scale=red_scale, grad=grad, grad_scale=abs(s) * gscale[:, None],
                lse=l, lse_scale=lse_scale(x), bias=bias, bias_scale=bias_scale)


def cross_entropy(logits, labels, reduction="mean", ignore_index=-100, label_smoothing=0.0, grad_scale=1.0):
    x = as2d(logits).astype(LD)
    labels = np.asarray(labels, np.int64).reshape(-1)
    rows, cols = x.shape
    eps = LD(np.float32(label_smoothing))  # the library receives a float
    counted = labels != ignore_index
    t = np.full((rows, cols), eps / cols, LD)
    for i in range(rows):
        if counted[i]:
            assert 0 <= labels[i] < cols
            t[i, labels[i]] += 1 - eps
    return _xent(x, t, counted, reduction, np.float32(grad_scale))


def soft_cross_entropy(logits, targets, reduction="mean", label_smoothing=0.0, grad_scale=1.0):
    x = as2d(logits).astype(LD)
    y = as2d(targets).astype(LD)
    eps = LD(np.float32(label_smoothing))
    t = (1 - eps) * y + eps / x.shape[1]
    return _xent(x, t, np.ones(x.shape[0], bool), reduction, np.float32(grad_scale))


def assert_close(actual, ref, rtol, scale=1.0, what="value"):
    """|actual - ref| <= rtol*|ref| + rtol*scale elementwise; NaN where ref is NaN; infinities exact."""
    a0 = np.asarray(actual)
    # results that are subnormal in the output type cannot be closer than a couple of subnormal steps
    tiny = 2 * np.finfo(a0.dtype).smallest_subnormal if a0.dtype.kind == "f" else 0
    a = a0.astype(LD)
    r = np.asarray(ref).astype(LD)
    assert a.shape == r.shape, f"{what}: shape {a.shape} != reference {r.shape}"
    sc = np.broadcast_to(np.asarray(scale, LD), r.shape)
    nan_r, nan_a = np.isnan(r), np.isnan(a)
    if (nan_r != nan_a).any():
        idx = np.argwhere(nan_r != nan_a)[:5].tolist()
        raise AssertionError(f"{what}: NaN mismatch at {idx}: actual {a[nan_r != nan_a][:5]} "
                             f"reference {r[nan_r != nan_a][:5]}")
    inf_r = np.isinf(r)
    if (a[inf_r] != r[inf_r]).any():
        bad = inf_r & (a != r)
        idx = np.argwhere(bad)[:5].tolist()
        raise AssertionError(f"{what}: infinity mismatch at {idx}: actual {a[bad][:5]} reference {r[bad][:5]}")
    fin = ~nan_r & ~inf_r
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(fin, np.abs(a - r), 0)
    err = np.where(np.isnan(err), np.inf, err)
    tol = rtol * np.abs(np.where(fin, r, 0)) + rtol * np.where(fin, sc, 0) + tiny
    bad = err > tol
    if bad.any():
        k = np.unravel_index(np.argmax(np.where(bad, err / np.maximum(tol, 1e-300), 0)), r.shape) if r.ndim else ()
        raise AssertionError(f"{what}: {int(bad.sum())} element(s) out of tolerance; worst at {k}: "
                             f"actual {a[k]!r} reference {r[k]!r} error {err[k]!r} tolerance {tol[k]!r}")
