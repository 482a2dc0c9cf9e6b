"""The keyword arguments the public functions share: one default each, and the decorator that builds a function's
keyword-only signature from them (internal).

``@keywords("reduction ignore_index ...")`` on ``def f(x, labels, o, *, own=1)`` makes the public
``f(x, labels, *, own=1, reduction="mean", ignore_index=-100, ...)``: the named keywords reach ``f`` as one
namespace ``o`` (``o.reduction``, ...) holding the caller's values or the defaults below, and ``help()`` and
``inspect.signature`` show the whole signature. Wrong arguments raise ``TypeError`` as Python's own binding does.

The option defaults are the library's: ``xent_options_init`` (include/xent.h) fills a struct once at import.
"""

import functools
import inspect
import types

from . import _lib


def _library_defaults():
    o = _lib.default_options()
    names = {_lib.REDUCTION_NONE: "none", _lib.REDUCTION_SUM: "sum", _lib.REDUCTION_MEAN: "mean"}
    return dict(
        reduction=names[o.reduction],
        ignore_index=o.ignore_index,
        label_smoothing=float(o.label_smoothing),
        grad_scale=float(o.grad_scale),
        num_threads=o.num_threads,
        z_loss=float(o.z_loss),
        soft_cap=float(o.soft_cap),
        class_weights=None,  # a NULL pointer
        workspace_bytes=o.workspace_bytes,
        accumulate=bool(o.accumulate),
    )


#: The default of every shared keyword: the options (the library's), then what to compute and where to put it.
DEFAULTS = dict(
    _library_defaults(),
    bias=None,
    grad=False,
    return_lse=False,
    return_z_loss=False,
    bias_grad=False,
    out=None,
    grad_out=None,
)


def keywords(names):
    """Decorator: the function's parameter ``o`` becomes the keyword-only arguments ``names`` (space-separated,
    in the order the signature shows them) with their :data:`DEFAULTS`."""
    names = names.split()

    def decorate(fn):
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())
        at = [p.name for p in params].index("o")
        shared = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=DEFAULTS[n]) for n in names]
        public = sig.replace(parameters=params[:at] + params[at + 1 :] + shared)
        defaults = {n: DEFAULTS[n] for n in names}

        @functools.wraps(fn)
        def call(*args, **kwargs):
            if len(args) != at:  # a wrong number of positional arguments: binding says which
                try:
                    public.bind(*args, **kwargs)
                except TypeError as e:
                    raise TypeError(f"{fn.__name__}() {e}") from None
            o = dict(defaults)
            own = {}
            for k, v in kwargs.items():
                if k in o:
                    o[k] = v
                else:
                    own[k] = v  # the function's own keywords; an unknown one raises TypeError there
            return fn(*args, types.SimpleNamespace(**o), **own)

        call.__signature__ = public
        return call

    return decorate
