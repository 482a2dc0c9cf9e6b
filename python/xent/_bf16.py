"""``cross_entropy_bf16``: bfloat16 logits (internal module; re-exported by ``xent``). Needs libxent >= 1.1.0."""

import ctypes

import numpy as np

from . import _lib
from ._args import _class_weights, _labels, _matrix, _ptr, _real
from ._errors import XentError, _check
from ._keywords import keywords
from ._options import _options, _reduction, _set_options_1_1, _z_loss_out
from ._result import _result


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


@keywords(
    "reduction ignore_index label_smoothing grad_scale grad return_lse "
    "num_threads grad_out z_loss return_z_loss class_weights soft_cap"
)
def cross_entropy_bf16(logits, labels, o):
    """Softmax cross-entropy of bfloat16 logits (raw bits as ``uint16``, or an ml_dtypes ``bfloat16`` array),
    computed in float32 on the exactly widened values: the same results as :func:`cross_entropy` on
    ``logits.astype(float32)`` (the loss is float32). ``grad``: ``False``; ``"f32"`` (a float32 gradient, new or
    ``grad_out``; no scratch is allocated); ``"bf16"`` (a uint16 gradient of bfloat16 bits, the float32 gradient
    rounded to nearest-even, new or ``grad_out``); ``"inplace"`` (bfloat16 gradient over ``logits``). Without a
    float32 gradient the library allocates one scratch tile (<= 4 MiB) per call. Other keywords as
    :func:`cross_entropy`. Needs libxent >= 1.1.0."""
    reduction, ignore_index, label_smoothing, grad_scale = o.reduction, o.ignore_index, o.label_smoothing, o.grad_scale
    grad, return_lse, num_threads, grad_out = o.grad, o.return_lse, o.num_threads, o.grad_out
    z_loss, return_z_loss, class_weights, soft_cap = o.z_loss, o.return_z_loss, o.class_weights, o.soft_cap
    fn = _lib.optional_function("xent_cross_entropy_bf16")
    if fn is None:
        raise XentError(
            "cross_entropy_bf16",
            _lib.ERR_UNSUPPORTED,
            f"bfloat16 logits need libxent >= 1.1.0; {_lib.LIBRARY_PATH} is {_lib.LIBRARY_VERSION}",
        )
    logits, rows, cols, row_stride = _bf16_matrix(logits, "logits", writable=(grad == "inplace"))
    one_d = logits.ndim == 1
    red = _reduction(reduction)
    weights = _class_weights(class_weights, cols) if class_weights is not None else None
    opts = _options(_lib.options_size(), red, ignore_index, label_smoothing, grad_scale, num_threads)
    _set_options_1_1(opts, _real(z_loss, "z_loss"), _real(soft_cap, "soft_cap"), weights)
    labels = _labels(labels, rows, one_d)

    g32 = g16 = None
    grad_stride = cols
    if grad in (False, None):
        if grad_out is not None:
            raise ValueError("grad_out needs grad='f32' or grad='bf16'")
    elif grad == "f32":
        if grad_out is not None:
            _, _, grad_stride = _matrix(
                grad_out, "grad_out", dtype=np.dtype(np.float32), shape=logits.shape, writable=True
            )
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
    n_loss = 1 if scalar_loss else rows
    loss = np.empty(n_loss, np.float32)
    lse = np.empty(rows, np.float32) if return_lse else None
    zl = _z_loss_out(opts, n_loss, return_z_loss)
    status = fn(
        _ptr(logits),
        rows,
        cols,
        row_stride,
        _ptr(labels),
        ctypes.byref(opts),
        _ptr(loss),
        _ptr(g32) if g32 is not None else None,
        _ptr(g16) if g16 is not None else None,
        grad_stride,
        _ptr(lse) if lse is not None else None,
    )
    _check("xent_cross_entropy_bf16", status)
    loss_ret = loss[0] if scalar_loss else loss
    grad_arr = g32 if g32 is not None else g16
    return _result(loss_ret, grad_arr, lse, None, zl, one_d, scalar_loss)
