"""The result tuples of the cross-entropy functions (internal; re-exported by ``xent``)."""


class _Fields:
    """``_fields`` of a result class: all its names on the class, the names of its elements on an instance."""

    def __get__(self, obj, cls=None):
        names = (cls if cls is not None else type(obj))._all_fields
        return names if obj is None else names[: len(obj)]


def _field(index, doc, tail=False):
    if tail:
        return property(lambda self: self[index] if len(self) > index else None, doc=doc)
    return property(lambda self: self[index], doc=doc)


class _TailedResult(tuple):
    """A named tuple (``_all_fields``) whose last element, ``z_loss``, exists only when it was requested (is not
    None); every other field is always present (``None`` when not requested). Subclasses name the fields."""

    __slots__ = ()
    _fields = _Fields()
    _all_fields = ()

    def __new__(cls, *args, **kwargs):
        names = cls._all_fields
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__} takes at most {len(names)} fields, got {len(args)}")
        values = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{cls.__name__} got an unexpected field {name!r}")
            if name in values:
                raise TypeError(f"{cls.__name__} got multiple values for field {name!r}")
            values[name] = value
        if names[0] not in values:
            raise TypeError(f"{cls.__name__} needs the field {names[0]!r}")
        items = [values.get(n) for n in names]
        if items[-1] is None:
            items.pop()
        return tuple.__new__(cls, items)

    def _all_values(self):
        return tuple(self) + (None,) * (len(self._all_fields) - len(self))

    def _asdict(self):
        return dict(zip(self._fields, self))

    def _replace(self, **changes):
        unknown = set(changes) - set(self._all_fields)
        if unknown:
            raise ValueError(f"got unexpected field names: {sorted(unknown)!r}")
        values = dict(zip(self._all_fields, self._all_values()))
        values.update(changes)
        return type(self)(**values)

    def __getnewargs__(self):
        return tuple(self)

    def __repr__(self):
        return type(self).__name__ + "(" + ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self)) + ")"


class CrossEntropyResult(_TailedResult):
    """``(loss, grad, lse, bias_grad)``, or ``(loss, grad, lse, bias_grad, z_loss)`` when the z-loss was requested.

    A named tuple: the fields not requested are ``None``. The fifth element ``z_loss`` exists only when
    ``return_z_loss=True`` was passed, so code written for 1.0.0 (``loss, grad, _, _ = xent.cross_entropy(...,
    grad=True)``, ``res._fields == ("loss", "grad", "lse", "bias_grad")``) keeps working unchanged. The attribute
    ``.z_loss`` is always available (``None`` when not requested). ``_fields`` (on an instance: the names of its
    elements; on the class: all five), ``_asdict()`` and ``_replace()`` work as for a ``collections.namedtuple``;
    ``_replace(z_loss=...)`` adds or (with ``None``) removes the fifth element.
    """

    __slots__ = ()
    _all_fields = ("loss", "grad", "lse", "bias_grad", "z_loss")

    loss = _field(0, "The loss (scalar, ``(rows,)`` array, or ``out``).")
    grad = _field(1, "The gradient, or None.")
    lse = _field(2, "The per-row log-sum-exp, or None.")
    bias_grad = _field(3, "The sum of the gradient rows, or None.")
    z_loss = _field(4, "The z-loss (float64; reduced like the loss), or None when not requested.", tail=True)


class LinearCrossEntropyResult(_TailedResult):
    """``(loss, grad_hidden, grad_weight, grad_bias, lse)`` of :func:`xent.linear_cross_entropy`, and a sixth element
    ``z_loss`` only when ``return_z_loss=True`` was passed (as for :class:`CrossEntropyResult`).

    A named tuple: the fields not requested are ``None``; ``.z_loss`` is always available (``None`` when not
    requested). ``_fields``, ``_asdict()`` and ``_replace()`` work as for :class:`CrossEntropyResult`. A result
    can be passed back as ``out=`` to reuse its gradient (and lse) arrays.
    """

    __slots__ = ()
    _all_fields = ("loss", "grad_hidden", "grad_weight", "grad_bias", "lse", "z_loss")

    loss = _field(0, "The loss (a scalar of the dtype, or the ``(rows,)`` array for ``reduction='none'``).")
    grad_hidden = _field(1, "dloss/dhidden, ``(rows, dim)``, or None.")
    grad_weight = _field(2, "dloss/dweight, ``(classes, dim)``, or None.")
    grad_bias = _field(3, "dloss/dbias, ``(classes,)``, or None.")
    lse = _field(4, "The per-row log-sum-exp of the logits, ``(rows,)``, or None.")
    z_loss = _field(5, "The z-loss (float64; reduced like the loss), or None when not requested.", tail=True)


def _result(loss, grad, lse, bias, z_loss, one_d, scalar_loss):
    """The loss alone, or a CrossEntropyResult when anything else was asked for (scalars unwrapped)."""
    if grad is None and lse is None and bias is None and z_loss is None:
        return loss
    if lse is not None and one_d:
        lse = lse[0]
    if z_loss is not None and scalar_loss:
        z_loss = z_loss[0]
    return CrossEntropyResult(loss, grad, lse, bias, z_loss)
