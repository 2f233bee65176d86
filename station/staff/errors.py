"""The one error type of the staff services; `code` maps to an HTTP answer in station/api/errors.py."""

from __future__ import annotations


class StaffError(Exception):
    """A log-in or staff action refused; the message is German for the screen.

    `retry_after_s` is set while a throttle pause runs (the API sends it as Retry-After).
    """

    def __init__(self, code: str, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_s = retry_after_s
