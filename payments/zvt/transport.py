"""The byte link to the terminal: one abstract transport, TCP and serial implementations.

`open_transport(url)` picks the implementation: `tcp://host:port` is ZVT over TCP (raw APDUs);
anything else is a pyserial URL (device path, pty, `socket://`, `loop://`) with DLE framing.
All waits take an absolute deadline on the event loop clock (`loop.time()`).
"""

from __future__ import annotations

import abc
import asyncio
from dataclasses import dataclass

from .errors import CodecError

DEFAULT_TCP_PORT = 20007


@dataclass(frozen=True)
class ZvtTimers:
    """Protocol timers in seconds (zvt.md §8; ecrterm defaults)."""

    t1_inter_byte: float = 0.2  # serial: longest gap between two bytes of one frame
    t2_frame_ack: float = 15.0  # serial: wait for the ACK/NAK byte after sending a frame
    t3_ack: float = 5.0  # wait for 80 00 00 / 84 xx 00 after a command
    t4_dialogue: float = 180.0  # whole dialogue while the PT is master (extended by 04 FF timeouts)
    serial_retries: int = 3  # frame repetitions after a NAK or a missing ACK
    decide_s: float = 3.0  # how long the goods-issue decision may take before we answer "please wait"
    connect_s: float = 5.0  # opening a TCP connection

    def __post_init__(self) -> None:
        for name in ("t1_inter_byte", "t2_frame_ack", "t3_ack", "t4_dialogue", "decide_s", "connect_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"timer {name} must be positive")
        if self.serial_retries < 0:
            raise ValueError("serial_retries must not be negative")


def now() -> float:
    return asyncio.get_running_loop().time()


def remaining(deadline: float) -> float:
    return deadline - now()


class ZvtTransport(abc.ABC):
    """One link to one terminal; APDUs in and out."""

    url: str

    @property
    @abc.abstractmethod
    def is_open(self) -> bool: ...

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect; raises TerminalUnavailable when the terminal cannot be reached."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Disconnect; safe to call twice."""

    @abc.abstractmethod
    async def send(self, apdu: bytes, deadline: float) -> None:
        """Deliver one APDU; LinkError when it could not be delivered."""

    @abc.abstractmethod
    async def receive(self, deadline: float) -> bytes:
        """Next APDU. ReceiveTimeout when nothing started before `deadline`; LinkError when the link broke.

        A message that has started arriving is always read to its end (bounded by T1 per byte on
        serial), so a short deadline never cuts a message in half.
        """

    async def discard_input(self) -> bytes:
        """Drop late bytes from an earlier dialogue before a new command; returns what was dropped."""
        return b""


def parse_tcp_url(url: str) -> tuple[str, int]:
    """`tcp://host:port` -> (host, port); the port defaults to 20007."""
    rest = url.removeprefix("tcp://")
    host, sep, port = rest.rpartition(":")
    if not sep:
        host, port = rest, str(DEFAULT_TCP_PORT)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CodecError(f"{url!r}: expected tcp://host:port")
    return host, int(port)


def open_transport(
    url: str, *, timers: ZvtTimers | None = None, baudrate: int = 9600, stopbits: float = 2
) -> ZvtTransport:
    """A transport for `url` (not yet opened)."""
    timers = timers or ZvtTimers()
    if url.startswith("tcp://"):
        from .tcp import TcpTransport

        host, port = parse_tcp_url(url)
        return TcpTransport(host, port, timers=timers)
    from .serial_link import SerialLinkTransport

    return SerialLinkTransport(url, timers=timers, baudrate=baudrate, stopbits=stopbits)
