"""``cross_entropy`` and ``soft_cross_entropy`` (internal module; the functions are re-exported by ``xent``)."""

import ctypes

import numpy as np

from . import _lib
from ._args import _SUFFIX, _class_weights, _labels, _matrix, _ptr, _real, _vector_out
from ._errors import _check
from ._keywords import DEFAULTS, keywords
from ._options import _options, _reduction, _require_options_1_1, _set_options_1_1, _z_loss_out
from ._result import _result


def _cross_entropy(kind, logits, second, o):
    """Both functions: ``kind`` "hard" (``second`` the labels) or "soft" (the targets); ``o`` their keywords."""
    reduction, label_smoothing, grad_scale, num_threads = o.reduction, o.label_smoothing, o.grad_scale, o.num_threads
    grad, return_lse, bias_grad, out, grad_out = o.grad, o.return_lse, o.bias_grad, o.out, o.grad_out
    z_loss, return_z_loss, class_weights, soft_cap = o.z_loss, o.return_z_loss, o.class_weights, o.soft_cap
    ignore_index = o.ignore_index if kind == "hard" else DEFAULTS["ignore_index"]
    rows, cols, row_stride = _matrix(logits, "logits")
    dtype = logits.dtype
    one_d = logits.ndim == 1
    red = _reduction(reduction)
    z_lambda = _real(z_loss, "z_loss")
    cap = _real(soft_cap, "soft_cap")
    if not isinstance(return_z_loss, (bool, np.bool_)):
        raise TypeError(f"return_z_loss must be True or False, got {return_z_loss!r}")
    return_z_loss = bool(return_z_loss)
    _require_options_1_1(
        f"{kind}_cross_entropy" if kind == "soft" else "cross_entropy", z_lambda, cap, class_weights, return_z_loss
    )
    weights = _class_weights(class_weights, cols) if class_weights is not None else None
    opts = _options(_lib.options_size(), red, ignore_index, label_smoothing, grad_scale, num_threads)
    if _lib.OPTIONS_V1_1:
        _set_options_1_1(opts, z_lambda, cap, weights)

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
    zl = _z_loss_out(opts, n_loss, return_z_loss)

    sfx = _SUFFIX[dtype]
    stem = "cross_entropy" if kind == "hard" else "soft_cross_entropy"
    gp = _ptr(grad_arr) if grad_arr is not None else None
    lp = _ptr(lse) if lse is not None else None
    if bias is not None or (grad_arr is not None and grad_stride != row_stride):
        name = f"xent_{stem}_ex_{sfx}"
        status = getattr(_lib.lib, name)(
            _ptr(logits),
            rows,
            cols,
            row_stride,
            *second_args,
            ctypes.byref(opts),
            _ptr(loss),
            gp,
            grad_stride,
            lp,
            _ptr(bias) if bias is not None else None,
        )
    else:
        name = f"xent_{stem}_{sfx}"
        status = getattr(_lib.lib, name)(
            _ptr(logits), rows, cols, row_stride, *second_args, ctypes.byref(opts), _ptr(loss), gp, lp
        )
    _check(name, status)

    loss_ret = out if out is not None else (loss[0] if scalar_loss else loss)
    return _result(loss_ret, grad_arr, lse, bias, zl, one_d, scalar_loss)


# The keywords after reduction (and ignore_index, which only hard labels have), in signature order.
_SHARED = "label_smoothing grad_scale grad return_lse bias_grad num_threads out grad_out z_loss return_z_loss "
_SHARED += "class_weights soft_cap"


@keywords("reduction ignore_index " + _SHARED)
def cross_entropy(logits, labels, o):
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
    return _cross_entropy("hard", logits, labels, o)


@keywords("reduction " + _SHARED)
def soft_cross_entropy(logits, targets, o):
    """Softmax cross-entropy with soft (probability) targets.

    ``targets``: same shape and dtype as ``logits`` (row-strided allowed, not copied); they need not sum to
    1 — the gradient ``s * (sum(t) * softmax(x) - t)`` is exact either way. ``"mean"`` divides by ``rows``.
    Other arguments and the return value are as for :func:`cross_entropy` (there is no ``ignore_index``).
    ``z_loss``/``return_z_loss`` work as there (``"mean"`` divides the z-loss by ``rows``). ``class_weights``
    apply to integer labels only: any value other than ``None`` raises :class:`XentError`
    (``ERR_UNSUPPORTED``, reported by the library); ``soft_cap`` is passed through as in :func:`cross_entropy`.
    """
    return _cross_entropy("soft", logits, targets, o)
