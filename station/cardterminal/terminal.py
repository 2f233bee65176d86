"""CardTerminal: one ZVT terminal, registered at start, polled while idle, closed daily.

The client allows one dialogue at a time; the idle poll (status enquiry every `idle_poll_s`)
skips while a payment runs. End-of-day runs from the station at the configured local time,
and its totals are reconciled with the payments the station booked (`reconcile.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from payments.zvt import EndOfDay, TerminalBusy, TerminalStatus, ZvtClient, ZvtError

from ..components import ComponentHealth, ProgressMixin, Status, cancel_tasks
from ..config.payment import PaymentConfig
from ..db.engine import Database

Reconcile = Callable[[Session, int, "int | None"], Any]
"""(session, terminal total in cents, count) -> a reconciliation with `as_dict()`; the purchase flow provides it."""

log = logging.getLogger(__name__)


class CardTerminal(ProgressMixin):
    name = "terminal"

    def __init__(
        self, config: PaymentConfig, db: Database, *, timezone: str = "Europe/Berlin", client: ZvtClient | None = None
    ) -> None:
        self.config = config
        self.db = db
        self.client = client or ZvtClient(config.zvt_settings())
        self.timezone = ZoneInfo(timezone)
        self.ready: bool | None = None
        self.status_text = "unknown"
        self.registered = False
        self.last_reconciliation: Any = None
        self.reconcile: Reconcile | None = None  # set by the purchase flow, which settles its sales
        self.payment_active = False  # set by the purchase flow: housekeeping stays off the terminal
        self._housekeeping = asyncio.Lock()  # held while a status enquiry or registration runs
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._idle_loop(), name="terminal-idle"),
            asyncio.create_task(self._end_of_day_loop(), name="terminal-eod"),
        ]

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        self._tasks = []
        await self.client.close()

    # -- housekeeping -------------------------------------------------------------------------
    async def _idle_loop(self) -> None:
        while True:
            if not self.client.busy and not self.payment_active:
                await self.poll_once()
            self.mark_progress()
            await asyncio.sleep(self.config.idle_poll_s)

    async def poll_once(self) -> TerminalStatus | None:
        """Register when needed, then a status enquiry; never raises."""
        async with self._housekeeping:
            return await self._poll()

    async def _poll(self) -> TerminalStatus | None:
        try:
            if not self.registered:
                result = await self.client.register()
                self.registered = result.ok
                if not result.ok:
                    self._set_status(False, result.describe())
                    return None
            status = await self.client.status_enquiry()
        except TerminalBusy:
            return None
        except ZvtError as exc:
            self.registered = False
            self._set_status(False, str(exc))
            return None
        if isinstance(status, TerminalStatus):
            self._set_status(status.ready, status.text)
            return status
        self._set_status(False, status.describe())
        return None

    def _set_status(self, ready: bool, text: str) -> None:
        if ready != self.ready:
            log.info("card terminal %s: %s", "ready" if ready else "not ready", text)
        self.ready, self.status_text = ready, text

    async def wait_idle(self, timeout_s: float) -> bool:
        """Wait for a housekeeping dialogue (status enquiry) to finish; True when the terminal is free."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self._housekeeping:
                pass
        return not self.client.busy

    async def ask(self, attempts: int = 0) -> bool:
        """Ask the terminal how it is (after an interrupted payment); True once it answered ready."""
        tries = 0
        while True:
            status = await self.poll_once()
            if status is not None:
                return status.ready
            tries += 1
            if attempts and tries >= attempts:
                return False
            await asyncio.sleep(min(10.0, 0.5 * tries))

    async def _end_of_day_loop(self) -> None:
        while True:
            await asyncio.sleep(self._seconds_until_end_of_day())
            try:
                await self.end_of_day()
            except Exception:  # a failed end-of-day is retried tomorrow; the alarm is raised inside
                log.exception("end-of-day failed")

    def _seconds_until_end_of_day(self, now: dt.datetime | None = None) -> float:
        now = now or dt.datetime.now(self.timezone)
        hour, minute = (int(x) for x in self.config.end_of_day.split(":"))
        due = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if due <= now:
            due += dt.timedelta(days=1)
        return (due - now).total_seconds()

    async def end_of_day(self) -> Any:
        """Close the terminal's batch and reconcile its totals with the station's booked payments."""
        for _ in range(60):  # wait for a running payment to finish rather than fail
            if not self.client.busy:
                break
            await asyncio.sleep(1.0)
        result = await self.client.end_of_day()
        if not isinstance(result, EndOfDay):
            log.error("end-of-day not done: %s", result.describe())
            return None
        if self.reconcile is None:
            log.warning("end-of-day: %d cents in %s transactions; no purchase flow to reconcile with",
                        result.total_cents, result.count)  # fmt: skip
            return None
        reconcile = self.reconcile
        self.last_reconciliation = await self.db.write_until_committed(
            lambda s: reconcile(s, result.total_cents, result.count), what="end-of-day"
        )
        return self.last_reconciliation

    # -- reporting ---------------------------------------------------------------------------------
    def health(self) -> ComponentHealth:
        available = self.client.availability.available
        status = Status.UP if self.ready else (Status.DOWN if available is False else Status.DEGRADED)
        detail: dict[str, Any] = {
            "ready": self.ready,
            "text": self.status_text,
            "busy": self.client.busy,
            "url": self.config.port,
        }
        if self.last_reconciliation is not None:
            detail["last_end_of_day"] = self.last_reconciliation.as_dict()
        return ComponentHealth(status, detail)

    def progress(self) -> float | None:
        last = super().progress()
        # A payment dialogue may legitimately hold the terminal for minutes (T4): count it as progress.
        return time.monotonic() if self.client.busy else last
