"""Locating, loading and declaring ``libxent.so`` (internal).

Search order (the first that exists wins):

1. the path in the ``XENT_LIBRARY`` environment variable (if set, it must load);
2. ``libxent.so`` next to this file (bundled by ``pip install .``; ``make lib`` copies it into python/xent);
3. the system loader's ``libxent`` (``ctypes.util.find_library``, e.g. after ``make install``).

At import the library's ``xent_version_number()`` major version must equal :data:`PACKAGE_MAJOR`. The package
has no version number of its own: ``xent.__version__`` is the loaded library's ``xent_version_string()``.

The constants and struct mirrors below copy include/xent.h (Python cannot read C macros);
python/tests/test_header_facts.py parses the header and fails when any of them drifts from it. Status strings are
never copied: they come from ``xent_status_string()`` at run time.
"""

import ctypes
import ctypes.util
import os

#: XENT_VERSION_MAJOR of the C ABI this package calls: a library of another major version is refused at import.
PACKAGE_MAJOR = 1

# Status codes of include/xent.h (never renumbered).
OK = 0
ERR_NULL_POINTER = 1
ERR_INVALID_SHAPE = 2
ERR_LABEL_OUT_OF_RANGE = 3
ERR_INVALID_OPTION = 4
ERR_ALIASING = 5
ERR_UNSUPPORTED = 6
ERR_OUT_OF_MEMORY = 7

REDUCTION_NONE = 0
REDUCTION_SUM = 1
REDUCTION_MEAN = 2


class Options(ctypes.Structure):
    """Mirror of ``xent_options`` (1.2.0 layout: the 1.0.0 fields, then the 1.1.0 and 1.2.0 fields appended).

    ``struct_size`` is normally ``sizeof(Options)`` (a 1.1.x library reads the fields it knows and ignores the
    rest); against a 1.0.0 library the package passes :data:`OPTIONS_V1_SIZE` instead (the library then never
    looks past ``grad_scale``).
    """

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("reduction", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("ignore_index", ctypes.c_int64),
        ("label_smoothing", ctypes.c_float),
        ("grad_scale", ctypes.c_float),
        # since 1.1.0 (read only when struct_size covers them)
        ("z_loss", ctypes.c_float),
        ("soft_cap", ctypes.c_float),
        ("class_weights", ctypes.c_void_p),  # const double *, NULL or cols weights
        ("z_loss_out", ctypes.c_void_p),  # double *, NULL or rows (NONE) / one value
        # since 1.2.0 (read only by xent_linear_cross_entropy_*)
        ("workspace_bytes", ctypes.c_size_t),  # 0 = XENT_LINEAR_WORKSPACE_DEFAULT
        ("accumulate", ctypes.c_int32),  # nonzero: grad_weight / grad_bias are += instead of overwritten
    ]


#: XENT_OPTIONS_V1_SIZE: the size of the 1.0.0 struct (the fields up to grad_scale), the smallest struct_size.
OPTIONS_V1_SIZE = Options.z_loss.offset
#: sizeof(xent_options) of the 1.2.0 header.
OPTIONS_SIZE = ctypes.sizeof(Options)
#: XENT_LINEAR_WORKSPACE_DEFAULT: the workspace bound of a linear cross-entropy call when workspace_bytes is 0.
LINEAR_WORKSPACE_DEFAULT = 256 << 20


_p = ctypes.c_void_p
_sz = ctypes.c_size_t
_st = ctypes.c_int32
_opts = ctypes.POINTER(Options)

# name -> (restype, argtypes); the _f64 twins have identical ctypes signatures (pointers are void*).
_SIGNATURES = {
    "xent_options_init": (None, [_opts]),
    "xent_version_number": (ctypes.c_uint32, []),
    "xent_version_string": (ctypes.c_char_p, []),
    "xent_status_string": (ctypes.c_char_p, [_st]),
    "xent_last_error_message": (ctypes.c_char_p, []),
    "xent_isa_name": (ctypes.c_char_p, []),
}
for _t in ("f32", "f64"):
    _SIGNATURES.update(
        {
            # logits, rows, cols, row_stride, labels, opts, loss, grad, lse
            f"xent_cross_entropy_{_t}": (_st, [_p, _sz, _sz, _sz, _p, _opts, _p, _p, _p]),
            # ..., loss, grad, grad_stride, lse, bias_grad
            f"xent_cross_entropy_ex_{_t}": (_st, [_p, _sz, _sz, _sz, _p, _opts, _p, _p, _sz, _p, _p]),
            # logits, rows, cols, row_stride, targets, target_stride, opts, loss, grad, lse
            f"xent_soft_cross_entropy_{_t}": (_st, [_p, _sz, _sz, _sz, _p, _sz, _opts, _p, _p, _p]),
            f"xent_soft_cross_entropy_ex_{_t}": (_st, [_p, _sz, _sz, _sz, _p, _sz, _opts, _p, _p, _sz, _p, _p]),
            f"xent_logsumexp_{_t}": (_st, [_p, _sz, _sz, _sz, _p]),
            f"xent_softmax_{_t}": (_st, [_p, _sz, _sz, _sz, _p, _sz]),
            f"xent_log_softmax_{_t}": (_st, [_p, _sz, _sz, _sz, _p, _sz]),
        }
    )


class Stats(ctypes.Structure):
    """Mirror of ``xent_stats`` (since 1.1.0): six doubles, 48 bytes."""

    _fields_ = [(name, ctypes.c_double) for name in ("max", "sum_exp", "sum_x", "count", "label_logit", "label_seen")]


# Functions added in 1.1.0 (sharded vocabulary, bfloat16), 1.2.0 (linear cross-entropy), 1.3.0 (linear
# cross-entropy over a sharded vocabulary) and 1.4.0 (the kept workspace's release). They are optional: the package
# still imports against an older library, and optional_function() reports their absence only when one is used.
_OPTIONAL_SIGNATURES = {
    "xent_release_workspace": (_sz, []),
    # a, b, out, rows
    "xent_merge_stats": (_st, [_p, _p, _p, _sz]),
    # logits (bfloat16 bits), rows, cols, row_stride, labels, opts, loss, grad_f32, grad_bf16, grad_stride, lse
    "xent_cross_entropy_bf16": (_st, [_p, _sz, _sz, _sz, _p, _opts, _p, _p, _p, _sz, _p]),
}
for _t in ("f32", "f64"):
    _OPTIONAL_SIGNATURES.update(
        {
            # logits, rows, cols, row_stride, col_offset, total_cols, labels, opts, stats
            f"xent_partial_stats_{_t}": (_st, [_p, _sz, _sz, _sz, _sz, _sz, _p, _opts, _p]),
            # stats, rows, total_cols, labels, opts, loss, lse
            f"xent_finalize_stats_{_t}": (_st, [_p, _sz, _sz, _p, _opts, _p, _p]),
            # logits, rows, cols, row_stride, col_offset, total_cols, labels, stats, opts, grad, grad_stride
            f"xent_grad_from_stats_{_t}": (_st, [_p, _sz, _sz, _sz, _sz, _sz, _p, _p, _opts, _p, _sz]),
            # Since 1.2.0: hidden, rows, dim, hidden_stride, weight, classes, weight_stride, bias, labels, opts,
            # loss, grad_hidden, grad_hidden_stride, grad_weight, grad_weight_stride, grad_bias, lse
            f"xent_linear_cross_entropy_{_t}": (
                _st,
                [_p, _sz, _sz, _sz, _p, _sz, _sz, _p, _p, _opts, _p, _p, _sz, _p, _sz, _p, _p],
            ),
            # Since 1.3.0: hidden, rows, dim, hidden_stride, weight, cols, weight_stride, col_offset, total_cols, bias,
            # labels, opts, stats
            f"xent_linear_partial_stats_{_t}": (_st, [_p, _sz, _sz, _sz, _p, _sz, _sz, _sz, _sz, _p, _p, _opts, _p]),
            # ..., bias, labels, stats, opts, grad_hidden, grad_hidden_stride, grad_weight, grad_weight_stride,
            # grad_bias
            f"xent_linear_grad_from_stats_{_t}": (
                _st,
                [_p, _sz, _sz, _sz, _p, _sz, _sz, _sz, _sz, _p, _p, _p, _opts, _p, _sz, _p, _sz, _p],
            ),
        }
    )


def _candidates():
    env = os.environ.get("XENT_LIBRARY")
    if env:
        return [(env, "XENT_LIBRARY")], True
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "libxent.so")
    cands = [(here, "bundled")]
    found = ctypes.util.find_library("xent")
    if found:
        cands.append((found, "system"))
    return cands, False


def _load():
    cands, from_env = _candidates()
    errors = []
    for path, origin in cands:
        if origin == "bundled" and not os.path.exists(path):
            errors.append(f"{path}: not present")
            continue
        try:
            lib = ctypes.CDLL(path)  # CDLL (not PyDLL): every call releases the GIL
        except OSError as e:
            if from_env:
                raise ImportError(f"xent: cannot load XENT_LIBRARY={path!r}: {e}") from e
            errors.append(f"{path}: {e}")
            continue
        return lib, path
    raise ImportError(
        "xent: libxent.so not found (" + "; ".join(errors) + "). Build it with `make lib` "
        "(which copies it to python/xent/) and reinstall, or set XENT_LIBRARY=/path/to/libxent.so."
    )


def _declare(lib, path):
    missing = []
    for name, (res, args) in _SIGNATURES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = res
        fn.argtypes = args
    if missing:
        raise ImportError(f"xent: {path} lacks the symbols {', '.join(missing)}; is it an older or foreign libxent.so?")


lib, LIBRARY_PATH = _load()
_declare(lib, LIBRARY_PATH)

LIBRARY_VERSION_NUMBER = int(lib.xent_version_number())
LIBRARY_VERSION = lib.xent_version_string().decode("utf-8", "replace")
if LIBRARY_VERSION_NUMBER // 10000 != PACKAGE_MAJOR:
    raise ImportError(
        f"xent: this Python package needs libxent major version {PACKAGE_MAJOR}, but "
        f"{LIBRARY_PATH} reports version {LIBRARY_VERSION} (xent_version_number() = {LIBRARY_VERSION_NUMBER}). "
        "Rebuild/reinstall the package or point XENT_LIBRARY at a matching library."
    )


def status_string(status):
    return lib.xent_status_string(status).decode("utf-8", "replace")


def last_error_message():
    msg = lib.xent_last_error_message()
    return msg.decode("utf-8", "replace") if msg else ""


#: True when the loaded library reads the 1.1.0 options (z_loss, soft_cap, class_weights, z_loss_out).
OPTIONS_V1_1 = LIBRARY_VERSION_NUMBER >= 10100


def options_size():
    """The struct_size to pass: the full 1.1.0 size, or XENT_OPTIONS_V1_SIZE for a 1.0.0 library."""
    return OPTIONS_SIZE if OPTIONS_V1_1 else OPTIONS_V1_SIZE


def default_options():
    o = Options()  # zero-filled: the 1.1.0 fields' defaults even when a 1.0.0 library fills only its part
    lib.xent_options_init(ctypes.byref(o))
    o.struct_size = ctypes.sizeof(Options)
    return o


_optional_cache = {}


def optional_function(name):
    """The declared ctypes function ``name`` of _OPTIONAL_SIGNATURES, or None when the loaded library lacks it."""
    try:
        return _optional_cache[name]
    except KeyError:
        pass
    res, args = _OPTIONAL_SIGNATURES[name]
    try:
        fn = getattr(lib, name)
    except AttributeError:
        fn = None
    else:
        fn.restype = res
        fn.argtypes = args
    _optional_cache[name] = fn
    return fn
