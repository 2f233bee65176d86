"""What every simulator's command line shares: say where the device is, serve until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from typing import Any, Protocol


class Served(Protocol):
    async def start_tcp(self, host: str = ..., port: int = ...) -> str: ...

    async def start_pty(self) -> str: ...

    async def stop(self) -> None: ...


async def serve_until_signalled(sim: Served, tcp_port: int | None, pty: bool) -> None:
    """Serve on TCP (the default) and/or a pty, print each address as `tcp URL` / `pty PATH`, stop on SIGINT/SIGTERM."""
    if tcp_port is not None or not pty:
        print("tcp", await sim.start_tcp(port=tcp_port or 0), flush=True)
    if pty:
        print("pty", await sim.start_pty(), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def run(serve: Coroutine[Any, Any, None]) -> int:
    """Run a simulator's main coroutine; Ctrl-C is a normal end."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve)
    return 0
