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
