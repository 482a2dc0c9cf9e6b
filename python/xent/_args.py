"""Argument checking shared by every function of the package (internal).

Arrays are checked, never copied (labels and class weights excepted: they are converted to a contiguous int64 /
float64 copy when they are not one already).
"""

import operator

import numpy as np

_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _ptr(a):
    return a.__array_interface__["data"][0]


def _float_dtype(a, name):
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy.ndarray of float32 or float64, got {type(a).__name__} "
            "(wrap it with np.asarray(..., dtype=np.float32) yourself; xent never copies it)"
        )
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
        raise TypeError(
            f"{name} has dtype {dt} but the logits have dtype {dtype}; mixed dtypes are not "
            "supported (no silent conversion)"
        )
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
        raise ValueError(
            f"{name} must have contiguous rows (strides[1] == itemsize == {item}), got strides "
            f"{a.strides}; column-strided or transposed arrays are not supported (use "
            "np.ascontiguousarray explicitly)"
        )
    if rows <= 1:
        return rows, cols, cols
    if s0 < 0 or s0 % item != 0 or s0 // item < cols:
        raise ValueError(
            f"{name} has row stride {s0} bytes; it must be a non-negative multiple of {item} and "
            f"at least cols * itemsize = {cols * item} (no negative, overlapping or broadcast rows)"
        )
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


def _class_weights(weights, cols):
    """``class_weights`` as a contiguous float64 array of ``cols`` values (converted once, a small copy unless it
    already is one); their values (finite, >= 0) are checked by the library."""
    arr = weights if isinstance(weights, np.ndarray) else np.asarray(weights)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"class_weights must be real numbers (converted to float64), got dtype {arr.dtype}")
    if arr.shape != (cols,):
        raise ValueError(f"class_weights must have shape ({cols},) (one weight per class), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float64)


def _size(value, name):
    return _int(value, name, 0, (1 << 63) - 1)
