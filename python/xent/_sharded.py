"""Sharded vocabulary: per-shard statistics, their merge, and the loss and gradient from merged statistics
(internal module; the functions are re-exported by ``xent``). Needs libxent >= 1.1.0."""

import ctypes

import numpy as np

from . import _lib
from ._args import _SUFFIX, _labels, _matrix, _ptr, _size
from ._errors import _all_available, _check, _require_function
from ._keywords import keywords
from ._options import _stats_options, _z_loss_out

#: NumPy mirror of ``xent_stats``: one record per row, six float64 fields (48 bytes, no padding).
STATS_DTYPE = np.dtype([(name, np.float64) for name, _ in _lib.Stats._fields_])
assert STATS_DTYPE.itemsize == ctypes.sizeof(_lib.Stats)

_SHARDED_FUNCTIONS = tuple(
    f"xent_{name}"
    for name in (
        "merge_stats",
        "partial_stats_f32",
        "partial_stats_f64",
        "finalize_stats_f32",
        "finalize_stats_f64",
        "grad_from_stats_f32",
        "grad_from_stats_f64",
    )
)


def sharded_stats_available():
    """True when the loaded library has the sharded-vocabulary functions (libxent >= 1.1.0)."""
    return _all_available(_SHARDED_FUNCTIONS)


def _optional(name):
    return _require_function(name, "the sharded-vocabulary functions need libxent >= 1.1.0")


def _stats_array(a, name, rows=None, writable=False):
    """Check a statistics array (STATS_DTYPE, 1-D or 0-d, contiguous); return its number of records."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of xent.STATS_DTYPE, got {type(a).__name__}")
    if a.dtype != STATS_DTYPE:
        raise TypeError(f"{name} must have dtype xent.STATS_DTYPE {STATS_DTYPE}, got {a.dtype}")
    if a.ndim > 1:
        raise ValueError(f"{name} must be 1-D (one record per row), got shape {a.shape}")
    if not (a.flags.c_contiguous and a.flags.aligned):
        raise ValueError(f"{name} must be contiguous and aligned (one record after the other)")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writable")
    if rows is not None and a.size != rows:
        raise ValueError(f"{name} has {a.size} records, expected {rows} (one per row)")
    return a.size


def partial_stats(logits, labels, *, col_offset, total_cols, ignore_index=-100, soft_cap=0.0, out=None):
    """The statistics of one vocabulary shard: columns ``[col_offset, col_offset + cols)`` of ``total_cols``.

    ``logits``: the shard, float32/float64, 1-D (one row) or 2-D ``(rows, cols)``, C-contiguous or row-strided
    (not copied). ``labels``: global class indices in ``[0, total_cols)`` or ``ignore_index``, as for
    :func:`cross_entropy`. ``soft_cap``: as for :func:`cross_entropy` (the statistics of the capped logits; pass the
    same value to :func:`grad_from_stats`). ``out``: an optional writable contiguous ``(rows,)`` array of
    :data:`STATS_DTYPE`.

    Returns ``(rows,)`` records of :data:`STATS_DTYPE` (``(1,)`` for 1-D logits): ``max``, ``sum_exp``
    (relative to ``max``), ``sum_x`` (relative to ``max``), ``count`` (= cols), ``label_logit`` and
    ``label_seen`` (1 when the label lies in this shard). Raises :class:`XentError` when
    ``col_offset + cols > total_cols`` or a label is outside ``[0, total_cols)``.
    """
    rows, cols, row_stride = _matrix(logits, "logits")
    labels = _labels(labels, rows, logits.ndim == 1)
    col_offset = _size(col_offset, "col_offset")
    total_cols = _size(total_cols, "total_cols")
    opts = _stats_options(ignore_index=ignore_index, soft_cap=soft_cap)
    if out is None:
        res = np.empty(rows, STATS_DTYPE)
    else:
        _stats_array(out, "out", rows, writable=True)
        res = out
    name = f"xent_partial_stats_{_SUFFIX[logits.dtype]}"
    _check(
        name,
        _optional(name)(
            _ptr(logits), rows, cols, row_stride, col_offset, total_cols, _ptr(labels), ctypes.byref(opts), _ptr(res)
        ),
    )
    return res


def merge_stats(a, b, out=None):
    """The statistics of the columns of ``a`` and ``b`` together (record by record).

    ``a``, ``b``: arrays of :data:`STATS_DTYPE` of the same shape. ``out``: ``None`` (a new array), ``a`` or
    ``b`` (in place), or another writable contiguous array of that shape that overlaps neither. Commutative
    bit for bit; associative up to rounding (a fixed grouping gives identical results). Returns the result.
    """
    rows = _stats_array(a, "a")
    _stats_array(b, "b", rows)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if out is None:
        out = np.empty(a.shape, STATS_DTYPE)
    else:
        _stats_array(out, "out", rows, writable=True)
        if out.shape != a.shape:
            raise ValueError(f"out has shape {out.shape}, expected {a.shape}")
    _check("xent_merge_stats", _optional("xent_merge_stats")(_ptr(a), _ptr(b), _ptr(out), rows))
    return out


def finalize_stats(
    stats,
    labels,
    *,
    total_cols,
    dtype=np.float32,
    reduction="mean",
    ignore_index=-100,
    label_smoothing=0.0,
    return_lse=False,
    z_loss=0.0,
    return_z_loss=False,
):
    """The cross-entropy loss from statistics merged over all ``total_cols`` columns.

    ``stats``: ``(rows,)`` of :data:`STATS_DTYPE` (every row's ``count`` must equal ``total_cols`` and every row
    not ignored must have ``label_seen == 1``, else :class:`XentError` naming the row). ``labels``: as given to
    :func:`partial_stats`. ``dtype``: float32 or float64, the precision of the result (the ``_f32``/``_f64``
    entry point; use the logits' dtype). ``reduction``, ``ignore_index``, ``label_smoothing``: as for
    :func:`cross_entropy` (smoothing uses the global class count ``total_cols``). ``z_loss`` (lambda >= 0) with
    ``return_z_loss``: also the z-loss ``lambda * lse**2``, float64, reduced as the loss over the rows not ignored
    (libxent >= 1.3.0).

    Returns the loss (a NumPy scalar of ``dtype`` for ``"mean"``/``"sum"``, an array ``(rows,)`` for
    ``"none"``), or a tuple ``(loss, lse)`` / ``(loss, z_loss)`` / ``(loss, lse, z_loss)`` when ``return_lse`` /
    ``return_z_loss`` ask for more, ``lse`` of shape ``(rows,)``.
    """
    rows = _stats_array(stats, "stats")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in _SUFFIX:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    if not isinstance(return_z_loss, (bool, np.bool_)):
        raise TypeError(f"return_z_loss must be True or False, got {return_z_loss!r}")
    one_row = rows == 1 and np.ndim(labels) == 0
    labels = _labels(labels, rows, one_row)
    total_cols = _size(total_cols, "total_cols")
    opts = _stats_options(
        reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing, z_loss=z_loss
    )
    scalar_loss = opts.reduction != _lib.REDUCTION_NONE
    loss = np.empty(1 if scalar_loss else rows, dt)
    lse = np.empty(rows, dt) if return_lse else None
    zl = _z_loss_out(opts, 1 if scalar_loss else rows, bool(return_z_loss))
    name = f"xent_finalize_stats_{_SUFFIX[dt]}"
    _check(
        name,
        _optional(name)(
            _ptr(stats),
            rows,
            total_cols,
            _ptr(labels),
            ctypes.byref(opts),
            _ptr(loss),
            _ptr(lse) if lse is not None else None,
        ),
    )
    loss_ret = loss[0] if scalar_loss else loss
    extra = ([lse] if return_lse else []) + ([zl[0] if scalar_loss else zl] if return_z_loss else [])
    return (loss_ret, *extra) if extra else loss_ret


@keywords("reduction ignore_index label_smoothing grad_scale z_loss soft_cap num_threads grad_out")
def grad_from_stats(logits, labels, stats, o, *, col_offset, total_cols):
    """The shard's columns of the gradient, from statistics merged over all ``total_cols`` columns.

    ``logits``, ``labels``, ``col_offset``, ``total_cols``: as given to :func:`partial_stats`. ``stats``: the
    merged ``(rows,)`` statistics. ``reduction`` (``"mean"`` divides by the rows not ignored), ``ignore_index``,
    ``label_smoothing``, ``grad_scale``, ``z_loss`` (libxent >= 1.3.0), ``soft_cap``: as for :func:`cross_entropy` —
    pass the same values to :func:`finalize_stats` (and ``soft_cap`` to :func:`partial_stats`). ``grad_out``:
    ``None`` (a new C-contiguous array), a writable buffer of the logits' shape and dtype (row-strided allowed), or
    ``"inplace"`` (overwrites ``logits``). Returns the gradient.
    """
    reduction, ignore_index, label_smoothing, grad_scale = o.reduction, o.ignore_index, o.label_smoothing, o.grad_scale
    num_threads, grad_out = o.num_threads, o.grad_out
    rows, cols, row_stride = _matrix(logits, "logits")
    dtype = logits.dtype
    labels = _labels(labels, rows, logits.ndim == 1)
    _stats_array(stats, "stats", rows)
    col_offset = _size(col_offset, "col_offset")
    total_cols = _size(total_cols, "total_cols")
    opts = _stats_options(reduction, ignore_index, label_smoothing, grad_scale, num_threads, o.z_loss, o.soft_cap)
    if isinstance(grad_out, str):
        if grad_out != "inplace":
            raise ValueError(f"grad_out must be None, an array or 'inplace', got {grad_out!r}")
        if not logits.flags.writeable:
            raise ValueError("grad_out='inplace' needs writable logits")
        grad, grad_stride = logits, row_stride
    elif grad_out is None:
        grad, grad_stride = np.empty(logits.shape, dtype), cols
    elif grad_out is logits:
        if not logits.flags.writeable:
            raise ValueError("grad_out is logits (in place) but logits is not writable")
        grad, grad_stride = logits, row_stride
    else:
        _, _, grad_stride = _matrix(grad_out, "grad_out", dtype=dtype, shape=logits.shape, writable=True)
        grad = grad_out
    if rows <= 1 and grad is logits:
        grad_stride = row_stride
    name = f"xent_grad_from_stats_{_SUFFIX[dtype]}"
    _check(
        name,
        _optional(name)(
            _ptr(logits),
            rows,
            cols,
            row_stride,
            col_offset,
            total_cols,
            _ptr(labels),
            _ptr(stats),
            ctypes.byref(opts),
            _ptr(grad),
            grad_stride,
        ),
    )
    return grad
