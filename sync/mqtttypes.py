"""Options, messages and errors of the MQTT bridge (no paho here: importable anywhere in sync)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConnectError(Exception):
    """The broker could not be reached or refused the connection."""


class ProtocolRejected(ConnectError):
    """The broker does not speak the protocol version we offered (e.g. NATS refuses MQTT 5)."""


class NotConnected(Exception):
    """Publish or subscribe on a connection that is not (or no longer) up."""


class SubscribeRefused(NotConnected):
    """The broker refused some subscriptions (SUBACK failure code) or did not answer in time."""

    def __init__(self, message: str, topics: list[tuple[str, int]]) -> None:
        super().__init__(message)
        self.topics = topics  # the ones still to ask for


@dataclass(frozen=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class ConnectOptions:
    client_id: str
    clean: bool = False
    username: str | None = None
    password: str | None = None
    tls: TlsFiles | None = None
    keepalive_s: int = 30
    session_expiry_s: int = 0
    will: Will | None = None
    connect_timeout_s: float = 10.0
    inflight: int = 0  # paho's own cap on QoS 1 in flight; 0 = none (the owner keeps its own window)


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    correlation: bytes | None = None


@dataclass
class ConnectResult:
    session_present: bool
    protocol: str
    receive_maximum: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ReadBuffer:
    """Serves paho's 1-byte and header-sized reads from one 64 KiB recv.

    paho reads every packet with three or four recv() calls (type byte, each length byte, body);
    at thousands of PUBACKs a second those system calls dominate. Installed as the client's
    `_sock_recv` (paho 2.x internal, checked at start-up; without it paho reads as before).
    """

    def __init__(self, raw_recv: Callable[[int], bytes]) -> None:
        self._raw_recv = raw_recv
        self._data = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._data):
            data = self._raw_recv(65536)  # BlockingIOError / OSError propagate to paho unchanged
            if not data:
                return data
            self._data, self._pos = data, 0
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def pending(self) -> bool:
        return self._pos < len(self._data)
