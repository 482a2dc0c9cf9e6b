"""``linear_cross_entropy``: the fused LM-head cross-entropy (internal module; re-exported by ``xent``)."""

import ctypes
from collections.abc import Mapping

import numpy as np

from . import _lib
from ._args import _SUFFIX, _class_weights, _float_dtype, _labels, _matrix, _ptr, _real, _size, _vector_out
from ._errors import _all_available, _check, _require_function
from ._keywords import keywords
from ._options import _options, _reduction, _set_options_1_1, _z_loss_out
from ._result import LinearCrossEntropyResult

_LINEAR_FUNCTIONS = ("xent_linear_cross_entropy_f32", "xent_linear_cross_entropy_f64")
#: The names ``grad=`` accepts, and the ``out=`` keys that receive them.
_GRAD_NAMES = {"hidden": "grad_hidden", "weight": "grad_weight", "bias": "grad_bias"}
#: The keys ``out=`` accepts (the loss and the z-loss are always new).
_OUT_KEYS = ("grad_hidden", "grad_weight", "grad_bias", "lse")


def linear_cross_entropy_available():
    """True when the loaded library has the linear cross-entropy functions (libxent >= 1.2.0)."""
    return _all_available(_LINEAR_FUNCTIONS)


def release_workspace():
    """Frees the workspace block the library keeps between linear cross-entropy calls (``xent_release_workspace``:
    one block for the process: the largest a call has needed since the last release, or with concurrent calls the
    last one returned) and returns its size in bytes; 0 when none was kept (always, with a library older than 1.4.0,
    which keeps none)."""
    fn = _lib.optional_function("xent_release_workspace")
    return int(fn()) if fn is not None else 0


def _function(name):
    return _require_function(name, "linear_cross_entropy needs libxent >= 1.2.0")


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _operand(a, name, dtype=None):
    """A 2-D float input (hidden, weight): (rows, cols, row stride in elements); never copied."""
    dt = _float_dtype(a, name)
    if dtype is not None and dt != dtype:
        raise TypeError(
            f"{name} has dtype {dt} but hidden has dtype {dtype}; hidden, weight, bias and the outputs must share "
            "one dtype (no silent conversion)"
        )
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    return _matrix(a, name)


def _ptr_or_none(a):
    return _ptr(a) if a is not None else None


def _bias(bias, dtype, classes):
    _float_dtype(bias, "bias")
    if bias.dtype != dtype:
        raise TypeError(f"bias has dtype {bias.dtype} but hidden has dtype {dtype}; no silent conversion")
    if bias.shape != (classes,):
        raise ValueError(f"bias must have shape ({classes},) (one value per class), got {bias.shape}")
    if not bias.flags.aligned or (classes > 1 and bias.strides[0] != bias.itemsize):
        raise ValueError(f"bias must be contiguous and aligned (strides {bias.strides}); it is never copied")
    return bias


def _operands(hidden, weight, bias, no_class):
    """Check ``hidden`` (rows, dim), ``weight`` (classes, dim) and ``bias`` (classes,) or None (one dtype):
    (rows, dim, hidden row stride, classes, weight row stride, bias). ``no_class``: the end of the message when
    ``weight`` has no rows."""
    rows, dim, hidden_stride = _operand(hidden, "hidden")
    classes, wdim, weight_stride = _operand(weight, "weight", hidden.dtype)
    if wdim != dim:
        raise ValueError(f"weight has shape {weight.shape}: its rows must have hidden's dim = {dim}")
    if classes == 0:
        raise ValueError(f"weight has no rows: {no_class}")
    if bias is not None:
        bias = _bias(bias, hidden.dtype, classes)
    return rows, dim, hidden_stride, classes, weight_stride, bias


def _grad_names(grad, has_bias):
    """The set of gradients ``grad`` asks for (names of _GRAD_NAMES)."""
    if grad is None or isinstance(grad, (bool, np.bool_)):
        if not grad:
            return set()
        return {"hidden", "weight", "bias"} if has_bias else {"hidden", "weight"}
    if isinstance(grad, str):
        names = [grad]  # one name
    else:
        try:
            names = list(grad)
        except TypeError:
            raise TypeError(
                f"grad must be False, True or an iterable of names from {sorted(_GRAD_NAMES)}, got {grad!r}"
            ) from None
    for n in names:
        if not isinstance(n, str) or n not in _GRAD_NAMES:
            raise ValueError(f"grad: unknown gradient {n!r}; the names are {sorted(_GRAD_NAMES)}")
    if "bias" in names and not has_bias:
        raise ValueError("grad asks for 'bias' but no bias was given")
    return set(names)


def _out_arrays(out, keys=_OUT_KEYS, tuple_ok=False):
    """``out`` as {key: array} (keys of ``keys``, None values dropped); ``tuple_ok``: a tuple of one array (or None)
    per key is accepted too."""
    if out is None:
        return {}
    if isinstance(out, LinearCrossEntropyResult):
        items = {k: getattr(out, k) for k in keys}
    elif isinstance(out, Mapping):
        unknown = set(out) - set(keys)
        if unknown:
            raise ValueError(f"out: unknown key(s) {sorted(map(str, unknown))}; the keys are {list(keys)}")
        items = dict(out)
    elif tuple_ok and isinstance(out, tuple) and len(out) == len(keys):
        items = dict(zip(keys, out))
    else:
        forms = f"a dict (keys {list(keys)})" + (f", a ({', '.join(keys)}) tuple" if tuple_ok else "")
        raise TypeError(f"out must be {forms} or a LinearCrossEntropyResult, got {type(out).__name__}")
    return {k: v for k, v in items.items() if v is not None}


def _requested(want, given, has_bias, accumulate):
    """``want`` (names of _GRAD_NAMES) with the gradients whose arrays ``given`` (out=) holds added; with
    ``accumulate``, out must hold the weight and bias gradients requested (ValueError)."""
    for name, key in _GRAD_NAMES.items():
        if key in given:
            if name == "bias" and not has_bias:
                raise ValueError("out has 'grad_bias' but no bias was given")
            want.add(name)
    if accumulate:
        missing = [_GRAD_NAMES[n] for n in ("weight", "bias") if n in want and _GRAD_NAMES[n] not in given]
        if missing:
            raise ValueError(
                f"accumulate=True adds into out's {' and '.join(missing)}: pass the arrays to add into as "
                f"out={{{', '.join(repr(k) + ': ...' for k in missing)}}}"
            )
    return want


def _matrix_out(a, name, dtype, shape):
    """A 2-D output buffer of ``shape`` (row-strided allowed): its row stride in elements."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"out[{name!r}] must be a numpy.ndarray, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"out[{name!r}] has dtype {a.dtype}, expected {dtype}")
    if a.shape != shape:
        raise ValueError(f"out[{name!r}] has shape {a.shape}, expected {shape}")
    return _matrix(a, f"out[{name!r}]", writable=True)[2]


def _grad_matrix(given, wanted, key, dtype, shape):
    """A requested 2-D gradient: (``given[key]`` checked, or a new array, and its row stride); (None, cols) when
    not requested."""
    a = given.get(key) if wanted else None
    if a is not None:
        return a, _matrix_out(a, key, dtype, shape)
    return (np.empty(shape, dtype) if wanted else None), shape[1]


def _grad_outputs(given, want, dtype, rows, dim, classes):
    """The requested gradients' arrays, given in out (checked) or new: (grad_hidden, its row stride, grad_weight,
    its row stride, grad_bias), None for what ``want`` does not name."""
    grad_hidden, gh_stride = _grad_matrix(given, "hidden" in want, "grad_hidden", dtype, (rows, dim))
    grad_weight, gw_stride = _grad_matrix(given, "weight" in want, "grad_weight", dtype, (classes, dim))
    grad_bias = None
    if "bias" in want:
        grad_bias = given.get("grad_bias")
        if grad_bias is None:
            grad_bias = np.empty(classes, dtype)
        else:
            _vector_out(grad_bias, "out['grad_bias']", dtype, classes, False)
    return grad_hidden, gh_stride, grad_weight, gw_stride, grad_bias


@keywords(
    "bias reduction ignore_index label_smoothing grad_scale z_loss soft_cap class_weights "
    "grad return_lse num_threads return_z_loss workspace_bytes accumulate out"
)
def linear_cross_entropy(hidden, weight, labels, o):
    """The cross-entropy of the logits ``hidden @ weight.T + bias`` (an LM head) and its gradients, fused: the
    ``rows x classes`` logits never exist whole (libxent >= 1.2.0, ``xent_linear_cross_entropy_*``).

    ``hidden`` ``(rows, dim)``, ``weight`` ``(classes, dim)``, ``bias`` ``(classes,)`` or None: float32 or float64,
    one dtype for all (``TypeError`` otherwise); 2-D arrays C-contiguous or row-strided (e.g. ``h[:, :dim]`` of a
    wider array, or ``h[::2]``), passed without copying; other layouts raise ``ValueError``. ``bias`` contiguous.
    ``labels`` ``(rows,)`` int64 (other integer dtypes are converted) in ``[0, classes)`` or ``ignore_index``.
    Every option means what it means for :func:`cross_entropy` applied to the logits (``reduction``,
    ``ignore_index``, ``label_smoothing``, ``grad_scale``, ``z_loss``, ``soft_cap``, ``class_weights``,
    ``return_z_loss``). With ``G`` the gradient of the loss with respect to the logits:
    ``grad_hidden = G @ weight``, ``grad_weight = G.T @ hidden``, ``grad_bias = G.sum(0)`` (summed in double).

    ``grad``: ``False``; ``True`` (every gradient that applies: hidden, weight, and bias when a bias is given); or
    names from ``{"hidden", "weight", "bias"}`` (an iterable, or one name as a string). ``return_lse``: also the
    per-row log-sum-exp of the logits. ``num_threads``: 0 = automatic; results are bit-identical for any count.
    ``workspace_bytes``: the bound of the one block the call allocates (row blocks of the logits; 0 = 256 MiB); it
    must hold one row of logits (plus the bias gradient's sums), else :class:`XentError` ``ERR_INVALID_OPTION``.

    ``out``: preallocated outputs, a dict with keys from ``"grad_hidden"`` ``(rows, dim)``, ``"grad_weight"``
    ``(classes, dim)`` (both row-strided allowed), ``"grad_bias"`` ``(classes,)``, ``"lse"`` ``(rows,)`` (None
    values are skipped), or a :class:`LinearCrossEntropyResult` (its fields of those names; the loss is always
    new). An array given there is computed (as if named in ``grad``/``return_lse``) and returned in the result.
    ``accumulate=True`` adds ``grad_weight`` and ``grad_bias`` into ``out``'s arrays instead of overwriting them
    (gradient accumulation over micro-batches; ``grad_hidden`` is always overwritten); it needs those arrays in
    ``out`` when they are requested (``ValueError`` otherwise). No output may overlap an input or another output
    (:class:`XentError` ``ERR_ALIASING``).

    Returns the loss alone (a NumPy scalar of the dtype, or the ``(rows,)`` array for ``reduction="none"``) when
    nothing else is requested, else ``LinearCrossEntropyResult(loss, grad_hidden, grad_weight, grad_bias, lse)``
    (``None`` for what was not requested), with a sixth element ``z_loss`` (float64) when ``return_z_loss``.
    ``rows == 0``: loss 0 (nothing for ``"none"``), zero ``grad_weight``/``grad_bias`` (unchanged when
    accumulating). Raises ``TypeError``/``ValueError`` for bad arguments and :class:`XentError` for library errors
    (a label out of range names its row); on error no output has been written.
    """
    bias, reduction, ignore_index, label_smoothing, grad_scale = (
        o.bias,
        o.reduction,
        o.ignore_index,
        o.label_smoothing,
        o.grad_scale,
    )
    z_loss, soft_cap, class_weights, grad, return_lse = o.z_loss, o.soft_cap, o.class_weights, o.grad, o.return_lse
    num_threads, return_z_loss, workspace_bytes, accumulate, out = (
        o.num_threads,
        o.return_z_loss,
        o.workspace_bytes,
        o.accumulate,
        o.out,
    )
    rows, dim, hidden_stride, classes, weight_stride, bias = _operands(
        hidden, weight, bias, "there must be at least one class"
    )
    dtype = hidden.dtype
    red = _reduction(reduction)
    labels = _labels(labels, rows, False)
    weights = _class_weights(class_weights, classes) if class_weights is not None else None
    want = _grad_names(grad, bias is not None)
    return_lse = _flag(return_lse, "return_lse")
    return_z_loss = _flag(return_z_loss, "return_z_loss")
    accumulate = _flag(accumulate, "accumulate")
    given = _out_arrays(out)
    want = _requested(want, given, bias is not None, accumulate)

    opts = _options(_lib.OPTIONS_SIZE, red, ignore_index, label_smoothing, grad_scale, num_threads)
    _set_options_1_1(opts, _real(z_loss, "z_loss"), _real(soft_cap, "soft_cap"), weights)
    opts.workspace_bytes = _size(workspace_bytes, "workspace_bytes")
    opts.accumulate = int(accumulate)

    # outputs: given in out (checked), or new
    grad_hidden, gh_stride, grad_weight, gw_stride, grad_bias = _grad_outputs(given, want, dtype, rows, dim, classes)
    lse = given.get("lse")
    if lse is not None:
        _vector_out(lse, "out['lse']", dtype, rows, False)
    elif return_lse:
        lse = np.empty(rows, dtype)
    scalar_loss = red != _lib.REDUCTION_NONE
    n_loss = 1 if scalar_loss else rows
    loss = np.empty(n_loss, dtype)
    zl = _z_loss_out(opts, n_loss, return_z_loss)

    name = f"xent_linear_cross_entropy_{_SUFFIX[dtype]}"
    status = _function(name)(
        _ptr(hidden),
        rows,
        dim,
        hidden_stride,
        _ptr(weight),
        classes,
        weight_stride,
        _ptr_or_none(bias),
        _ptr(labels),
        ctypes.byref(opts),
        _ptr(loss),
        _ptr_or_none(grad_hidden),
        gh_stride,
        _ptr_or_none(grad_weight),
        gw_stride,
        _ptr_or_none(grad_bias),
        _ptr_or_none(lse),
    )
    _check(name, status)

    loss_ret = loss[0] if scalar_loss else loss
    if grad_hidden is None and grad_weight is None and grad_bias is None and lse is None and zl is None:
        return loss_ret
    if zl is not None and scalar_loss:
        zl = zl[0]
    return LinearCrossEntropyResult(loss_ret, grad_hidden, grad_weight, grad_bias, lse, zl)
