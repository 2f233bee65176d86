"""Async byte transport over any pyserial URL.

Blocking pyserial calls run in one named worker thread per port, so the event
loop never blocks and a port never piles up threads. Works unchanged with a
real adapter (`/dev/ttyUSB0`), a pty path, `socket://host:port` and `loop://`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import serial

T = TypeVar("T")

TraceHook = Callable[[str, bytes], None]
"""Called with ("tx" | "rx", bytes) for every write and every non-empty read."""

ReadFn = Callable[[int, float], bytes]
"""read(size, timeout): up to `size` bytes within `timeout` seconds (may return fewer); worker thread only."""


class TransportError(Exception):
    """The port could not be opened, or failed while in use."""


class SerialTransport:
    """One serial line (or TCP bridge) with async open/write/read and exact-length reads."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 19200,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        name: str | None = None,
        trace: TraceHook | None = None,
    ) -> None:
        self.url = url
        self.name = name or url
        self.trace = trace
        self._settings: dict[str, Any] = {
            "baudrate": baudrate,
            "bytesize": bytesize,
            "parity": parity,
            "stopbits": stopbits,
        }
        self._port: serial.SerialBase | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def is_open(self) -> bool:
        return self._port is not None and self._port.is_open

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"serial-{self.name}"
            )
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"{self.url}: {exc}") from exc

    async def open(self) -> None:
        """Open the port; raises TransportError when it cannot be opened."""
        if self.is_open:
            return

        def _open() -> serial.SerialBase:
            return serial.serial_for_url(self.url, timeout=0, write_timeout=2, **self._settings)

        self._port = await self._call(_open)

    async def close(self) -> None:
        """Close the port and stop its worker thread; safe to call twice."""
        port, self._port = self._port, None
        if port is not None:
            try:
                await self._call(port.close)
            except TransportError:
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def _require(self) -> serial.SerialBase:
        if self._port is None:
            raise TransportError(f"{self.url}: port is not open")
        return self._port

    async def write(self, data: bytes) -> None:
        await self._call(_write, self._require(), data)
        if self.trace:
            self.trace("tx", data)

    async def reset_input(self) -> bytes:
        """Drop whatever is waiting in the input buffer (noise, late replies); returns what was dropped."""
        junk: bytes = await self._call(_drain, self._require())
        if junk and self.trace:
            self.trace("rx-dropped", junk)
        return junk

    async def exchange(self, data: bytes, collect: Callable[[ReadFn], T]) -> tuple[bytes, float, T]:
        """Flush input, write `data`, then run `collect(read)`: a whole request and reply in one worker call.

        Returns (the input dropped before the write, time.monotonic() after the write, what `collect`
        returned). One hop to the worker thread instead of one per read keeps an idle, polled line
        cheap. `collect` runs in the worker thread: it must only read and compute.
        """
        port = self._require()
        done: dict[str, bytes] = {"rx-dropped": b"", "tx": b""}  # traced even when a read fails
        received: list[bytes] = []

        def _exchange() -> tuple[bytes, float, T]:
            done["rx-dropped"] = junk = _drain(port)
            _write(port, data)
            done["tx"] = data
            sent_at = time.monotonic()
            return junk, sent_at, collect(functools.partial(_read_into, received, port))

        try:
            outcome: tuple[bytes, float, T] = await self._call(_exchange)
            return outcome
        finally:
            self._trace_exchange(done["rx-dropped"], done["tx"], received)

    async def collect(self, collect: Callable[[ReadFn], T]) -> T:
        """Run `collect(read)` in the worker thread: a reply read in one hop (see `exchange`)."""
        port = self._require()
        received: list[bytes] = []
        try:
            result: T = await self._call(lambda: collect(functools.partial(_read_into, received, port)))
            return result
        finally:
            self._trace_exchange(b"", b"", received)

    def _trace_exchange(self, junk: bytes, sent: bytes, received: list[bytes]) -> None:
        if self.trace:
            if junk:
                self.trace("rx-dropped", junk)
            if sent:
                self.trace("tx", sent)
            for chunk in received:
                self.trace("rx", chunk)

    async def read_exact(self, size: int, timeout: float) -> bytes:  # noqa: ASYNC109 (pyserial enforces it)
        """Read up to `size` bytes, waiting at most `timeout` seconds in total; may return fewer."""
        data: bytes = await self._call(_read, self._require(), size, timeout)
        if data and self.trace:
            self.trace("rx", data)
        return data


# The port's steps, run in its worker thread only (one at a time, so the port needs no lock).


def _write(port: serial.SerialBase, data: bytes) -> None:
    port.write(data)
    port.flush()


def _drain(port: serial.SerialBase) -> bytes:
    """Read and drop what waits in the input buffer; returns it."""
    waiting = port.in_waiting
    junk = bytes(port.read(waiting)) if waiting else b""
    port.reset_input_buffer()
    return junk


def _read(port: serial.SerialBase, size: int, timeout: float) -> bytes:
    """Up to `size` bytes within `timeout` seconds; the port is left non-blocking again."""
    port.timeout = max(0.0, timeout)
    try:
        return bytes(port.read(size))
    finally:
        port.timeout = 0


def _read_into(received: list[bytes], port: serial.SerialBase, size: int, timeout: float) -> bytes:
    """`_read`, keeping each non-empty chunk for the trace."""
    chunk = _read(port, size, timeout)
    if chunk:
        received.append(chunk)
    return chunk
