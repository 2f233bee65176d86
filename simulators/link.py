"""Byte links for simulators: the device side of a pty pair, or of a TCP connection.

A driver opens the pty's slave path (or `socket://host:port`) exactly as it would open
real hardware; the simulator reads and writes the other end through a `SimLink`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Awaitable, Callable
from typing import Self


class SimLink:
    """Duplex byte stream seen from the simulated device."""

    async def read(self) -> bytes:
        """Next chunk of bytes from the driver; b"" when the link is closed."""
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    async def drain(self) -> None:
        """Wait until written bytes have left (no-op where writes are immediate)."""

    def close(self) -> None:
        raise NotImplementedError


class PtyLink(SimLink):
    """Master side of a raw pty; `path` is what the driver opens."""

    def __init__(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: bytes pass unchanged
        tty.setraw(self.master)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._on_readable)
        self._closed = False

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: nobody has the slave open right now; wait for the next open
            data = b""
            self._loop.remove_reader(self.master)
            self._loop.call_later(0.05, self._rearm)
            return
        if data:
            self._queue.put_nowait(data)

    def _rearm(self) -> None:
        if not self._closed:
            self._loop.add_reader(self.master, self._on_readable)

    async def read(self) -> bytes:
        if self._closed:
            return b""
        return await self._queue.get()

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master, view)
            except BlockingIOError:
                continue
            view = view[written:]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self.master)
        self._queue.put_nowait(b"")
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class StreamLink(SimLink):
    """One TCP connection accepted by a simulator."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    async def read(self) -> bytes:
        try:
            return await self._reader.read(4096)
        except ConnectionError:
            return b""

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._writer.drain()

    def close(self) -> None:
        self._writer.close()


async def serve_tcp(
    handler: Callable[[SimLink], Awaitable[None]], host: str = "127.0.0.1", port: int = 0
) -> asyncio.Server:
    """Accept TCP connections and run `handler(link)` for each; port 0 picks a free port."""

    async def _on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = StreamLink(reader, writer)
        try:
            await handler(link)
        finally:
            link.close()

    return await asyncio.start_server(_on_connect, host, port)


def server_port(server: asyncio.Server) -> int:
    return server.sockets[0].getsockname()[1]


class LinkServer:
    """What every byte-link simulator shares: serve its device on ptys and TCP, stop them all.

    A subclass implements `_serve(link)` (the device's side of one link) and names its tasks with
    `task_prefix`. `_late` holds replies scheduled for later (late-reply faults); `stop` drops them.
    """

    task_prefix = "sim"

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []
        self._links: list[SimLink] = []
        self._servers: list[asyncio.Server] = []
        self._late: list[asyncio.TimerHandle] = []

    async def _serve(self, link: SimLink) -> None:
        raise NotImplementedError

    async def start_pty(self) -> str:
        """Serve a new raw pty; returns the path the driver opens."""
        link = PtyLink()
        self._links.append(link)
        self._tasks.append(asyncio.create_task(self._serve(link), name=f"{self.task_prefix}-pty-{link.path}"))
        return link.path

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve raw TCP (a network device or an RS485-to-Ethernet bridge); returns the `socket://` URL."""

        async def _handler(link: SimLink) -> None:
            self._links.append(link)
            await self._serve(link)

        server = await serve_tcp(_handler, host, port)
        self._servers.append(server)
        return f"socket://{host}:{server_port(server)}"

    async def stop(self) -> None:
        """Close every link and server; pending late replies are dropped."""
        for handle in self._late:
            handle.cancel()
        for server in self._servers:
            server.close()
        for link in self._links:
            link.close()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._tasks.clear()
        self._links.clear()
        self._servers.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
