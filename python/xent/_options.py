"""Building the ``xent_options`` struct of a call (internal)."""

import ctypes

import numpy as np

from . import _lib
from ._args import _INT64_MAX, _INT64_MIN, _int, _ptr, _real
from ._errors import XentError

_REDUCTIONS = {"none": _lib.REDUCTION_NONE, "sum": _lib.REDUCTION_SUM, "mean": _lib.REDUCTION_MEAN}
_OPTIONS_SIZE = ctypes.sizeof(_lib.Options)


def _reduction(reduction):
    try:
        return _REDUCTIONS[reduction]
    except (KeyError, TypeError):
        raise ValueError(f"reduction must be one of 'none', 'sum', 'mean', got {reduction!r}") from None


def _require_options_1_1(fn_name, z_loss, soft_cap, class_weights, return_z_loss):
    """Against a 1.0.0 library the 1.1.0 options are refused when used (their defaults are simply not sent)."""
    if _lib.OPTIONS_V1_1:
        return
    used = [
        name
        for name, on in (
            ("z_loss", z_loss != 0),
            ("soft_cap", soft_cap != 0),
            ("class_weights", class_weights is not None),
            ("return_z_loss", return_z_loss),
        )
        if on
    ]
    if used:
        raise XentError(
            fn_name,
            _lib.ERR_UNSUPPORTED,
            f"{', '.join(used)} need(s) libxent >= 1.1.0, but the loaded library {_lib.LIBRARY_PATH} is "
            f"version {_lib.LIBRARY_VERSION} (rebuild with `make lib` and reinstall, or point "
            "XENT_LIBRARY at a newer library)",
        )


def _options(struct_size, reduction_code, ignore_index, label_smoothing, grad_scale, num_threads):
    """The ``xent_options`` of a call: the fields every function shares, checked (the later fields stay 0)."""
    return _lib.Options(
        struct_size,
        reduction_code,
        _int(num_threads, "num_threads", -(1 << 31), (1 << 31) - 1),
        _int(ignore_index, "ignore_index", _INT64_MIN, _INT64_MAX),
        _real(label_smoothing, "label_smoothing"),
        _real(grad_scale, "grad_scale"),
    )


def _set_options_1_1(opts, z_loss, soft_cap, weights):
    """Fill the 1.1.0 fields of ``opts``: the checked ``z_loss`` and ``soft_cap``, and the class weights (the
    float64 array of :func:`_args._class_weights`, or None)."""
    opts.z_loss = z_loss
    opts.soft_cap = soft_cap
    opts.class_weights = _ptr(weights) if weights is not None else None


def _z_loss_out(opts, n_loss, return_z_loss):
    """The float64 z-loss output of ``n_loss`` values, pointed to by ``opts.z_loss_out``; None when not asked for."""
    if not return_z_loss:
        return None
    # zeros: libxent 1.1.x leaves most rows of a "none" z-loss unwritten when z_loss == 0
    zl = np.zeros(n_loss, np.float64)
    opts.z_loss_out = _ptr(zl)
    return zl


def _stats_options(
    reduction="mean", ignore_index=-100, label_smoothing=0.0, grad_scale=1.0, num_threads=0, z_loss=0.0, soft_cap=0.0
):
    """The options of the sharded-vocabulary functions (which exist from 1.1.0 on: the full struct size). The
    z-loss is taken by libxent >= 1.3.0 (older libraries refuse it with ERR_UNSUPPORTED)."""
    opts = _options(_OPTIONS_SIZE, _reduction(reduction), ignore_index, label_smoothing, grad_scale, num_threads)
    opts.z_loss = _real(z_loss, "z_loss")
    opts.soft_cap = _real(soft_cap, "soft_cap")
    return opts
