"""The row-wise primitives ``logsumexp``, ``softmax`` and ``log_softmax`` (internal module; re-exported by
``xent``)."""

import numpy as np

from . import _lib
from ._args import _SUFFIX, _matrix, _ptr, _vector_out
from ._errors import _check


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
