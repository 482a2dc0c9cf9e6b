"""The result tuple of the cross-entropy functions (internal; re-exported by ``xent``)."""

import operator


class _Fields:
    """``CrossEntropyResult._fields``: all five names on the class, the names of its elements on an instance."""

    def __get__(self, obj, cls=None):
        names = ("loss", "grad", "lse", "bias_grad", "z_loss")
        return names if obj is None else names[: len(obj)]


class CrossEntropyResult(tuple):
    """``(loss, grad, lse, bias_grad)``, or ``(loss, grad, lse, bias_grad, z_loss)`` when the z-loss was requested.

    A named tuple: the fields not requested are ``None``. The fifth element ``z_loss`` exists only when
    ``return_z_loss=True`` was passed, so code written for 1.0.0 (``loss, grad, _, _ = xent.cross_entropy(...,
    grad=True)``, ``res._fields == ("loss", "grad", "lse", "bias_grad")``) keeps working unchanged. The attribute
    ``.z_loss`` is always available (``None`` when not requested). ``_fields`` (on an instance: the names of its
    elements; on the class: all five), ``_asdict()`` and ``_replace()`` work as for a ``collections.namedtuple``;
    ``_replace(z_loss=...)`` adds or (with ``None``) removes the fifth element.
    """

    __slots__ = ()
    _fields = _Fields()

    def __new__(cls, loss, grad=None, lse=None, bias_grad=None, z_loss=None):
        items = (loss, grad, lse, bias_grad) if z_loss is None else (loss, grad, lse, bias_grad, z_loss)
        return tuple.__new__(cls, items)

    loss = property(operator.itemgetter(0), doc="The loss (scalar, ``(rows,)`` array, or ``out``).")
    grad = property(operator.itemgetter(1), doc="The gradient, or None.")
    lse = property(operator.itemgetter(2), doc="The per-row log-sum-exp, or None.")
    bias_grad = property(operator.itemgetter(3), doc="The sum of the gradient rows, or None.")

    @property
    def z_loss(self):
        """The z-loss (float64; reduced like the loss), or None when ``return_z_loss`` was not requested."""
        return self[4] if len(self) > 4 else None

    def _asdict(self):
        return dict(zip(self._fields, self))

    def _replace(self, **changes):
        unknown = set(changes) - set(type(self)._fields)
        if unknown:
            raise ValueError(f"got unexpected field names: {sorted(unknown)!r}")
        values = dict(zip(type(self)._fields, (self.loss, self.grad, self.lse, self.bias_grad, self.z_loss)))
        values.update(changes)
        return type(self)(**values)

    def __getnewargs__(self):
        return tuple(self)

    def __repr__(self):
        return "CrossEntropyResult(" + ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self)) + ")"


def _result(loss, grad, lse, bias, z_loss, one_d, scalar_loss):
    """The loss alone, or a CrossEntropyResult when anything else was asked for (scalars unwrapped)."""
    if grad is None and lse is None and bias is None and z_loss is None:
        return loss
    if lse is not None and one_d:
        lse = lse[0]
    if z_loss is not None and scalar_loss:
        z_loss = z_loss[0]
    return CrossEntropyResult(loss, grad, lse, bias, z_loss)
