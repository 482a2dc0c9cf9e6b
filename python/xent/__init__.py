"""xent — fast softmax cross-entropy for NumPy arrays (ctypes binding of ``libxent.so``).

Quick start::

    import numpy as np, xent
    logits = np.random.randn(4096, 32000).astype(np.float32)
    labels = np.random.randint(0, 32000, size=4096)           # int64
    loss = xent.cross_entropy(logits, labels)                  # numpy float32 scalar (mean)
    g = np.empty_like(logits)                                  # allocate once, reuse every step
    loss, grad, lse, bias = xent.cross_entropy(logits, labels, grad_out=g, return_lse=True, bias_grad=True)
    loss, grad, _, _ = xent.cross_entropy(logits, labels, grad="inplace")   # overwrites logits
    loss, grad, _, _, z = xent.cross_entropy(logits, labels, grad=True, z_loss=1e-4, return_z_loss=True)

Functions
---------
``cross_entropy(logits, labels, *, reduction="mean", ignore_index=-100, label_smoothing=0.0, grad_scale=1.0,
grad=False, return_lse=False, bias_grad=False, num_threads=0, out=None, grad_out=None, z_loss=0.0,
return_z_loss=False, class_weights=None, soft_cap=0.0)``
    Hard labels. Per row, with ``lse = log(sum(exp(x)))`` and smoothed targets
    ``t = (1 - label_smoothing) * onehot(label) + label_smoothing / cols``:
    ``loss_i = sum_j t_j * (lse - x_j)`` (terms with ``t_j == 0`` count as 0) and
    ``grad_i = s * (softmax(x_i) - t)``, where ``s = grad_scale / (number of non-ignored rows)`` for
    ``"mean"`` and ``s = grad_scale`` for ``"sum"``/``"none"``. Rows whose label equals ``ignore_index`` get
    loss 0 and a zero gradient row (their lse is still computed); the mean of no rows is 0.

``soft_cross_entropy(logits, targets, *, reduction="mean", label_smoothing=0.0, grad_scale=1.0, grad=False,
return_lse=False, bias_grad=False, num_threads=0, out=None, grad_out=None, z_loss=0.0, return_z_loss=False,
class_weights=None, soft_cap=0.0)``
    Soft (probability) targets of the same shape and dtype as ``logits`` (row-strided is fine).
    ``t = (1 - label_smoothing) * y + label_smoothing / cols``, ``loss_i = sum_j t_j (lse - x_j)``,
    ``grad_i = s * (sum(t) * softmax(x_i) - t)`` — the exact gradient even when the targets do not sum to 1.
    ``"mean"`` divides by ``rows``. There is no ``ignore_index``. ``z_loss`` works as for ``cross_entropy``;
    ``class_weights`` (hard labels only) raise :class:`XentError` ``ERR_UNSUPPORTED``.

``logsumexp(x, *, out=None)``, ``softmax(x, *, out=None)``, ``log_softmax(x, *, out=None)``
    Row-wise. ``out`` may be ``x`` itself for ``softmax``/``log_softmax`` (in place).

Sharded vocabulary (tensor-parallel cross-entropy; libxent >= 1.1.0)
-------------------------------------------------------------------
When the class dimension is split across processes (each holds columns ``[col_offset, col_offset + cols)`` of
every row of ``total_cols`` classes; labels stay global class indices), per-row statistics of each shard,
merged across shards, give the loss and every shard's gradient:

``partial_stats(logits, labels, *, col_offset, total_cols, ignore_index=-100, out=None)``
    The statistics of one shard: an array ``(rows,)`` of :data:`STATS_DTYPE` (a structured dtype mirroring
    ``xent_stats``: six float64 fields ``max, sum_exp, sum_x, count, label_logit, label_seen``).
``merge_stats(a, b, out=None)``
    The statistics of the columns of ``a`` and ``b`` together (``out`` may be ``a`` or ``b``). Associative and
    commutative up to rounding; the same order gives bit-identical results.
``finalize_stats(stats, labels, *, total_cols, dtype=np.float32, reduction="mean", ignore_index=-100,
label_smoothing=0.0, return_lse=False)``
    The loss (and ``lse``, as ``(loss, lse)``) from statistics merged over all ``total_cols`` columns; label
    smoothing uses the global class count and sum of logits.
``grad_from_stats(logits, labels, stats, *, col_offset, total_cols, reduction="mean", ignore_index=-100,
label_smoothing=0.0, grad_scale=1.0, num_threads=0, grad_out=None)``
    The shard's columns of the gradient from the merged statistics; ``grad_out`` may be a buffer of the
    logits' shape or ``"inplace"`` (overwrites ``logits``).

``xent.mpi`` (needs mpi4py) combines the statistics of all ranks with one ``Allreduce``. With a library older
than 1.1.0 the package still imports; these functions then raise :class:`XentError` (``ERR_UNSUPPORTED``) and
``sharded_stats_available()`` is False.

``isa()`` the vector path the library uses; ``library_version()``; ``library_path``; ``__version__``.

Return values
-------------
* ``cross_entropy``/``soft_cross_entropy`` return **only the loss** when none of ``grad``, ``grad_out``,
  ``return_lse``, ``bias_grad``, ``return_z_loss`` is requested. Otherwise they return a
  :class:`CrossEntropyResult` ``(loss, grad, lse, bias_grad)`` — always these four fields in this order,
  ``None`` for the ones not requested — and, only when ``return_z_loss=True``, a fifth element ``z_loss``:
  ``(loss, grad, lse, bias_grad, z_loss)``. Code that unpacks four fields keeps working as long as it does not
  ask for the z-loss; ``result.z_loss`` is always accessible (``None`` when not requested).
* ``z_loss`` (when requested) is float64 whatever the logits' dtype (the library computes it in double): a
  NumPy float64 scalar for ``"mean"``/``"sum"`` and for 1-D logits, an array ``(rows,)`` for ``"none"``.
* The loss is a NumPy scalar of the logits' dtype for ``"mean"``/``"sum"`` and for 1-D logits; for 2-D
  logits with ``reduction="none"`` it is an array of shape ``(rows,)``. If ``out=`` is given, the loss is
  written there and ``out`` itself is returned (shape ``(rows,)``, or ``()``/``(1,)`` for a scalar loss).
* ``grad`` has the logits' shape: a new C-contiguous array, ``grad_out`` (which implies ``grad=True``), or
  ``logits`` itself for ``grad="inplace"``. ``lse`` has shape ``(rows,)`` (a scalar for 1-D logits).
  ``bias_grad`` has shape ``(cols,)``: the sum of the gradient rows, formed in double and rounded once (above
  4096 classes the library allocates that sum once per call; if it cannot, :class:`XentError`
  ``ERR_OUT_OF_MEMORY``).
* ``logsumexp`` returns ``(rows,)`` (a scalar for 1-D input, or ``out``); ``softmax``/``log_softmax`` return
  an array of ``x``'s shape (or ``out``).

Arrays
------
* ``float32`` or ``float64`` in native byte order; ``logits``, ``targets``, ``grad_out`` and ``out`` must all
  have the same dtype (no mixing, no conversion) -> otherwise ``TypeError``. Inputs must be ``numpy.ndarray``.
* 1-D (one row) or 2-D ``(rows, cols)``. 2-D arrays may be C-contiguous or **row-strided** (e.g. a column
  slice ``a[:, :k]`` of a wider array): ``strides[1] == itemsize``, ``strides[0]`` a non-negative multiple of
  ``itemsize`` that is at least ``cols * itemsize``. They are passed to the library without copying.
  Column-strided, transposed, negatively strided, broadcast, unaligned or 3-D arrays raise ``ValueError``;
  logits, targets and outputs are never copied silently.
* ``labels``: ``int64`` of shape ``(rows,)`` (a Python int or one-element array for 1-D logits). Other integer
  dtypes (and Python int sequences) are converted to a contiguous ``int64`` copy — documented and cheap,
  labels are ``rows`` values; strided ``int64`` labels are also copied. Non-integer labels raise ``TypeError``.
* Outputs (``out``, ``grad_out``) must be writable and of the right shape and dtype. Fresh memory costs more
  than the kernel for large gradients (page faults), so allocate ``grad_out`` once and reuse it.

Options
-------
``label_smoothing`` and ``grad_scale`` travel through the C ABI as ``float`` (float32) even for float64 data:
``label_smoothing=0.1`` acts as ``0.1f = 0.10000000149...``. ``label_smoothing`` must lie in ``[0, 1]`` and
``grad_scale`` be finite (else :class:`XentError`). ``num_threads=0`` lets the library choose.

Options since 1.1.0
-------------------
``z_loss=lam`` (``lam >= 0`` and finite; float32 through the ABI like ``label_smoothing``)
    The z-loss (PaLM) ``z_i = lam * lse_i**2`` of every counted (non-ignored) row. It is **never added to the
    returned loss**: the loss stays the cross-entropy, and the z-loss is returned separately when
    ``return_z_loss=True`` — reduced like the loss, except that ``"mean"`` always divides by the number of
    counted rows (never by class weights). The gradient does include it: ``grad_i += s_z * 2 * lam * lse_i *
    softmax(x_i)`` with ``s_z = grad_scale / (counted rows)`` for ``"mean"`` and ``grad_scale`` otherwise (and
    so does ``bias_grad``). Add ``z_loss`` to the loss you log yourself if you want the total objective.
``return_z_loss=True``
    Return the z-loss as the fifth element of the result (see Return values); allowed with ``z_loss=0``
    (zeros).
``class_weights=w`` (``cross_entropy`` only)
    ``cols`` finite weights ``>= 0`` with PyTorch's semantics (``torch.nn.functional.cross_entropy(weight=w,
    label_smoothing=eps)``): row i's target is ``(1 - eps) * w[label_i] * onehot(label_i) + eps * w / cols``,
    ``loss_i = sum_j t_j * (lse_i - x_j)``, ``"mean"`` divides by ``sum(w[label_i])`` over the counted rows
    (0, not NaN, when that sum is 0), and ``grad_i = s * (sum(t) * softmax(x_i) - t)``. Any array-like of
    length ``cols`` (real numbers); it is converted once per call to a contiguous float64 array — a small copy
    of ``cols`` values, skipped when it already is one. Values are checked by the library (negative, NaN or
    infinite weights raise :class:`XentError` ``ERR_INVALID_OPTION``); a wrong length raises ``ValueError``.
    With ``soft_cross_entropy`` they raise :class:`XentError` ``ERR_UNSUPPORTED``.
``soft_cap=c`` (``c >= 0`` and finite; float32 through the ABI)
    Passed through to the library: logit soft-capping, the logits become ``c * tanh(x / c)`` everywhere (loss,
    lse, smoothing, z-loss) and the gradient follows the chain rule (see ``include/xent.h``). ``0`` (the
    default) is off. A library that reserves the field reports any other value as :class:`XentError`
    ``ERR_UNSUPPORTED``.

With a 1.0.0 library (``library_version() < "1.1"``) the package passes the 1.0.0 ``struct_size``
(``XENT_OPTIONS_V1_SIZE``); the options above are then ignored at their defaults, and any non-default value
(including ``return_z_loss=True``) raises :class:`XentError` ``ERR_UNSUPPORTED`` before the call.

Errors and threads
------------------
Invalid arguments detected in Python raise ``TypeError``/``ValueError``. A failed library call raises
:class:`XentError` (a ``ValueError``) carrying the status code and the library's message, e.g.
``label 10 at row 3 is outside [0, 10)``; the library validates everything before writing, so on error no
output (and no in-place logits) has been modified. ctypes releases the GIL during each call, and the
library is thread-safe: calls from many threads run concurrently.

Library lookup: ``$XENT_LIBRARY`` if set, else the ``libxent.so`` bundled in this package, else the system's
``libxent``. The library's major version must match this package's (checked at import, ``ImportError``).
"""

import ctypes
import operator

import numpy as np

from . import _lib
from ._lib import (ERR_ALIASING, ERR_INVALID_OPTION, ERR_INVALID_SHAPE, ERR_LABEL_OUT_OF_RANGE,  # noqa: F401
                   ERR_NULL_POINTER, ERR_OUT_OF_MEMORY, ERR_UNSUPPORTED, OK)

__version__ = _lib.PACKAGE_VERSION
library_path = _lib.LIBRARY_PATH

__all__ = ["cross_entropy", "soft_cross_entropy", "logsumexp", "softmax", "log_softmax", "isa",
           "library_version", "library_path", "CrossEntropyResult", "XentError", "__version__",
           "STATS_DTYPE", "partial_stats", "merge_stats", "finalize_stats", "grad_from_stats",
           "sharded_stats_available", "cross_entropy_bf16"]

_REDUCTIONS = {"none": _lib.REDUCTION_NONE, "sum": _lib.REDUCTION_SUM, "mean": _lib.REDUCTION_MEAN}
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_OPTIONS_SIZE = ctypes.sizeof(_lib.Options)


class XentError(ValueError):
    """A libxent call failed. ``status`` is the ``xent_status`` code, ``status_name`` its
    ``xent_status_string``, ``detail`` the library's ``xent_last_error_message()``."""

    def __init__(self, function, status, detail):
        self.function = function
        self.status = status
        self.status_name = _lib.status_string(status)
        self.detail = detail
        super().__init__(f"{function}: {self.status_name}" + (f": {detail}" if detail else ""))


class _Fields:
    """``CrossEntropyResult._fields``: all five names on the class, the names of its elements on an instance."""

    def __get__(self, obj, cls=None):
        names = ("loss", "grad", "lse", "bias_grad", "z_loss")
        return names if obj is None else names[:len(obj)]


class CrossEntropyResult(tuple):
    """``(loss, grad, lse, bias_grad)``, or ``(loss, grad, lse, bias_grad, z_loss)`` when the z-loss was requested.

    A named tuple: the fields not requested are ``None``. The fifth element ``z_loss`` exists only when
    ``return_z_loss=True`` was passed, so code written for 1.0.0 (``loss, grad, _, _ = xent.cross_entropy(...,
    grad=True)``, ``res._fields == ("loss", "grad", "lse", "bias_grad")``) keeps working unchanged. The attribute
    ``.z_loss`` is always available (``None`` when not requested). ``_fields`` (on an instance: the names of its
    elements; on the class: all five), ``_asdict()`` and ``_replace()`` work as for a ``collections.namedtuple``;
    ``_replace(z_loss=...)`` adds or (with ``None``) removes the fifth element.
    """

    __slots__ = ()
    _fields = _Fields()

    def __new__(cls, loss, grad=None, lse=None, bias_grad=None, z_loss=None):
        items = (loss, grad, lse, bias_grad) if z_loss is None else (loss, grad, lse, bias_grad, z_loss)
        return tuple.__new__(cls, items)

    loss = property(operator.itemgetter(0), doc="The loss (scalar, ``(rows,)`` array, or ``out``).")
    grad = property(operator.itemgetter(1), doc="The gradient, or None.")
    lse = property(operator.itemgetter(2), doc="The per-row log-sum-exp, or None.")
    bias_grad = property(operator.itemgetter(3), doc="The sum of the gradient rows, or None.")

    @property
    def z_loss(self):
        """The z-loss (float64; reduced like the loss), or None when ``return_z_loss`` was not requested."""
        return self[4] if len(self) > 4 else None

    def _asdict(self):
        return dict(zip(self._fields, self))

    def _replace(self, **changes):
        unknown = set(changes) - set(type(self)._fields)
        if unknown:
            raise ValueError(f"got unexpected field names: {sorted(unknown)!r}")
        values = dict(zip(type(self)._fields, (self.loss, self.grad, self.lse, self.bias_grad, self.z_loss)))
        values.update(changes)
        return type(self)(**values)

    def __getnewargs__(self):
        return tuple(self)

    def __repr__(self):
        return "CrossEntropyResult(" + ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self)) + ")"


def isa():
    """Name of the vector code path the library uses (``xent_isa_name()``)."""
    return _lib.lib.xent_isa_name().decode("utf-8", "replace")


def library_version():
    """The loaded library's ``xent_version_string()``, e.g. ``"1.0.0"``."""
    return _lib.LIBRARY_VERSION


# ----------------------------------------------------------------------------------------------------------
# argument checking

def _ptr(a):
    return a.__array_interface__["data"][0]


def _float_dtype(a, name):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32 or float64, got {type(a).__name__} "
                        "(wrap it with np.asarray(..., dtype=np.float32) yourself; xent never copies it)")
    dt = a.dtype
    if dt not in _SUFFIX:
        if dt.kind == "f" and dt.newbyteorder("=") in _SUFFIX and not dt.isnative:
            raise TypeError(f"{name} has non-native byte order ({dt.str}); convert it with .astype({dt.name!r})")
        raise TypeError(f"{name} must have dtype float32 or float64, got {dt}")
    return dt


def _matrix(a, name, dtype=None, shape=None, writable=False):
    """Check a 1-D/2-D float array; return (rows, cols, row_stride_in_elements)."""
    dt = _float_dtype(a, name)
    if dtype is not None and dt != dtype:
        raise TypeError(f"{name} has dtype {dt} but the logits have dtype {dtype}; mixed dtypes are not "
                        "supported (no silent conversion)")
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (one row) or 2-D (rows, cols), got {a.ndim}-D shape {a.shape}")
    if shape is not None and a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writable")
    if not a.flags.aligned:
        raise ValueError(f"{name} is not aligned to its element size")
    item = dt.itemsize
    if a.ndim == 1:
        rows, cols = 1, a.shape[0]
        if cols > 1 and a.strides[0] != item:
            raise ValueError(f"{name} must be contiguous (stride {a.strides[0]} bytes, element {item})")
        return rows, cols, cols
    rows, cols = a.shape
    s0, s1 = a.strides
    if rows == 0:
        return rows, cols, cols  # nothing is read or written; numpy may report any strides here
    if cols > 1 and s1 != item:
        raise ValueError(f"{name} must have contiguous rows (strides[1] == itemsize == {item}), got strides "
                         f"{a.strides}; column-strided or transposed arrays are not supported (use "
                         "np.ascontiguousarray explicitly)")
    if rows <= 1:
        return rows, cols, cols
    if s0 < 0 or s0 % item != 0 or s0 // item < cols:
        raise ValueError(f"{name} has row stride {s0} bytes; it must be a non-negative multiple of {item} and "
                         f"at least cols * itemsize = {cols * item} (no negative, overlapping or broadcast rows)")
    return rows, cols, s0 // item


def _vector_out(out, name, dtype, n, scalar):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype}, expected {dtype}")
    ok = out.shape in ((), (1,)) if scalar else out.shape == (n,)
    if not ok:
        want = "() or (1,)" if scalar else f"({n},)"
        raise ValueError(f"{name} has shape {out.shape}, expected {want}")
    if not out.flags.writeable:
        raise ValueError(f"{name} must be writable")
    if not (out.flags.c_contiguous and out.flags.aligned):
        raise ValueError(f"{name} must be contiguous and aligned")
    return out


def _reduction(reduction):
    try:
        return _REDUCTIONS[reduction]
    except (KeyError, TypeError):
        raise ValueError(f"reduction must be one of 'none', 'sum', 'mean', got {reduction!r}") from None


def _int(value, name, lo, hi):
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{name}={v} is outside [{lo}, {hi}]")
    return v


def _real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _labels(labels, rows, one_d):
    arr = labels if isinstance(labels, np.ndarray) else np.asarray(labels)
    if arr.size == 0 and not isinstance(labels, np.ndarray):
        arr = np.empty(arr.shape, np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"labels must be integers (int64; other integer dtypes are converted), got dtype {arr.dtype}")
    if one_d:
        if arr.shape not in ((), (1,)):
            raise ValueError(f"1-D logits are one row: labels must be one integer, got shape {arr.shape}")
        arr = arr.reshape(1)
    elif arr.shape != (rows,):
        raise ValueError(f"labels must have shape ({rows},) to match the logits, got {arr.shape}")
    if arr.dtype != np.int64:
        if arr.dtype.kind == "u" and arr.dtype.itemsize == 8 and arr.size and int(arr.max()) > _INT64_MAX:
            raise ValueError("labels has a uint64 value that does not fit in int64")
        arr = arr.astype(np.int64)  # documented conversion: rows values
    if not (arr.flags.c_contiguous and arr.flags.aligned):
        arr = np.ascontiguousarray(arr)
    return arr


def _check(fn_name, status):
    if status != OK:
        detail = _lib.last_error_message()  # same thread, right after the failed call
        raise XentError(fn_name, status, detail)


def _class_weights(weights, cols):
    """``class_weights`` as a contiguous float64 array of ``cols`` values (converted once, a small copy unless it
    already is one); their values (finite, >= 0) are checked by the library."""
    arr = weights if isinstance(weights, np.ndarray) else np.asarray(weights)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"class_weights must be real numbers (converted to float64), got dtype {arr.dtype}")
    if arr.shape != (cols,):
        raise ValueError(f"class_weights must have shape ({cols},) (one weight per class), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _require_options_1_1(fn_name, z_loss, soft_cap, class_weights, return_z_loss):
    """Against a 1.0.0 library the 1.1.0 options are refused when used (their defaults are simply not sent)."""
    if _lib.OPTIONS_V1_1:
        return
    used = [name for name, on in (("z_loss", z_loss != 0), ("soft_cap", soft_cap != 0),
                                  ("class_weights", class_weights is not None),
                                  ("return_z_loss", return_z_loss)) if on]
    if used:
        raise XentError(fn_name, ERR_UNSUPPORTED,
                        f"{', '.join(used)} need(s) libxent >= 1.1.0, but the loaded library {library_path} is "
                        f"version {_lib.LIBRARY_VERSION} (rebuild with `make lib` and reinstall, or point "
                        "XENT_LIBRARY at a newer library)")


# ----------------------------------------------------------------------------------------------------------
# cross-entropy

def _cross_entropy(kind, logits, second, reduction, ignore_index, label_smoothing, grad_scale, grad,
                   return_lse, bias_grad, num_threads, out, grad_out, z_loss=0.0, return_z_loss=False,
                   class_weights=None, soft_cap=0.0):
    rows, cols, row_stride = _matrix(logits, "logits")
    dtype = logits.dtype
    one_d = logits.ndim == 1
    red = _reduction(reduction)
    z_lambda = _real(z_loss, "z_loss")
    cap = _real(soft_cap, "soft_cap")
    if not isinstance(return_z_loss, (bool, np.bool_)):
        raise TypeError(f"return_z_loss must be True or False, got {return_z_loss!r}")
    return_z_loss = bool(return_z_loss)
    _require_options_1_1(f"{kind}_cross_entropy" if kind == "soft" else "cross_entropy", z_lambda, cap,
                         class_weights, return_z_loss)
    weights = _class_weights(class_weights, cols) if class_weights is not None else None
    opts = _lib.Options(_lib.options_size(), red, _int(num_threads, "num_threads", -(1 << 31), (1 << 31) - 1),
                        _int(ignore_index, "ignore_index", _INT64_MIN, _INT64_MAX),
                        _real(label_smoothing, "label_smoothing"), _real(grad_scale, "grad_scale"))
    if _lib.OPTIONS_V1_1:
        opts.z_loss = z_lambda
        opts.soft_cap = cap
        opts.class_weights = _ptr(weights) if weights is not None else None

    if isinstance(grad, str):
        if grad != "inplace":
            raise ValueError(f"grad must be False, True or 'inplace', got {grad!r}")
        inplace = True
    elif isinstance(grad, (bool, np.bool_)) or grad is None:
        inplace = False
        grad = bool(grad)
    else:
        raise ValueError(f"grad must be False, True or 'inplace', got {grad!r}")

    if kind == "hard":
        labels = _labels(second, rows, one_d)
        second_args = (_ptr(labels),)
    else:
        trows, tcols, target_stride = _matrix(second, "targets", dtype=dtype, shape=logits.shape)
        second_args = (_ptr(second), target_stride)

    # gradient buffer
    grad_arr = None
    grad_stride = row_stride
    if inplace:
        if grad_out is not None and grad_out is not logits:
            raise ValueError("grad='inplace' writes into logits; grad_out must be omitted (or be logits)")
        if not logits.flags.writeable:
            raise ValueError("grad='inplace' needs writable logits")
        grad_arr = logits
    elif grad_out is not None:
        _, _, grad_stride = _matrix(grad_out, "grad_out", dtype=dtype, shape=logits.shape, writable=True)
        grad_arr = grad_out
    elif grad:
        grad_arr = np.empty(logits.shape, dtype)
        grad_stride = cols
    if grad_arr is not None and rows <= 1:
        grad_stride = row_stride  # irrelevant for one row; keep it equal so the plain entry point is used

    scalar_loss = one_d or red != _lib.REDUCTION_NONE
    n_loss = 1 if scalar_loss else rows
    loss = _vector_out(out, "out", dtype, n_loss, scalar_loss) if out is not None else np.empty(n_loss, dtype)
    lse = np.empty(rows, dtype) if return_lse else None
    bias = np.empty(cols, dtype) if bias_grad else None
    zl = np.empty(n_loss, np.float64) if return_z_loss else None
    if zl is not None:
        opts.z_loss_out = _ptr(zl)

    sfx = _SUFFIX[dtype]
    stem = "cross_entropy" if kind == "hard" else "soft_cross_entropy"
    gp = _ptr(grad_arr) if grad_arr is not None else None
    lp = _ptr(lse) if lse is not None else None
    if bias is not None or (grad_arr is not None and grad_stride != row_stride):
        name = f"xent_{stem}_ex_{sfx}"
        status = getattr(_lib.lib, name)(_ptr(logits), rows, cols, row_stride, *second_args, ctypes.byref(opts),
                                         _ptr(loss), gp, grad_stride, lp,
                                         _ptr(bias) if bias is not None else None)
    else:
        name = f"xent_{stem}_{sfx}"
        status = getattr(_lib.lib, name)(_ptr(logits), rows, cols, row_stride, *second_args, ctypes.byref(opts),
                                         _ptr(loss), gp, lp)
    _check(name, status)

    loss_ret = out if out is not None else (loss[0] if scalar_loss else loss)
    return _result(loss_ret, grad_arr, lse, bias, zl, one_d, scalar_loss)


def _result(loss, grad, lse, bias, z_loss, one_d, scalar_loss):
    """The loss alone, or a CrossEntropyResult when anything else was asked for (scalars unwrapped)."""
    if grad is None and lse is None and bias is None and z_loss is None:
        return loss
    if lse is not None and one_d:
        lse = lse[0]
    if z_loss is not None and scalar_loss:
        z_loss = z_loss[0]
    return CrossEntropyResult(loss, grad, lse, bias, z_loss)


def cross_entropy(logits, labels, *, reduction="mean", ignore_index=-100, label_smoothing=0.0, grad_scale=1.0,
                  grad=False, return_lse=False, bias_grad=False, num_threads=0, out=None, grad_out=None,
                  z_loss=0.0, return_z_loss=False, class_weights=None, soft_cap=0.0):
    """Softmax cross-entropy with integer class labels (and optional label smoothing).

    ``logits``: float32/float64, 1-D ``(cols,)`` or 2-D ``(rows, cols)``, C-contiguous or row-strided, not
    copied. ``labels``: int64 ``(rows,)`` in ``[0, cols)`` or equal to ``ignore_index`` (other integer dtypes
    are converted to an int64 copy). ``reduction``: ``"mean"`` (over non-ignored rows; 0 if none),
    ``"sum"`` or ``"none"``. ``label_smoothing`` in ``[0, 1]``. ``grad_scale`` multiplies the gradient.
    ``grad``: ``False``, ``True`` (new array, or ``grad_out``), or ``"inplace"`` (overwrites ``logits``).
    ``return_lse``: also return ``log(sum(exp(logits)))`` per row. ``bias_grad``: also return the sum of
    the gradient rows, shape ``(cols,)``. ``num_threads``: 0 = automatic. ``out``: buffer for the loss.
    ``grad_out``: preallocated gradient buffer of the logits' shape/dtype (row-strided allowed; implies
    ``grad=True``; reuse it across calls).

    Since 1.1.0 (see "Options since 1.1.0" in the module docstring): ``z_loss`` (lambda >= 0: the gradient gains
    the z-loss term; the loss is unchanged), ``return_z_loss`` (also return the z-loss, float64),
    ``class_weights`` (``cols`` finite weights >= 0, PyTorch semantics; converted once to a contiguous float64
    array — a small copy of ``cols`` values unless it already is one), ``soft_cap`` (``c * tanh(x / c)`` logit
    capping, passed through to the library; one that reserves it raises :class:`XentError` ``ERR_UNSUPPORTED``).

    Returns the loss alone, or ``CrossEntropyResult(loss, grad, lse, bias_grad)`` when any of ``grad``,
    ``grad_out``, ``return_lse``, ``bias_grad`` is requested, or ``CrossEntropyResult(loss, grad, lse,
    bias_grad, z_loss)`` (five elements) when ``return_z_loss`` is true (see the module docstring). Raises
    ``TypeError``/``ValueError`` for bad arguments and :class:`XentError` (``ValueError``) for library
    errors such as a label out of range (message names the row).
    """
    return _cross_entropy("hard", logits, labels, reduction, ignore_index, label_smoothing, grad_scale, grad,
                          return_lse, bias_grad, num_threads, out, grad_out, z_loss, return_z_loss,
                          class_weights, soft_cap)


def soft_cross_entropy(logits, targets, *, reduction="mean", label_smoothing=0.0, grad_scale=1.0, grad=False,
                       return_lse=False, bias_grad=False, num_threads=0, out=None, grad_out=None,
                       z_loss=0.0, return_z_loss=False, class_weights=None, soft_cap=0.0):
    """Softmax cross-entropy with soft (probability) targets.

    ``targets``: same shape and dtype as ``logits`` (row-strided allowed, not copied); they need not sum to
    1 — the gradient ``s * (sum(t) * softmax(x) - t)`` is exact either way. ``"mean"`` divides by ``rows``.
    Other arguments and the return value are as for :func:`cross_entropy` (there is no ``ignore_index``).
    ``z_loss``/``return_z_loss`` work as there (``"mean"`` divides the z-loss by ``rows``). ``class_weights``
    apply to integer labels only: any value other than ``None`` raises :class:`XentError`
    (``ERR_UNSUPPORTED``, reported by the library); ``soft_cap`` is passed through as in :func:`cross_entropy`.
    """
    return _cross_entropy("soft", logits, targets, reduction, -100, label_smoothing, grad_scale, grad,
                          return_lse, bias_grad, num_threads, out, grad_out, z_loss, return_z_loss,
                          class_weights, soft_cap)


# ----------------------------------------------------------------------------------------------------------
# row-wise primitives

def logsumexp(x, *, out=None):
    """Row-wise ``log(sum(exp(x)))``: shape ``(rows,)`` for 2-D ``x``, a scalar for 1-D ``x`` (or ``out``).

    An all ``-inf`` row gives ``-inf``; a row containing NaN or ``+inf`` gives NaN.
    """
    rows, cols, row_stride = _matrix(x, "x")
    one_d = x.ndim == 1
    res = _vector_out(out, "out", x.dtype, rows, one_d) if out is not None else np.empty(rows, x.dtype)
    name = f"xent_logsumexp_{_SUFFIX[x.dtype]}"
    _check(name, getattr(_lib.lib, name)(_ptr(x), rows, cols, row_stride, _ptr(res)))
    if out is not None:
        return out
    return res[0] if one_d else res


def _rowwise(op, x, out):
    rows, cols, row_stride = _matrix(x, "x")
    if out is None:
        out = np.empty(x.shape, x.dtype)
        out_stride = cols
    else:
        if out is not x:
            _, _, out_stride = _matrix(out, "out", dtype=x.dtype, shape=x.shape, writable=True)
        else:
            if not x.flags.writeable:
                raise ValueError("out is x (in place) but x is not writable")
            out_stride = row_stride
    name = f"xent_{op}_{_SUFFIX[x.dtype]}"
    _check(name, getattr(_lib.lib, name)(_ptr(x), rows, cols, row_stride, _ptr(out), out_stride))
    return out


def softmax(x, *, out=None):
    """Row-wise ``exp(x - lse)``; ``out`` may be ``x`` (in place) or any row-strided buffer of ``x``'s shape.

    ``-inf`` entries give 0; an all ``-inf`` row gives zeros; a row with NaN/``+inf`` gives NaN.
    """
    return _rowwise("softmax", x, out)


def log_softmax(x, *, out=None):
    """Row-wise ``x - lse``; ``out`` may be ``x`` (in place) or any row-strided buffer of ``x``'s shape.

    An all ``-inf`` row gives ``-inf``; a row with NaN/``+inf`` gives NaN.
    """
    return _rowwise("log_softmax", x, out)


# ----------------------------------------------------------------------------------------------------------
# sharded vocabulary (since 1.1.0)

#: NumPy mirror of ``xent_stats``: one record per row, six float64 fields (48 bytes, no padding).
STATS_DTYPE = np.dtype([(name, np.float64) for name, _ in _lib.Stats._fields_])
assert STATS_DTYPE.itemsize == ctypes.sizeof(_lib.Stats)

_SHARDED_FUNCTIONS = tuple(_lib._OPTIONAL_SIGNATURES)


def sharded_stats_available():
    """True when the loaded library has the sharded-vocabulary functions (libxent >= 1.1.0)."""
    return all(_lib.optional_function(n) is not None for n in _SHARDED_FUNCTIONS)


def _optional(name):
    fn = _lib.optional_function(name)
    if fn is None:
        raise XentError(name, ERR_UNSUPPORTED,
                        f"the loaded library {library_path} (version {_lib.LIBRARY_VERSION}) has no {name}; the "
                        "sharded-vocabulary functions need libxent >= 1.1.0 (rebuild with `make lib` and reinstall, "
                        "or point XENT_LIBRARY at a newer library)")
    return fn


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


def _size(value, name):
    return _int(value, name, 0, (1 << 63) - 1)


def _stats_options(reduction="mean", ignore_index=-100, label_smoothing=0.0, grad_scale=1.0, num_threads=0):
    return _lib.Options(_OPTIONS_SIZE, _reduction(reduction),
                        _int(num_threads, "num_threads", -(1 << 31), (1 << 31) - 1),
                        _int(ignore_index, "ignore_index", _INT64_MIN, _INT64_MAX),
                        _real(label_smoothing, "label_smoothing"), _real(grad_scale, "grad_scale"))


def partial_stats(logits, labels, *, col_offset, total_cols, ignore_index=-100, out=None):
    """The statistics of one vocabulary shard: columns ``[col_offset, col_offset + cols)`` of ``total_cols``.

    ``logits``: the shard, float32/float64, 1-D (one row) or 2-D ``(rows, cols)``, C-contiguous or row-strided
    (not copied). ``labels``: global class indices in ``[0, total_cols)`` or ``ignore_index``, as for
    :func:`cross_entropy`. ``out``: an optional writable contiguous ``(rows,)`` array of :data:`STATS_DTYPE`.

    Returns ``(rows,)`` records of :data:`STATS_DTYPE` (``(1,)`` for 1-D logits): ``max``, ``sum_exp``
    (relative to ``max``), ``sum_x`` (relative to ``max``), ``count`` (= cols), ``label_logit`` and
    ``label_seen`` (1 when the label lies in this shard). Raises :class:`XentError` when
    ``col_offset + cols > total_cols`` or a label is outside ``[0, total_cols)``.
    """
    rows, cols, row_stride = _matrix(logits, "logits")
    labels = _labels(labels, rows, logits.ndim == 1)
    col_offset = _size(col_offset, "col_offset")
    total_cols = _size(total_cols, "total_cols")
    opts = _stats_options(ignore_index=ignore_index)
    if out is None:
        res = np.empty(rows, STATS_DTYPE)
    else:
        _stats_array(out, "out", rows, writable=True)
        res = out
    name = f"xent_partial_stats_{_SUFFIX[logits.dtype]}"
    _check(name, _optional(name)(_ptr(logits), rows, cols, row_stride, col_offset, total_cols, _ptr(labels),
                                 ctypes.byref(opts), _ptr(res)))
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


def finalize_stats(stats, labels, *, total_cols, dtype=np.float32, reduction="mean", ignore_index=-100,
                   label_smoothing=0.0, return_lse=False):
    """The cross-entropy loss from statistics merged over all ``total_cols`` columns.

    ``stats``: ``(rows,)`` of :data:`STATS_DTYPE` (every row's ``count`` must equal ``total_cols`` and every row
    not ignored must have ``label_seen == 1``, else :class:`XentError` naming the row). ``labels``: as given to
    :func:`partial_stats`. ``dtype``: float32 or float64, the precision of the result (the ``_f32``/``_f64``
    entry point; use the logits' dtype). ``reduction``, ``ignore_index``, ``label_smoothing``: as for
    :func:`cross_entropy` (smoothing uses the global class count ``total_cols``).

    Returns the loss (a NumPy scalar of ``dtype`` for ``"mean"``/``"sum"``, an array ``(rows,)`` for
    ``"none"``), or ``(loss, lse)`` with ``lse`` of shape ``(rows,)`` when ``return_lse``.
    """
    rows = _stats_array(stats, "stats")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in _SUFFIX:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    one_row = rows == 1 and np.ndim(labels) == 0
    labels = _labels(labels, rows, one_row)
    total_cols = _size(total_cols, "total_cols")
    opts = _stats_options(reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing)
    scalar_loss = opts.reduction != _lib.REDUCTION_NONE
    loss = np.empty(1 if scalar_loss else rows, dt)
    lse = np.empty(rows, dt) if return_lse else None
    name = f"xent_finalize_stats_{_SUFFIX[dt]}"
    _check(name, _optional(name)(_ptr(stats), rows, total_cols, _ptr(labels), ctypes.byref(opts), _ptr(loss),
                                 _ptr(lse) if lse is not None else None))
    loss_ret = loss[0] if scalar_loss else loss
    return (loss_ret, lse) if return_lse else loss_ret


def grad_from_stats(logits, labels, stats, *, col_offset, total_cols, reduction="mean", ignore_index=-100,
                    label_smoothing=0.0, grad_scale=1.0, num_threads=0, grad_out=None):
    """The shard's columns of the gradient, from statistics merged over all ``total_cols`` columns.

    ``logits``, ``labels``, ``col_offset``, ``total_cols``: as given to :func:`partial_stats`. ``stats``: the
    merged ``(rows,)`` statistics. ``reduction`` (``"mean"`` divides by the rows not ignored), ``ignore_index``,
    ``label_smoothing``, ``grad_scale``: as for :func:`cross_entropy` — pass the same values to
    :func:`finalize_stats`. ``grad_out``: ``None`` (a new C-contiguous array), a writable buffer of the logits'
    shape and dtype (row-strided allowed), or ``"inplace"`` (overwrites ``logits``). Returns the gradient.
    """
    rows, cols, row_stride = _matrix(logits, "logits")
    dtype = logits.dtype
    labels = _labels(labels, rows, logits.ndim == 1)
    _stats_array(stats, "stats", rows)
    col_offset = _size(col_offset, "col_offset")
    total_cols = _size(total_cols, "total_cols")
    opts = _stats_options(reduction, ignore_index, label_smoothing, grad_scale, num_threads)
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
    _check(name, _optional(name)(_ptr(logits), rows, cols, row_stride, col_offset, total_cols, _ptr(labels),
                                 _ptr(stats), ctypes.byref(opts), _ptr(grad), grad_stride))
    return grad

# ----------------------------------------------------------------------------------------------------------
# bfloat16 logits (since 1.1.0)

def _bf16_matrix(a, name, writable=False):
    """A 1-D/2-D array of bfloat16 bits (uint16, or a 2-byte 'bfloat16' dtype such as ml_dtypes'), viewed as
    uint16 without a copy; returns (array, rows, cols, row_stride_in_elements)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array of bfloat16 bits (uint16), got {type(a).__name__}")
    if a.dtype != np.uint16:
        if a.dtype.itemsize == 2 and "bfloat16" in str(a.dtype):
            a = a.view(np.uint16)
        else:
            raise TypeError(f"{name} must hold bfloat16 bits (uint16 or a bfloat16 dtype), got {a.dtype}")
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {a.shape}")
    if writable and not a.flags.writeable:
        raise ValueError(f"{name} must be writable")
    if a.ndim == 1:
        if a.shape[0] > 1 and a.strides[0] != 2:
            raise ValueError(f"{name} must be contiguous")
        return a, 1, a.shape[0], a.shape[0]
    rows, cols = a.shape
    if rows == 0 or rows == 1:
        return a, rows, cols, cols
    s0, s1 = a.strides
    if cols > 1 and s1 != 2:
        raise ValueError(f"{name} must have contiguous rows (strides[1] == 2), got strides {a.strides}")
    if s0 < 0 or s0 % 2 != 0 or s0 // 2 < cols:
        raise ValueError(f"{name} has row stride {s0} bytes; it must be a non-negative even number >= {2 * cols}")
    return a, rows, cols, s0 // 2


def cross_entropy_bf16(logits, labels, *, reduction="mean", ignore_index=-100, label_smoothing=0.0,
                       grad_scale=1.0, grad=False, return_lse=False, num_threads=0, grad_out=None, z_loss=0.0,
                       return_z_loss=False, class_weights=None, soft_cap=0.0):
    """Softmax cross-entropy of bfloat16 logits (raw bits as ``uint16``, or an ml_dtypes ``bfloat16`` array),
    computed in float32 on the exactly widened values: the same results as :func:`cross_entropy` on
    ``logits.astype(float32)`` (the loss is float32). ``grad``: ``False``; ``"f32"`` (a float32 gradient, new or
    ``grad_out``; no scratch is allocated); ``"bf16"`` (a uint16 gradient of bfloat16 bits, the float32 gradient
    rounded to nearest-even, new or ``grad_out``); ``"inplace"`` (bfloat16 gradient over ``logits``). Without a
    float32 gradient the library allocates one scratch tile (<= 4 MiB) per call. Other keywords as
    :func:`cross_entropy`. Needs libxent >= 1.1.0."""
    fn = _lib.optional_function("xent_cross_entropy_bf16")
    if fn is None:
        raise XentError("cross_entropy_bf16", ERR_UNSUPPORTED,
                        f"bfloat16 logits need libxent >= 1.1.0; {library_path} is {_lib.LIBRARY_VERSION}")
    logits, rows, cols, row_stride = _bf16_matrix(logits, "logits", writable=(grad == "inplace"))
    one_d = logits.ndim == 1
    red = _reduction(reduction)
    weights = _class_weights(class_weights, cols) if class_weights is not None else None
    opts = _lib.Options(_lib.options_size(), red, _int(num_threads, "num_threads", -(1 << 31), (1 << 31) - 1),
                        _int(ignore_index, "ignore_index", _INT64_MIN, _INT64_MAX),
                        _real(label_smoothing, "label_smoothing"), _real(grad_scale, "grad_scale"))
    opts.z_loss = _real(z_loss, "z_loss")
    opts.soft_cap = _real(soft_cap, "soft_cap")
    opts.class_weights = _ptr(weights) if weights is not None else None
    labels = _labels(labels, rows, one_d)

    g32 = g16 = None
    grad_stride = cols
    if grad in (False, None):
        if grad_out is not None:
            raise ValueError("grad_out needs grad='f32' or grad='bf16'")
    elif grad == "f32":
        if grad_out is not None:
            _, _, grad_stride = _matrix(grad_out, "grad_out", dtype=np.dtype(np.float32), shape=logits.shape,
                                        writable=True)
            g32 = grad_out
        else:
            g32 = np.empty(logits.shape, np.float32)
    elif grad == "bf16":
        if grad_out is not None:
            g16, _, _, grad_stride = _bf16_matrix(grad_out, "grad_out", writable=True)
            if g16.shape != logits.shape:
                raise ValueError(f"grad_out has shape {g16.shape}, expected {logits.shape}")
        else:
            g16 = np.empty(logits.shape, np.uint16)
    elif grad == "inplace":
        if grad_out is not None:
            raise ValueError("grad='inplace' writes into logits; grad_out must be omitted")
        g16, grad_stride = logits, row_stride
    else:
        raise ValueError(f"grad must be False, 'f32', 'bf16' or 'inplace', got {grad!r}")
    if rows <= 1:
        grad_stride = max(grad_stride, cols)

    scalar_loss = one_d or red != _lib.REDUCTION_NONE
    loss = np.empty(1 if scalar_loss else rows, np.float32)
    lse = np.empty(rows, np.float32) if return_lse else None
    zl = np.empty(1 if scalar_loss else rows, np.float64) if return_z_loss else None
    if zl is not None:
        opts.z_loss_out = _ptr(zl)
    status = fn(_ptr(logits), rows, cols, row_stride, _ptr(labels), ctypes.byref(opts), _ptr(loss),
                _ptr(g32) if g32 is not None else None, _ptr(g16) if g16 is not None else None, grad_stride,
                _ptr(lse) if lse is not None else None)
    _check("xent_cross_entropy_bf16", status)
    loss_ret = loss[0] if scalar_loss else loss
    grad_arr = g32 if g32 is not None else g16
    return _result(loss_ret, grad_arr, lse, None, zl, one_d, scalar_loss)
