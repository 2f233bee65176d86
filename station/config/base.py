"""Shared building blocks for configuration sections: names, hosts, TCP endpoints, serial URLs."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict

_SERIAL_SCHEMES = ("socket", "loop", "rfc2217", "spy", "hwgrep", "alt")
_NETWORK_SCHEMES = ("socket", "rfc2217")  # scheme://host:port, both need the port
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class Section(BaseModel):
    """Every config section: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LocatedErrors(ValueError):
    """Several problems found by one validator, each at its own key path below the model.

    `validate_config` reports each one separately, with its TOML path and line.
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))


def check_host(value: str) -> str:
    """A host name (RFC 1123) or an IPv4/IPv6 address; `[::1]` brackets are allowed."""
    if not value.strip():
        raise ValueError("the host is empty: give a name or an address such as 127.0.0.1")
    try:
        ipaddress.ip_address(value.removeprefix("[").removesuffix("]"))
        return value
    except ValueError:
        pass
    labels = value.removesuffix(".").split(".")
    if labels[-1].isdigit():  # all-numeric top label: meant as an IPv4 address, and not a valid one
        raise ValueError(f"{value!r} is not a valid IPv4 address (four numbers 0-255)")
    if len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{value!r} is not a valid host name or IP address")
    return value


def check_port_number(port: int) -> int:
    if not 0 < port < 65536:
        raise ValueError(f"TCP port {port} is out of range (1-65535)")
    return port


def split_host_port(text: str, default_port: int | None = None) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) -> (host, port), every part checked; raises ValueError naming the fault."""
    port_text: str | None
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: expected [address]:port")
        port_text = rest[1:] if rest else None
    elif text.count(":") > 1:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, [address]:port")
    else:
        host, sep, port_text = text.partition(":")
        port_text = port_text if sep else None
    if port_text is None:
        if default_port is None:
            raise ValueError(f"{text!r}: the port is missing (host:port)")
        return check_host(host), default_port
    if not port_text.isdigit():
        raise ValueError(f"{text!r}: the port {port_text!r} is not a number")
    return check_host(host), check_port_number(int(port_text))


def check_serial_url(value: str) -> str:
    """A pyserial URL: a device path (/dev/ttyUSB0, a pty) or scheme://… that pyserial knows."""
    if value.startswith("/"):
        return value
    scheme, sep, _rest = value.partition("://")
    if not sep or scheme not in _SERIAL_SCHEMES:
        raise ValueError(
            f"{value!r} is not a serial port: use a device path such as /dev/ttyUSB0 "
            f"or a pyserial URL ({', '.join(s + '://' for s in _SERIAL_SCHEMES)})"
        )
    if scheme in _NETWORK_SCHEMES:
        split_host_port(urlsplit(value).netloc)
    return value


def check_tcp_url(value: str) -> str:
    """`tcp://host:port` with a valid host and a port 1-65535."""
    if not value.startswith("tcp://"):
        raise ValueError(f"{value!r}: expected tcp://host:port")
    split_host_port(value.removeprefix("tcp://"))
    return value


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"{value!r} is not a valid name: letters, digits, '-', '_', '.'; at most 64")
    return value


SerialUrl = Annotated[str, AfterValidator(check_serial_url)]
Name = Annotated[str, AfterValidator(_check_name)]
Host = Annotated[str, AfterValidator(check_host)]
