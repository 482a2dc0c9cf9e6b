"""Linear cross-entropy over a sharded vocabulary: the statistics of one shard of an LM head's classes, and the shard's
gradients from statistics merged over all shards (internal module; the functions are re-exported by ``xent``). Needs
libxent >= 1.3.0 (``xent_linear_partial_stats_*``, ``xent_linear_grad_from_stats_*``).

The steps (``xent.mpi.linear_cross_entropy`` runs them with two ``Allreduce``)::

    s = xent.linear_partial_stats(h, w_shard, labels, col_offset=c0, total_cols=C, bias=b_shard)
    s = <merge s over the shards>                       # xent.merge_stats, or xent.mpi.allreduce_stats
    loss = xent.finalize_stats(s, labels, total_cols=C, dtype=h.dtype)
    gh, gw, gb = xent.linear_grad_from_stats(h, w_shard, labels, s, col_offset=c0, total_cols=C, bias=b_shard)
    gh = <sum gh over the shards>                       # each shard keeps its own gw, gb
"""

import ctypes

import numpy as np

from ._args import _SUFFIX, _labels, _ptr, _real, _size
from ._errors import _all_available, _check, _require_function
from ._keywords import keywords
from ._linear import _GRAD_NAMES, _flag, _grad_names, _grad_outputs, _operands, _out_arrays, _ptr_or_none, _requested
from ._options import _set_options_1_1, _stats_options
from ._sharded import STATS_DTYPE, _stats_array

_LINEAR_SHARDED_FUNCTIONS = tuple(
    f"xent_linear_{step}_{t}" for step in ("partial_stats", "grad_from_stats") for t in ("f32", "f64")
)
#: The keys ``out=`` of :func:`linear_grad_from_stats` accepts, in the order of its result.
_GRAD_KEYS = ("grad_hidden", "grad_weight", "grad_bias")


def linear_sharded_available():
    """True when the loaded library has the sharded linear cross-entropy functions (libxent >= 1.3.0)."""
    return _all_available(_LINEAR_SHARDED_FUNCTIONS)


def _function(name):
    return _require_function(name, "the sharded linear cross-entropy needs libxent >= 1.3.0")


def _shard(hidden, weight, bias, labels, col_offset, total_cols):
    """Check the arguments every sharded linear call takes: (rows, dim, cols, bias, labels as contiguous int64, the
    call's leading arguments: hidden, rows, dim, its row stride, weight, cols, its row stride, col_offset, total_cols,
    bias, labels). The caller keeps the returned labels (maybe a converted copy, whose address the arguments hold)
    until the call. Whether the shard lies inside ``[0, total_cols)`` and the labels in range is the library's check
    (XentError)."""
    rows, dim, hidden_stride, cols, weight_stride, bias = _operands(
        hidden, weight, bias, "a shard holds at least one class"
    )
    labels = _labels(labels, rows, False)
    col_offset, total_cols = _size(col_offset, "col_offset"), _size(total_cols, "total_cols")
    args = (
        _ptr(hidden),
        rows,
        dim,
        hidden_stride,
        _ptr(weight),
        cols,
        weight_stride,
        col_offset,
        total_cols,
        _ptr_or_none(bias),
        _ptr(labels),
    )
    return rows, dim, cols, bias, labels, args


def _no_gradient(grad):
    """True when ``grad`` asks for no gradient (False or None)."""
    return grad is None or (isinstance(grad, (bool, np.bool_)) and not grad)


def _shard_options(o, reduction="mean", label_smoothing=0.0, grad_scale=1.0, z_loss=0.0):
    """The xent_options of a sharded linear call: the shared fields, soft_cap and workspace_bytes from ``o``
    (accumulate stays 0)."""
    opts = _stats_options(reduction, o.ignore_index, label_smoothing, grad_scale, o.num_threads)
    _set_options_1_1(opts, _real(z_loss, "z_loss"), _real(o.soft_cap, "soft_cap"), None)
    opts.workspace_bytes = _size(o.workspace_bytes, "workspace_bytes")
    return opts


@keywords("bias ignore_index soft_cap num_threads workspace_bytes out")
def linear_partial_stats(hidden, weight, labels, o, *, col_offset, total_cols):
    """The statistics of one shard of an LM head's classes: rows ``[col_offset, col_offset + cols)`` of the
    ``total_cols`` rows of the whole weight (and bias), for the logits ``hidden @ weight.T + bias`` of the shard,
    formed blockwise in one workspace and never stored whole (``xent_linear_partial_stats_*``, libxent >= 1.3.0).

    ``hidden`` ``(rows, dim)``: the whole batch, the same on every shard; ``weight`` ``(cols, dim)``: this shard's
    classes; ``bias`` ``(cols,)`` (this shard's entries) or None. float32 or float64, one dtype for all; 2-D arrays
    C-contiguous or row-strided, never copied (as for :func:`linear_cross_entropy`). ``labels`` ``(rows,)``: global
    class indices in ``[0, total_cols)`` or ``ignore_index``. ``soft_cap``, ``num_threads`` and ``workspace_bytes``
    as for :func:`linear_cross_entropy` (pass the same ``soft_cap`` to :func:`linear_grad_from_stats`). ``out``: an
    optional writable contiguous ``(rows,)`` array of :data:`STATS_DTYPE`.

    Returns ``(rows,)`` records of :data:`STATS_DTYPE`, as :func:`partial_stats` does for the shard's logits: merge
    them over all shards (:func:`merge_stats`, ``xent.mpi.allreduce_stats``), then :func:`finalize_stats` gives the
    loss and :func:`linear_grad_from_stats` every shard's gradients. Raises :class:`XentError` when
    ``col_offset + cols > total_cols`` or a label is outside ``[0, total_cols)``, ``TypeError``/``ValueError`` for
    bad arguments; on error nothing has been written.
    """
    rows, _, _, _, labels, args = _shard(hidden, weight, o.bias, labels, col_offset, total_cols)
    opts = _shard_options(o)
    if o.out is None:
        stats = np.empty(rows, STATS_DTYPE)
    else:
        _stats_array(o.out, "out", rows, writable=True)
        stats = o.out
    name = f"xent_linear_partial_stats_{_SUFFIX[hidden.dtype]}"
    status = _function(name)(*args, ctypes.byref(opts), _ptr(stats))
    _check(name, status)
    return stats


@keywords(
    "bias reduction ignore_index label_smoothing grad_scale z_loss soft_cap num_threads workspace_bytes accumulate out"
)
def linear_grad_from_stats(hidden, weight, labels, stats, o, *, col_offset, total_cols, grad=True):
    """One shard's gradients of the linear cross-entropy, from statistics merged over all ``total_cols`` classes
    (``xent_linear_grad_from_stats_*``, libxent >= 1.3.0). With ``G`` the shard's columns of the gradient with
    respect to the logits (as :func:`grad_from_stats` forms them):
    ``grad_hidden = G @ weight`` (this shard's contribution: sum it over the shards),
    ``grad_weight = G.T @ hidden`` (this shard's rows of the whole weight's gradient) and
    ``grad_bias = G.sum(0)`` (this shard's entries; summed in double).

    ``hidden``, ``weight``, ``bias``, ``labels``, ``col_offset``, ``total_cols``, ``soft_cap``, ``num_threads``,
    ``workspace_bytes``: as given to :func:`linear_partial_stats`. ``stats``: the merged ``(rows,)`` statistics (every
    row's count must be ``total_cols``, else :class:`XentError`). ``reduction`` (``"mean"`` divides by the rows not
    ignored), ``ignore_index``, ``label_smoothing`` (with the global class count), ``grad_scale``: as for
    :func:`cross_entropy`, and ``z_loss`` (its gradient; the z-loss itself comes from :func:`finalize_stats`); pass
    the same values to :func:`finalize_stats`. ``class_weights`` is not offered: the statistics carry no
    class-weighted sums.

    ``grad``: ``True`` (every gradient that applies: hidden, weight, and bias when a bias is given) or names from
    ``{"hidden", "weight", "bias"}`` (an iterable, or one name as a string); ``False`` asks for nothing
    (``ValueError``: the loss comes from :func:`finalize_stats`). ``out``: preallocated outputs, a dict with keys
    from ``"grad_hidden"`` ``(rows, dim)``, ``"grad_weight"`` ``(cols, dim)`` (both row-strided allowed),
    ``"grad_bias"`` ``(cols,)`` (None values skipped), a previous result of this function or a
    :class:`LinearCrossEntropyResult`; an array given there is computed (as if named in ``grad``) and returned.
    ``accumulate=True`` adds ``grad_weight`` and ``grad_bias`` into ``out``'s arrays (micro-batches; ``grad_hidden`` is
    always overwritten); it needs those arrays in ``out`` when they are requested (``ValueError``).

    Returns ``(grad_hidden, grad_weight, grad_bias)``, ``None`` for what was not requested (``grad_bias`` without a
    bias). ``rows == 0``: zero ``grad_weight``/``grad_bias`` (unchanged when accumulating). Raises
    ``TypeError``/``ValueError`` for bad arguments and :class:`XentError` for library errors; on error no output has
    been written.
    """
    rows, dim, cols, bias, labels, args = _shard(hidden, weight, o.bias, labels, col_offset, total_cols)
    dtype = hidden.dtype
    _stats_array(stats, "stats", rows)
    opts = _shard_options(o, o.reduction, o.label_smoothing, o.grad_scale, o.z_loss)
    if _no_gradient(grad):
        raise ValueError(
            f"grad={grad!r} asks for no gradient: linear_grad_from_stats computes only gradients (the loss and the "
            "lse come from xent.finalize_stats); pass True or names from ['bias', 'hidden', 'weight']"
        )
    want = _grad_names(grad, bias is not None)
    accumulate = _flag(o.accumulate, "accumulate")
    given = _out_arrays(o.out, _GRAD_KEYS, tuple_ok=True)
    want = _requested(want, given, bias is not None, accumulate)
    if not want:
        raise ValueError(f"grad={grad!r} names no gradient; the names are {sorted(_GRAD_NAMES)}")
    opts.accumulate = int(accumulate)
    grad_hidden, gh_stride, grad_weight, gw_stride, grad_bias = _grad_outputs(given, want, dtype, rows, dim, cols)

    name = f"xent_linear_grad_from_stats_{_SUFFIX[dtype]}"
    status = _function(name)(
        *args,
        _ptr(stats),
        ctypes.byref(opts),
        _ptr_or_none(grad_hidden),
        gh_stride,
        _ptr_or_none(grad_weight),
        gw_stride,
        _ptr_or_none(grad_bias),
    )
    _check(name, status)
    return grad_hidden, grad_weight, grad_bias
