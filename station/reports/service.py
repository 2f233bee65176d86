"""The end-of-day report as a daemon component: sent to the platform daily, and on request.

Each day at `[staff] end_of_day_report_at` (local time) the previous day's report goes to the
outbox, once: the last day sent is kept in `station_meta`, so a station that was off at that
time sends it when it starts again. A volunteer may send a day's report any time through the API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers.fridge import load_map

from ..clock import Clock
from ..coldchain.limits import zone_thresholds
from ..components import ComponentHealth, Status, cancel_tasks
from ..config import Config
from ..db.engine import Database
from ..db.models import StationMeta
from ..tasks import DeviceState, TaskContext, open_tasks
from . import endofday, temperatures
from .endofday import ProbeOfZone
from .temperatures import ZoneLimits

log = logging.getLogger(__name__)

LAST_SENT = "report.end_of_day.last_day"
Devices = Callable[[], dict[str, str]]  # component name -> up | degraded | down


def zone_probes(config: Config) -> list[ProbeOfZone]:
    """The product probe of every controller, with its zone (what the report's temperatures are made of)."""
    found = []
    for name, fridge in config.fridges.items():
        probe = fridge.product_probe
        if probe is None:
            try:
                probe = load_map(fridge.model).product_probe
            except Exception:  # a map that does not load is reported by the cold chain; skip it here
                continue
        found.append(ProbeOfZone(name, probe, fridge.zone))
    return found


def zone_limits(config: Config) -> dict[str, ZoneLimits]:
    """Each zone's limit and tolerated brief-rise ceiling, as the cold chain applies them (none: ambient)."""
    out = {}
    for name, zone in config.zones.items():
        found = zone_thresholds(name, zone)
        out[name] = ZoneLimits(found.limit_c, found.tolerated_c) if found else ZoneLimits(None, None)
    return out


class EndOfDayReports:
    name = "reports"

    def __init__(self, config: Config, db: Database, clock: Clock, *, devices: Devices | None = None,
                 run_loop: bool = True) -> None:
        self.db, self.clock = db, clock
        self.settings = config.staff
        self.probes = zone_probes(config)
        self.limits = zone_limits(config)
        self.devices = devices or (lambda: {})
        self.run_loop = run_loop
        self._tasks: list[asyncio.Task[None]] = []
        self.last_sent: str | None = None

    async def start(self) -> None:
        self.last_sent = await self.db.read(_last_sent)
        if self.last_sent is None:  # a new station: the first report is for its first whole day
            first = (self.clock.now().astimezone(self.clock.tz).date() - timedelta(days=1)).isoformat()
            await self.db.write(partial(_set_last_sent, day=first))
            self.last_sent = first
        if self.run_loop:
            self._tasks.append(asyncio.create_task(self._daily(), name="report-end-of-day"))

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        self._tasks = []

    def task_context(self) -> TaskContext:
        now = self.clock.now()
        devices = [DeviceState(name, status) for name, status in self.devices().items()]
        return TaskContext(now=now, today=self.clock.today(), tz=self.clock.tz,
                           warning_days=self.settings.expiry_warning_days, devices=devices)  # fmt: skip

    async def tasks(self) -> list[Any]:
        context = self.task_context()
        return await self.db.read(lambda s: open_tasks(s, context))

    async def build(self, day: date) -> dict[str, Any]:
        context = self.task_context()

        def read(session: Session) -> dict[str, Any]:
            return endofday.report(session, day, self.clock.tz, self.probes, open_tasks(session, context),
                                   now=context.now)  # fmt: skip

        return await self.db.read(read)

    async def temperatures(self, hours: int, buckets: int) -> dict[str, Any]:
        """The last `hours` per fridge in `buckets` time slices, with the zones' limits (the volunteers' chart)."""
        end = self.clock.now()
        start = end - timedelta(hours=hours)
        fridges = await self.db.read(lambda s: temperatures.chart(s, self.probes, self.limits, start, end, buckets))
        return {"since": start.isoformat(), "until": end.isoformat(), "fridges": fridges}

    async def send(self, day: date, *, actor: str) -> dict[str, Any]:
        """Build and send one day's report (event `report.end_of_day`); returns its payload."""
        data = await self.build(day)

        def write(session: Session) -> dict[str, Any]:
            payload = endofday.record(session, data, actor=actor)
            if actor == "system":
                _set_last_sent(session, day.isoformat())
            return payload

        payload = await self.db.write(write)
        if actor == "system":
            self.last_sent = day.isoformat()
        log.info("end-of-day report for %s sent to the platform (by %s)", day, actor)
        return payload

    # -- daily ------------------------------------------------------------------------------------------
    def due_day(self, now: datetime) -> date | None:
        """The day whose report is due now and not sent yet (yesterday, once the report time has passed)."""
        local = now.astimezone(self.clock.tz)
        hour, minute = (int(x) for x in self.settings.end_of_day_report_at.split(":"))
        yesterday = local.date() - timedelta(days=1)
        if (local.hour, local.minute) < (hour, minute) or self.last_sent == yesterday.isoformat():
            return None
        return yesterday

    async def _daily(self) -> None:
        while True:
            day = self.due_day(self.clock.now())
            if day is not None:
                try:
                    await self.send(day, actor="system")
                except Exception:  # storage failing: the next round tries again
                    log.exception("end-of-day report for %s not sent", day)
            await asyncio.sleep(60)

    def health(self) -> ComponentHealth:
        return ComponentHealth(Status.UP, {"last_sent_day": self.last_sent})

    def progress(self) -> float | None:
        return None


def _last_sent(session: Session) -> str | None:
    return session.scalar(select(StationMeta.value).where(StationMeta.key == LAST_SENT))


def _set_last_sent(session: Session, day: str) -> None:
    row = session.get(StationMeta, LAST_SENT)
    if row is None:
        session.add(StationMeta(key=LAST_SENT, value=day))
    else:
        row.value = day

