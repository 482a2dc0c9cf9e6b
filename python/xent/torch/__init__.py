"""xent.torch — PyTorch's cross-entropy functions and modules, computed by libxent (CPU tensors).

Swapping is one import: ``from xent.torch import cross_entropy, linear_cross_entropy`` (or the modules) in place of
``torch.nn.functional``'s / ``torch.nn``'s. Needs PyTorch (>= 2.11 for its own ``linear_cross_entropy``, which the
tests compare with); ``import xent`` never imports it.

Functions
---------
``cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0,
z_loss=0.0, soft_cap=0.0)``
    As :func:`torch.nn.functional.cross_entropy` for ``(N, C)`` input with a ``(N,)`` target, or ``(C,)`` input
    with a 0-dim target, of class indices (int64 or uint8). ``weight``: ``(C,)`` class weights (``"mean"`` divides
    by the sum of the weights of the non-ignored targets).
``linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
ignore_index=-100, label_smoothing=0.0, z_loss=0.0, soft_cap=0.0, options=None)``
    As :func:`torch.nn.functional.linear_cross_entropy`: ``cross_entropy(input @ linear_weight.T + linear_bias,
    target, ...)`` for ``(N, in_features)`` or ``(in_features,)`` input and ``(C, in_features)`` ``linear_weight``,
    fused (row blocks of the logits in one bounded workspace; the ``N x C`` logits never exist), differentiable in
    ``input``, ``linear_weight`` and ``linear_bias``. ``ignore_index=None`` means -100; ``options`` (PyTorch's
    chunking options) is ignored.

Modules
-------
``CrossEntropyLoss(weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0, z_loss=0.0,
soft_cap=0.0)`` and ``LinearCrossEntropyLoss(in_features, num_classes, *, bias=False, device=None, dtype=None,
reduction="mean", weight=None, ignore_index=None, label_smoothing=0.0, z_loss=0.0, soft_cap=0.0)``, laid out as
their ``torch.nn`` namesakes: ``LinearCrossEntropyLoss.linear`` is a :class:`torch.nn.Linear` holding the
``(num_classes, in_features)`` weight and the ``(num_classes,)`` bias; ``.weight`` is the class-weight buffer.

Vocabulary-parallel
-------------------
``xent.torch.distributed.linear_cross_entropy(hidden, weight_shard, labels, *, col_offset, total_cols, ...)``: the
fused linear cross-entropy with the classes split across the ranks of a ``torch.distributed`` (gloo) process group;
``import xent.torch.distributed`` explicitly (``import xent.torch`` does not import ``torch.distributed``).

Xent's options
--------------
``z_loss=lam`` (>= 0): the returned loss is the cross-entropy **plus** the z-loss ``lam * lse_i**2`` of every
non-ignored row, reduced like the loss except that ``"mean"`` divides it by the number of non-ignored rows
(never by class weights); the gradient is that sum's gradient. ``soft_cap=c`` (>= 0): the logits become
``c * tanh(x / c)`` before everything. With both 0 (the defaults) the results are PyTorch's to rounding.

Semantics and numerics
----------------------
* dtypes: float32 and float64 are computed in their own type; bfloat16 in float32 (exactly widened), the loss
  and the gradients rounded to bfloat16 once. ``label_smoothing``, ``z_loss`` and ``soft_cap`` travel through the
  C ABI as float32: ``label_smoothing=0.1`` acts as ``float32(0.1)``, which a float64 comparison can see
  (~1e-9 relative).
* ``"mean"`` over a zero total weight (every row ignored, or only zero-weight classes) is NaN, as in PyTorch; its
  gradient is 0.
* Gradients are exact for every reduction and any upstream gradient, including ``"none"`` with a non-uniform
  one. With grad enabled the forward computes the gradients in the same library call and the backward scales
  them (an upstream gradient of exactly 1 costs nothing). For ``linear_cross_entropy`` with ``"none"`` the
  weight and bias gradients are the forward's when the upstream gradient is one value on every counted row;
  otherwise (and always inside ``torch.compile``) the backward recomputes them from row blocks of the logits.
  Under ``torch.no_grad()`` / ``torch.inference_mode()``, or when no input requires grad, only the loss is
  computed (``linear_cross_entropy``: one GEMM and one pass). Double backward is not supported.
* Memory: contiguous CPU tensors (and row-strided ones, e.g. a column slice) are handed to libxent without a
  copy (NumPy views of their memory); any other layout is made contiguous once. Inputs are never modified. The
  gradients (16 MiB and more) come from a cache of the blocks earlier gradients released, so a training step
  does not page a fresh ``rows x classes`` gradient in every call (glibc unmaps large blocks when they are
  freed); ``xent.torch.empty_cache()`` frees the cache (at most two blocks a size, 4 GiB in all).
* Threads: libxent uses ``torch.get_num_threads()`` threads; the GIL is released during each library call
  (ctypes ``CDLL``).
* Errors: PyTorch's exception types and wording where it has them, e.g. ``IndexError: Target 7 is out of bounds
  (row 3 of target; ...)``; non-CPU tensors raise ``RuntimeError``.

Both functions are ``torch.library.custom_op`` s (``xent::cross_entropy``, ``xent::linear_cross_entropy``, and
``xent::linear_cross_entropy_none_backward`` for the exact ``"none"`` backward) with fake (meta) kernels and
registered autograd, so they work inside ``torch.compile(fullgraph=True)`` graphs.
"""

from ._buffers import empty_cache
from ._functions import cross_entropy, linear_cross_entropy
from ._modules import CrossEntropyLoss, LinearCrossEntropyLoss

__all__ = ["cross_entropy", "linear_cross_entropy", "CrossEntropyLoss", "LinearCrossEntropyLoss", "empty_cache"]
