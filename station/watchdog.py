"""Health loop: proves the loop, the database and the device pollers progress; feeds systemd's watchdog.

WATCHDOG=1 is sent only when every check passed, so a hung database thread or a stalled
poller gets the daemon restarted by systemd instead of being papered over by a timer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from common.tasks import cancel_tasks

if TYPE_CHECKING:
    from .daemon import Station

log = logging.getLogger(__name__)

STALL_LIMIT_S = 60.0  # a poller that has not progressed for this long counts as hung
DB_PING_TIMEOUT_S = 5.0


class HealthLoop:
    name = "health"

    def __init__(self, station: Station, interval_s: float | None = None) -> None:
        self.station = station
        watchdog_s = station.notifier.watchdog_s
        self.interval_s = interval_s or (watchdog_s / 3 if watchdog_s else 10.0)
        self._task: asyncio.Task[None] | None = None
        self.last_ok: float | None = None
        self.last_problems: list[str] = []

    async def start(self) -> None:
        await self.check_once()
        self._task = asyncio.create_task(self._run(), name="health")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_tasks([self._task])
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check_once()
            except Exception:  # the health loop must never die of its own error
                log.exception("health check failed")

    async def check_once(self) -> list[str]:
        problems: list[str] = []
        started = time.monotonic()
        try:
            await asyncio.wait_for(self.station.db.ping(), DB_PING_TIMEOUT_S)
            await asyncio.wait_for(self.station.database.refresh(), DB_PING_TIMEOUT_S)
        except Exception as exc:
            problems.append(f"database: {exc!r}")
        now = time.monotonic()
        for component in self.station.components:
            progress = component.progress()
            if progress is not None and now - progress > STALL_LIMIT_S:
                problems.append(f"{component.name}: no progress for {now - progress:.0f} s")
        lag = time.monotonic() - started
        if problems != self.last_problems:
            if problems:
                log.error("health check failing: %s", "; ".join(problems))
            elif self.last_problems:
                log.info("health check passing again")
        self.last_problems = problems
        if not problems:
            self.last_ok = time.monotonic()
            self.station.notifier.watchdog()
        else:
            log.debug("health check took %.3f s", lag)
        return problems
