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

Linear cross-entropy (the LM head, fused; libxent >= 1.2.0)
-----------------------------------------------------------
``linear_cross_entropy(hidden, weight, labels, *, bias=None, reduction="mean", ignore_index=-100,
label_smoothing=0.0, grad_scale=1.0, z_loss=0.0, soft_cap=0.0, class_weights=None, grad=False, return_lse=False,
num_threads=0, return_z_loss=False, workspace_bytes=0, accumulate=False, out=None)``
    ``cross_entropy(hidden @ weight.T + bias, labels, ...)`` and the gradients ``grad_hidden = G @ weight``,
    ``grad_weight = G.T @ hidden``, ``grad_bias = G.sum(0)`` (``G`` the gradient with respect to the logits)
    without the ``rows x classes`` logits ever existing whole: the library forms row blocks of them in one
    workspace of at most ``workspace_bytes`` (0 = 256 MiB) with the system BLAS; the library keeps that block for
    the next call (``release_workspace()`` frees it and returns its size; libxent >= 1.4.0). ``hidden``
    ``(rows, dim)``, ``weight`` ``(classes, dim)`` (both row-strided allowed, never copied), ``bias`` ``(classes,)``
    or None, one float dtype. ``grad``: ``False``, ``True`` (hidden, weight, and bias when there is one) or names from
    ``{"hidden", "weight", "bias"}``. Returns the loss alone, or
    ``LinearCrossEntropyResult(loss, grad_hidden, grad_weight, grad_bias, lse)`` (a sixth element ``z_loss`` with
    ``return_z_loss=True``). ``out={"grad_weight": gw, "grad_bias": gb, ...}`` (or a previous result) supplies the
    output arrays; with ``accumulate=True`` the weight and bias gradients are added into them (micro-batches)::

        gw, gb = np.zeros_like(W), np.zeros_like(b)
        for h, y in micro_batches:
            res = xent.linear_cross_entropy(h, W, y, bias=b, grad=True, reduction="sum",
                                            out={"grad_weight": gw, "grad_bias": gb}, accumulate=True)
            backprop(res.grad_hidden)

    ``linear_cross_entropy_available()`` is False with an older library (the call then raises :class:`XentError`
    ``ERR_UNSUPPORTED``).

Linear cross-entropy over a sharded vocabulary (tensor parallelism; libxent >= 1.3.0)
-------------------------------------------------------------------------------------
When the LM head's weight is split by classes (each process holds rows ``[col_offset, col_offset + cols)`` of the
weight and bias of ``total_cols`` classes; ``hidden`` and the global labels are the same everywhere), the steps of the
sharded vocabulary run on each shard's logits ``hidden @ weight.T + bias``, formed blockwise and never stored:

``linear_partial_stats(hidden, weight, labels, *, col_offset, total_cols, bias=None, ignore_index=-100,
soft_cap=0.0, num_threads=0, workspace_bytes=0, out=None)``
    The shard's ``(rows,)`` statistics (:data:`STATS_DTYPE`); merge them over the shards with ``merge_stats`` (or
    ``xent.mpi.allreduce_stats``) and take the loss from ``finalize_stats``.
``linear_grad_from_stats(hidden, weight, labels, stats, *, col_offset, total_cols, grad=True, bias=None,
reduction="mean", ignore_index=-100, label_smoothing=0.0, grad_scale=1.0, soft_cap=0.0, num_threads=0,
workspace_bytes=0, accumulate=False, out=None)``
    ``(grad_hidden, grad_weight, grad_bias)`` of the shard from the merged statistics: ``grad_hidden`` is this
    shard's contribution (sum it over the shards), ``grad_weight``/``grad_bias`` its rows of the whole gradients.
    ``grad``: ``True`` or names from ``{"hidden", "weight", "bias"}`` (``False`` is a ``ValueError``).

``xent.mpi.linear_cross_entropy(comm, hidden, weight_shard, labels, ...)`` runs the steps with two ``Allreduce``
(the statistics, then ``grad_hidden``). ``linear_sharded_available()`` is False with an older library (the calls
then raise :class:`XentError` ``ERR_UNSUPPORTED``).

``isa()`` the vector path the library uses; ``library_version()``; ``library_path``; ``__version__`` (the same as
``library_version()``: the package takes its version from the library).

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

# Module names `import xent` has always exposed (xent.ctypes, xent.np, xent.operator), kept for code that used them.
import ctypes
import operator

import numpy as np

from . import _lib
from ._args import (
    _INT64_MAX,
    _INT64_MIN,
    _SUFFIX,
    _class_weights,
    _float_dtype,
    _int,
    _labels,
    _matrix,
    _ptr,
    _real,
    _size,
    _vector_out,
)
from ._bf16 import _bf16_matrix, cross_entropy_bf16
from ._cross_entropy import _cross_entropy, cross_entropy, soft_cross_entropy
from ._errors import XentError, _check
from ._lib import (
    ERR_ALIASING,
    ERR_INVALID_OPTION,
    ERR_INVALID_SHAPE,
    ERR_LABEL_OUT_OF_RANGE,
    ERR_NULL_POINTER,
    ERR_OUT_OF_MEMORY,
    ERR_UNSUPPORTED,
    OK,
)
from ._linear import linear_cross_entropy, linear_cross_entropy_available, release_workspace
from ._linear_sharded import linear_grad_from_stats, linear_partial_stats, linear_sharded_available
from ._options import _OPTIONS_SIZE, _REDUCTIONS, _reduction, _require_options_1_1, _stats_options
from ._result import CrossEntropyResult, LinearCrossEntropyResult, _Fields, _result
from ._rows import _rowwise, log_softmax, logsumexp, softmax
from ._sharded import (
    _SHARDED_FUNCTIONS,
    STATS_DTYPE,
    _optional,
    _stats_array,
    finalize_stats,
    grad_from_stats,
    merge_stats,
    partial_stats,
    sharded_stats_available,
)

#: The loaded library's version (``xent_version_string()``): the package has no version number of its own.
__version__ = _lib.LIBRARY_VERSION
library_path = _lib.LIBRARY_PATH

__all__ = [
    "cross_entropy",
    "soft_cross_entropy",
    "logsumexp",
    "softmax",
    "log_softmax",
    "isa",
    "library_version",
    "library_path",
    "CrossEntropyResult",
    "XentError",
    "__version__",
    "STATS_DTYPE",
    "partial_stats",
    "merge_stats",
    "finalize_stats",
    "grad_from_stats",
    "sharded_stats_available",
    "cross_entropy_bf16",
    "linear_cross_entropy",
    "linear_cross_entropy_available",
    "release_workspace",
    "LinearCrossEntropyResult",
    "linear_partial_stats",
    "linear_grad_from_stats",
    "linear_sharded_available",
]


def isa():
    """Name of the vector code path the library uses (``xent_isa_name()``)."""
    return _lib.lib.xent_isa_name().decode("utf-8", "replace")


def library_version():
    """The loaded library's ``xent_version_string()``, e.g. ``"1.1.2"``."""
    return _lib.LIBRARY_VERSION
