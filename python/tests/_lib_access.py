"""Test-only access to the package's internal ctypes layer."""

from xent._lib import last_error_message, status_string  # noqa: F401
