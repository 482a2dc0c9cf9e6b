"""``xent.torch.CrossEntropyLoss`` and ``xent.torch.LinearCrossEntropyLoss``: the modules of the two functions,
with the attributes, buffers and parameters of their ``torch.nn`` namesakes (internal to ``xent.torch``)."""

import inspect
from typing import Optional

import torch

from . import _functions

#: The options both modules keep as attributes (as torch.nn's do) and pass to their function.
_OPTIONS = ("reduction", "ignore_index", "label_smoothing", "z_loss", "soft_cap")


def _keep_options(module, arguments):
    for name in _OPTIONS:
        setattr(module, name, arguments[name])


def _options(module):
    return {name: getattr(module, name) for name in _OPTIONS}


def _repr_options(module):
    return ", ".join(f"{name}={getattr(module, name)}" for name in _OPTIONS)


_CE_KEYWORDS = [p for p in inspect.signature(_functions.cross_entropy).parameters.values() if p.name in _OPTIONS]
_CE_DEFAULTS = {p.name: p.default for p in _CE_KEYWORDS}


class CrossEntropyLoss(torch.nn.Module):
    """As :class:`torch.nn.CrossEntropyLoss` (class-index targets; ``weight`` is a buffer, as there), computed by
    :func:`xent.torch.cross_entropy`, plus the Xent options ``z_loss`` and ``soft_cap``."""

    def __init__(self, weight: Optional[torch.Tensor] = None, **options) -> None:
        # the keywords and their defaults are xent.torch.cross_entropy's (one statement of them; see __signature__)
        unknown = sorted(options.keys() - _CE_DEFAULTS.keys())
        if unknown:
            raise TypeError(f"CrossEntropyLoss.__init__() got an unexpected keyword argument {unknown[0]!r}")
        super().__init__()
        self.register_buffer("weight", weight)
        _keep_options(self, {**_CE_DEFAULTS, **options})

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _functions.cross_entropy(input, target, self.weight, **_options(self))

    def extra_repr(self) -> str:
        return _repr_options(self)


CrossEntropyLoss.__init__.__signature__ = inspect.Signature(
    [
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter(
            "weight", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=Optional[torch.Tensor]
        ),
    ]
    + _CE_KEYWORDS,
    return_annotation=None,
)


class LinearCrossEntropyLoss(torch.nn.Module):
    """As :class:`torch.nn.LinearCrossEntropyLoss`: it owns ``self.linear``, a :class:`torch.nn.Linear` whose
    ``weight`` is ``(num_classes, in_features)`` (and ``bias`` ``(num_classes,)`` when ``bias=True``), and the
    class weights as the buffer ``self.weight``, so the state dicts of the two modules load into each other. The
    forward is :func:`xent.torch.linear_cross_entropy` (fused; the logits never exist whole), plus the Xent
    options ``z_loss`` and ``soft_cap``. ``out_features`` (K-dimensional losses) must be ``()``; ``options`` (the
    chunking options of PyTorch's module) is accepted and ignored: Xent always fuses."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple = (),
        bias: bool = False,
        device=None,
        dtype=None,
        reduction: str = "mean",
        weight: Optional[torch.Tensor] = None,
        ignore_index: Optional[int] = None,
        label_smoothing: float = 0.0,
        z_loss: float = 0.0,
        soft_cap: float = 0.0,
        options=None,
    ) -> None:
        super().__init__()
        if tuple(out_features) != ():
            raise NotImplementedError("xent.torch.LinearCrossEntropyLoss: out_features (K-dimensional loss) must be ()")
        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if not 0.0 <= label_smoothing <= 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        self.register_buffer("weight", weight)
        self.num_classes = num_classes
        self.out_features = ()
        _keep_options(self, locals())
        self.options = options
        self.linear = torch.nn.Linear(in_features, num_classes, bias=bias, device=device, dtype=dtype)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return _functions.linear_cross_entropy(
            input, self.linear.weight, target, linear_bias=self.linear.bias, weight=self.weight, **_options(self)
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
            f"bias={self.linear.bias is not None}, " + _repr_options(self)
        )
