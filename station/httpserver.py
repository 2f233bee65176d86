"""uvicorn served inside the daemon's event loop (no thread, no signal handlers of its own)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import uvicorn

from .components import ComponentHealth, Status

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The daemon owns SIGTERM/SIGINT and stops us in order; uvicorn must not grab them.
        yield

    async def main_loop(self) -> None:
        """uvicorn's loop, woken once a second (for the Date header) or at once by `exit_requested`.

        uvicorn's own ticks ten times a second to notice `should_exit`: ten wake-ups a second of
        an otherwise idle station, for nothing.
        """
        counter = 0  # on_tick refreshes the Date header when counter % 10 == 0: one of its ticks is 0.1 s
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exit_requested.wait(), 1.0)


class HttpComponent:
    name = "http"

    def __init__(self, app: Any, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server = _EmbeddedServer(
            uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def bound_port(self) -> int | None:
        servers = getattr(self._server, "servers", None)
        if not servers:
            return None
        return servers[0].sockets[0].getsockname()[1]

    async def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name="http")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError(f"HTTP server could not listen on {self.host}:{self.port}")
            await asyncio.sleep(0.01)
        log.info("HTTP API on http://%s:%s/api/health (docs at /api/docs)", self.host, self.bound_port)

    async def _serve(self) -> None:
        try:
            await self._server.serve()
        except SystemExit as exc:  # uvicorn exits on bind failure; turn that into an error
            raise RuntimeError(f"HTTP server failed to start on {self.host}:{self.port}") from exc

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        self._server.exit_requested.set()
        try:
            await asyncio.wait_for(self._task, timeout=3)
        except (TimeoutError, RuntimeError):
            self._server.force_exit = True
            self._task.cancel()
        self._task = None

    def health(self) -> ComponentHealth:
        up = self._task is not None and not self._task.done()
        return ComponentHealth(Status.UP if up else Status.DOWN, {"port": self.bound_port})

    def progress(self) -> float | None:
        return None
