"""ZVT over TCP: raw APDUs, read by their length (TCP may split or merge them), with keepalive."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from .apdu import parse_length
from .errors import LinkError, ReceiveTimeout, TerminalUnavailable
from .transport import ZvtTimers, ZvtTransport

log = logging.getLogger(__name__)

# Half-open links (terminal rebooted, NAT dropped) are found within about idle + count * interval.
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 30, 10, 3


def _enable_keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE_S),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL_S),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)
        if option is not None:  # not every platform has all three
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, option, value)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class TcpTransport(ZvtTransport):
    def __init__(self, host: str, port: int, *, timers: ZvtTimers | None = None) -> None:
        self.host, self.port = host, port
        self.url = f"tcp://{host}:{port}"
        self.timers = timers or ZvtTimers()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def open(self) -> None:
        if self.is_open:
            return
        try:
            async with asyncio.timeout(self.timers.connect_s):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            raise TerminalUnavailable(f"{self.url}: cannot connect: {exc or 'timed out'}") from exc
        sock = writer.get_extra_info("socket")
        if sock is not None:
            _enable_keepalive(sock)
        self._reader, self._writer = reader, writer

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()

    def _streams(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            raise LinkError(f"{self.url}: not connected")
        return self._reader, self._writer

    async def send(self, apdu: bytes, deadline: float) -> None:
        _reader, writer = self._streams()
        try:
            writer.write(apdu)
            async with asyncio.timeout_at(deadline):
                await writer.drain()
        except (OSError, TimeoutError) as exc:
            await self.close()
            raise LinkError(f"{self.url}: send failed: {exc or 'timed out'}") from exc

    async def receive(self, deadline: float) -> bytes:
        reader, _writer = self._streams()
        try:
            async with asyncio.timeout_at(deadline):
                header = await reader.readexactly(3)  # nothing is consumed if this times out
        except TimeoutError:
            raise ReceiveTimeout(f"{self.url}: nothing received") from None
        except (asyncio.IncompleteReadError, OSError) as exc:
            await self.close()
            raise LinkError(f"{self.url}: connection closed by the terminal") from exc
        # A started APDU is read to its end; a terminal that stops mid-APDU has broken the stream.
        try:
            async with asyncio.timeout(self.timers.t3_ack):
                if parse_length(header) is None:
                    header += await reader.readexactly(2)
                sizes = parse_length(header)
                assert sizes is not None
                data = await reader.readexactly(sizes[1])
        except (TimeoutError, asyncio.IncompleteReadError, OSError) as exc:
            await self.close()
            raise LinkError(f"{self.url}: APDU {header[:2].hex(' ')} cut short") from exc
        return header + data

    async def discard_input(self) -> bytes:
        reader = self._reader
        if reader is None:
            return b""
        dropped = bytearray()
        while True:
            try:
                async with asyncio.timeout(0):
                    chunk = await reader.read(4096)
            except TimeoutError:
                break
            if not chunk:  # the terminal closed the connection while we were idle
                await self.close()
                break
            dropped += chunk
        if dropped:
            log.warning("%s: dropped %d late bytes: %s", self.url, len(dropped), dropped.hex(" "))
        return bytes(dropped)
