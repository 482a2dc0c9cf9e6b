"""The exception of failed library calls, and the status check after each call (internal)."""

from . import _lib


class XentError(ValueError):
    """A libxent call failed. ``status`` is the ``xent_status`` code, ``status_name`` its
    ``xent_status_string``, ``detail`` the library's ``xent_last_error_message()``."""

    def __init__(self, function, status, detail):
        self.function = function
        self.status = status
        self.status_name = _lib.status_string(status)
        self.detail = detail
        super().__init__(f"{function}: {self.status_name}" + (f": {detail}" if detail else ""))


def _check(fn_name, status):
    if status != _lib.OK:
        detail = _lib.last_error_message()  # same thread, right after the failed call
        raise XentError(fn_name, status, detail)


def _all_available(names):
    """True when the loaded library has every optional function of ``names``."""
    return all(_lib.optional_function(n) is not None for n in names)


def _require_function(name, needs):
    """The optional function ``name`` of the loaded library, or an ``ERR_UNSUPPORTED`` :class:`XentError` whose
    message ends with ``needs`` (what needs which version)."""
    fn = _lib.optional_function(name)
    if fn is None:
        raise XentError(
            name,
            _lib.ERR_UNSUPPORTED,
            f"the loaded library {_lib.LIBRARY_PATH} (version {_lib.LIBRARY_VERSION}) has no {name}; {needs} "
            "(rebuild with `make lib` and reinstall, or point XENT_LIBRARY at a newer library)",
        )
    return fn
