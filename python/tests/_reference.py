"""Plain extended-precision NumPy reference for the Xent semantics, and a comparison helper: the one reference of
the Python tests.

The reference works in np.longdouble (80-bit on x86-64), from the exact input values, row by row, following
include/xent.h literally. Nothing here calls xent. Options that cross the C ABI as float (label_smoothing,
grad_scale, z_loss) are rounded to float32 first, as the library receives them.

* Targets: t = (1 - eps)*onehot(label) + eps/cols (hard labels), t = (1 - eps)*y + eps/cols (soft targets); with
  class weights w (PyTorch): t = (1 - eps)*w[label]*onehot(label) + eps*w/cols.
* loss_i = sum_j t_j*(lse_i - x_j) (terms with t_j == 0 count 0); "mean" divides by the number of counted rows, or by
  sum(w[label_i]) over them with class weights (0 when that is 0).
* z-loss lambda: z_i = lambda*lse_i^2 per counted row, reduced like the loss except that "mean" always divides by
  the number of counted rows; never added to the loss. The gradient gains s_z*2*lambda*lse_i*softmax_i with
  s_z = grad_scale/(counted rows) for "mean" and grad_scale otherwise.
* grad_i = s*(sum(t)*softmax(x_i) - t) (+ the z-loss term), s = grad_scale/denominator.
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


def _rowwise(x, f, bad, allneg):
    """f(row, m, log S) for every row without NaN/+inf that is not all -inf; those rows get ``bad``/``allneg``."""
    x2 = as2d(x).astype(LD)
    out = np.empty_like(x2)
    for i, row in enumerate(x2):
        k = _row_kind(row)
        out[i] = f(row, *_stats(row)) if k == "ok" else (bad if k == "bad" else allneg)
    return out


def softmax(x):
    return _rowwise(x, lambda row, m, logs: np.exp((row - m) - logs), np.nan, 0)


def log_softmax(x):
    return _rowwise(x, lambda row, m, logs: (row - m) - logs, np.nan, -np.inf)


def _xent(x, t, counted, reduction, grad_scale, z_loss=0.0, weight_sum=None):
    """Core: x (rows, cols) LD, t (rows, cols) LD targets, counted (rows,) bool (False = ignored row);
    weight_sum: the "mean" denominator with class weights (None: the number of counted rows)."""
    rows, cols = x.shape
    row_lse = lse(x)
    p = softmax(x)
    n = int(counted.sum())
    lam = LD(np.float32(z_loss))
    mean = reduction == "mean"
    denom = (LD(n) if weight_sum is None else weight_sum) if mean else LD(1)
    s = LD(grad_scale) / denom if denom else LD(0)
    zdenom = n if mean else 1
    sz = LD(grad_scale) / zdenom if zdenom else LD(0)
    loss = np.zeros(rows, LD)
    z = np.zeros(rows, LD)
    grad = np.zeros((rows, cols), LD)
    scale = np.zeros(rows, LD)  # per-row loss error floor
    gscale = np.zeros(rows, LD)  # per-row gradient error floor
    for i in range(rows):
        if not counted[i]:
            continue
        row, ti = x[i], t[i]
        k = _row_kind(row)
        tsum = ti.sum()
        z[i] = lam * row_lse[i] ** 2 if lam else LD(0)
        gscale[i] = abs(s) * max(LD(1), np.abs(ti).sum())
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
            terms = np.where(ti == 0, LD(0), ti * ((m - row) + logs))  # lse - x_j without cancellation
            mags = np.where(ti == 0, LD(0), np.abs(ti) * (np.abs(row_lse[i]) + np.abs(row)))
        loss[i] = terms.sum()
        scale[i] = mags.sum()
        grad[i] = s * (tsum * p[i] - ti) + sz * 2 * lam * row_lse[i] * p[i]
        gscale[i] += abs(sz) * 2 * lam * max(LD(1), abs(row_lse[i]))
    if reduction == "none":
        red, red_scale, zred = loss, scale, z
    else:
        red, red_scale, zred = loss.sum(), scale.sum(), z.sum()
        if mean:
            red = red / denom if denom else LD(0)
            red_scale = red_scale / denom if denom else LD(0)
            zred = zred / n if n else LD(0)
    return dict(
        loss=red,
        loss_scale=red_scale,
        z_loss=zred,
        grad=grad,
        grad_scale=gscale[:, None],
        lse=row_lse,
        lse_scale=lse_scale(x),
        bias=grad.sum(axis=0),
        bias_scale=gscale.sum(),
    )


def cross_entropy(
    x, labels, reduction="mean", ignore_index=-100, label_smoothing=0.0, grad_scale=1.0, z_loss=0.0, class_weights=None
):
    x = as2d(x).astype(LD)
    labels = np.asarray(labels, np.int64).reshape(-1)
    rows, cols = x.shape
    eps = LD(np.float32(label_smoothing))  # the library receives a float
    w = np.ones(cols, LD) if class_weights is None else np.asarray(class_weights, np.float64).astype(LD)
    counted = labels != ignore_index
    t = np.zeros((rows, cols), LD)
    for i in range(rows):
        if counted[i]:
            assert 0 <= labels[i] < cols
            t[i] = eps * w / cols
            t[i, labels[i]] += (1 - eps) * w[labels[i]]
    weight_sum = None if class_weights is None else w[labels[counted]].sum()
    return _xent(x, t, counted, reduction, np.float32(grad_scale), z_loss, weight_sum)


def soft_cross_entropy(logits, targets, reduction="mean", label_smoothing=0.0, grad_scale=1.0, z_loss=0.0):
    x = as2d(logits).astype(LD)
    y = as2d(targets).astype(LD)
    eps = LD(np.float32(label_smoothing))
    t = (1 - eps) * y + eps / x.shape[1]
    return _xent(x, t, np.ones(x.shape[0], bool), reduction, np.float32(grad_scale), z_loss)


def bf16_round(x):
    """float32 -> bfloat16 bits (uint16), rounded to nearest-even, written plainly."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    lower, upper = u & 0xFFFF, u >> 16
    up = (lower > 0x8000) | ((lower == 0x8000) & ((upper & 1) == 1))
    return (upper + up).astype(np.uint16)


def bf16_widen(h):
    """bfloat16 bits (uint16) -> the float32 values they denote (exact)."""
    return (h.astype(np.uint32) << 16).view(np.float32)


def assert_close(actual, ref, rtol, scale=1.0, what="value", relative=True):
    """|actual - ref| <= rtol*|ref| + rtol*scale elementwise (without the rtol*|ref| term when not ``relative``);
    NaN where ref is NaN; infinities exact."""
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
        raise AssertionError(
            f"{what}: NaN mismatch at {idx}: actual {a[nan_r != nan_a][:5]} reference {r[nan_r != nan_a][:5]}"
        )
    inf_r = np.isinf(r)
    if (a[inf_r] != r[inf_r]).any():
        bad = inf_r & (a != r)
        idx = np.argwhere(bad)[:5].tolist()
        raise AssertionError(f"{what}: infinity mismatch at {idx}: actual {a[bad][:5]} reference {r[bad][:5]}")
    fin = ~nan_r & ~inf_r
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(fin, np.abs(a - r), 0)
    err = np.where(np.isnan(err), np.inf, err)
    tol = (rtol * np.abs(np.where(fin, r, 0)) if relative else 0) + rtol * np.where(fin, sc, 0) + tiny
    bad = err > tol
    if bad.any():
        k = np.unravel_index(np.argmax(np.where(bad, err / np.maximum(tol, 1e-300), 0)), r.shape) if r.ndim else ()
        raise AssertionError(
            f"{what}: {int(bad.sum())} element(s) out of tolerance; worst at {k}: "
            f"actual {a[k]!r} reference {r[k]!r} error {err[k]!r} tolerance {tol[k]!r}"
        )


def linear_cross_entropy(hidden, weight, bias, labels, soft_cap=0.0, **options):
    """The linear cross-entropy from the exact inputs: logits o = hidden @ weight.T (+ bias) in extended precision,
    capped to c*tanh(o/c) when ``soft_cap`` (c rounded to float32, as the library receives it), then
    :func:`cross_entropy` with ``options``; G its gradient with respect to o (the cap's chain rule included), and
    grad_hidden = G @ weight, grad_weight = G.T @ hidden, grad_bias = G.sum(0). Returns cross_entropy's dict with
    these three added and ``probs`` (the softmax of the capped logits)."""
    h = np.asarray(hidden).astype(LD)
    w = np.asarray(weight).astype(LD)
    o = h @ w.T
    if bias is not None:
        o = o + np.asarray(bias).astype(LD)
    th = None
    if soft_cap:
        c = LD(np.float32(soft_cap))
        th = np.tanh(o / c)
        o = c * th
    r = cross_entropy(o, labels, **options)
    g = r["grad"] if th is None else r["grad"] * (1 - th * th)
    r.update(grad=g, grad_hidden=g @ w, grad_weight=g.T @ h, grad_bias=g.sum(axis=0), probs=softmax(o))
    return r
