"""Shared building blocks for configuration sections."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

_SERIAL_SCHEMES = ("socket", "loop", "rfc2217", "spy", "hwgrep", "alt")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Section(BaseModel):
    """Every config section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_serial_url(value: str) -> str:
    """A pyserial URL: a device path (/dev/ttyUSB0, a pty) or scheme://… that pyserial knows."""
    if value.startswith("/"):
        return value
    scheme, sep, _rest = value.partition("://")
    if not sep or scheme not in _SERIAL_SCHEMES:
        raise ValueError(
            f"{value!r} is not a serial port: use a device path such as /dev/ttyUSB0 "
            f"or a pyserial URL ({', '.join(s + '://' for s in _SERIAL_SCHEMES)})"
        )
    return value


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a valid name: letters, digits, '-', '_', '.'; at most 64")
    return value


SerialUrl = Annotated[str, AfterValidator(_check_serial_url)]
Name = Annotated[str, AfterValidator(_check_name)]
