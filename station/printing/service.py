"""PrintService: the receipt printer's queue, its status, and its alarms, as a daemon component.

One task owns the printer. Each cycle (woken by a new job, else every `status_poll_s`): expire jobs
too old to print, ask the status (`DLE EOT`: no answer is a fault, never "ok"), raise or clear the
printer's alarms (paper near end, paper out, cover open, not answering: a volunteer task each), and
while the printer is ready send the oldest job. Each job's `sending` is committed before its first
byte goes out (`flow.PRINT_JOB`), so nothing is printed twice and a sale or a return never waits
for paper: the digital receipt exists before the job is even queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from drivers.printer import DuplicateJob, Fault, Printer, PrinterFault, PrinterStatus, PrintFailed, PrintRefused

from .. import crashpoints
from ..components import ComponentHealth, ProgressMixin, Status, cancel_tasks
from ..config.printer import PrinterConfig
from ..db.engine import Database, StorageUnavailable
from ..db.models import Alarm
from ..db.returns_models import PrintJob, Receipt
from ..db.types import utcnow
from ..flows.engine import recover, transition
from ..journal import clear_alarm, raise_alarm
from .desk import ReceiptDesk
from .flow import PRINT_JOB, PrintState

log = logging.getLogger(__name__)

SUBJECT = "printer:receipt"
NEAR_END = "printer.paper_near_end"
# What each fault means for the volunteers: one alarm kind (one task) per thing to do on site.
FAULT_ALARMS = {
    Fault.PAPER_OUT: "printer.paper_out",
    Fault.COVER_OPEN: "printer.cover_open",
    Fault.NO_ANSWER: "printer.no_answer",
    Fault.INVALID_REPLY: "printer.no_answer",
    Fault.PORT_UNAVAILABLE: "printer.unreachable",
}
OTHER_FAULT = "printer.error"  # offline, cutter, recoverable or unrecoverable error
ALARM_KINDS = frozenset({NEAR_END, OTHER_FAULT, *FAULT_ALARMS.values()})


def alarms_for(status: PrinterStatus) -> dict[str, dict[str, Any]]:
    """The printer alarms a status calls for: kind -> details (pure)."""
    wanted: dict[str, dict[str, Any]] = {}
    for fault in status.faults:
        wanted.setdefault(FAULT_ALARMS.get(fault, OTHER_FAULT), {"fault": fault.value, "detail": status.detail})
    if status.paper_near_end:
        wanted[NEAR_END] = {"fault": "paper_near_end"}
    return wanted


class PrintService(ProgressMixin):
    name = "printer"

    def __init__(
        self,
        config: PrinterConfig,
        db: Database,
        desk: ReceiptDesk,
        *,
        printer: Printer | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config, self.db, self.desk = config, db, desk
        self.printer = printer or Printer(config.port, name="receipt-printer", **config.driver_options())
        self.last_status: PrinterStatus | None = None
        self.queued = 0
        self.printed = 0
        self.cycles = 0  # completed queue cycles (each looked at the printer and the queue)
        self._clock = clock
        self._alarms: set[str] | None = None  # printer alarms open in the database (None: not read yet)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="printer-queue")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_tasks([self._task])
            self._task = None
        with contextlib.suppress(Exception):
            await self.printer.stop()

    def wake(self) -> None:
        """A job was queued (committed): look at the queue now."""
        if self._wake is not None:
            self._wake.set()

    # -- recovery (one action per non-final job state) -----------------------------------------------
    async def on_queued(self, job_id: str) -> None:
        """Nothing to do: the queue sends it or lets it expire."""

    async def on_sending(self, job_id: str) -> None:
        await self.db.write(lambda s: transition(s, PRINT_JOB, job_id, PrintState.UNCONFIRMED, reason="print",
                                                 reference=job_id, why="interrupted while sending", recovered=True))

    # -- the loop -------------------------------------------------------------------------------------
    async def _run(self) -> None:
        recovered = False
        while True:
            try:
                if not recovered:
                    await recover(await self.db.read(PRINT_JOB.unfinished), PRINT_JOB, self)
                    recovered = True
                await self.cycle()
            except asyncio.CancelledError:
                raise
            except StorageUnavailable as exc:
                log.warning("print queue: storage unavailable (%s); retrying", exc)
            except Exception:
                log.exception("print queue cycle failed")
            self.mark_progress()
            assert self._wake is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.status_poll_s)
            self._wake.clear()

    async def cycle(self) -> None:
        """Expire old jobs, read the status, update alarms, send what is due while the printer is ready."""
        await self.db.write(self._expire_old)
        status = await self.printer.status()
        await self._update_alarms(status)
        while status.ok:
            job = await self.db.read(_oldest_queued)
            if job is None:
                break
            status = await self._send(*job)
        self.queued = await self.db.read(_count_queued)
        self.cycles += 1

    def _expire_old(self, session: Session) -> int:
        limit = utcnow() - timedelta(seconds=self.config.job_max_age_s)
        old = list(session.scalars(select(PrintJob.id).where(PrintJob.state == PrintState.QUEUED.value,
                                                               PrintJob.created_at < limit)))
        for job_id in old:
            transition(session, PRINT_JOB, job_id, PrintState.EXPIRED, reason="print", reference=job_id,
                       why=f"older than {self.config.job_max_age_s:g} s when the printer could take it")
        return len(old)

    async def _send(self, job_id: str, receipt_id: str) -> PrinterStatus:
        """Send one job; returns the status after it (decides whether the next one goes)."""
        receipt = await self.db.read(lambda s: s.get_one(Receipt, receipt_id))
        data = self.desk.escpos(receipt)
        await self.db.write(lambda s: transition(s, PRINT_JOB, job_id, PrintState.SENDING,
                                                 expect={PrintState.QUEUED}))
        crashpoints.reached("print_job.sending")
        try:
            result = await self.printer.print_job(job_id, data)
        except PrintRefused as exc:  # nothing was sent: it stays in the queue for when the printer is ready
            await self._finish(job_id, PrintState.QUEUED, exc)
            return exc.status
        except PrinterFault as exc:  # PrintFailed: sent, not confirmed; never sent again
            await self._finish(job_id, PrintState.UNCONFIRMED, exc)
            return exc.status
        except DuplicateJob as exc:
            await self._finish(job_id, PrintState.UNCONFIRMED, exc)
            return self.last_status or await self.printer.status()
        await self._finish(job_id, PrintState.PRINTED, None)
        self.printed += 1
        crashpoints.reached("print_job.printed")
        return result.after

    async def _finish(self, job_id: str, state: PrintState, error: Exception | None) -> None:
        status = error.status if isinstance(error, PrinterFault) else None

        def write(session: Session) -> None:
            values: dict[str, Any] = {"error": None if error is None else str(error)[:500]}
            if isinstance(error, PrintRefused):
                values["attempts"] = PrintJob.attempts + 1
            session.execute(update(PrintJob).where(PrintJob.id == job_id).values(**values))
            details: dict[str, Any] = {} if error is None else {"error": str(error)[:200]}
            transition(session, PRINT_JOB, job_id, state, reason="print", reference=job_id, **details)

        await self.db.write_until_committed(write, what=f"print job {job_id} {state}")
        if isinstance(error, PrintFailed):
            log.warning("print job %s not confirmed: %s", job_id, error)
        if status is not None:
            await self._update_alarms(status)

    async def _update_alarms(self, status: PrinterStatus) -> None:
        """Raise and clear the printer's alarms so they match `status` (a write only when something changed)."""
        self.last_status = status
        wanted = alarms_for(status)
        if self._alarms is None:
            self._alarms = set(await self.db.read(_open_printer_alarms))
        if set(wanted) == self._alarms:
            return

        def write(session: Session) -> None:
            for kind in sorted(set(wanted) - self._alarms_or_empty()):
                severity = "warning" if kind == NEAR_END else "critical"
                raise_alarm(session, kind, SUBJECT, severity=severity, details=wanted[kind])
            for kind in sorted(self._alarms_or_empty() - set(wanted)):
                clear_alarm(session, kind, SUBJECT, details={"status": status.as_dict()["replies"]})

        await self.db.write(write)
        self._alarms = set(wanted)

    def _alarms_or_empty(self) -> set[str]:
        return self._alarms or set()

    # -- reporting ---------------------------------------------------------------------------------------
    def health(self) -> ComponentHealth:
        status = self.last_status
        ok = status is not None and status.ok
        detail: dict[str, Any] = {
            "port": self.printer.port,
            "fault": None if status is None or status.fault is None else status.fault.value,
            "paper_near_end": bool(status and status.paper_near_end),
            "queued": self.queued,
            "printed": self.printed,
        }
        return ComponentHealth(Status.UP if ok else Status.DEGRADED, detail)


def _oldest_queued(session: Session) -> tuple[str, str] | None:
    row = session.execute(
        select(PrintJob.id, PrintJob.receipt_id).where(PrintJob.state == PrintState.QUEUED.value)
        .order_by(PrintJob.created_at, PrintJob.id).limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def _count_queued(session: Session) -> int:
    return len(list(session.scalars(select(PrintJob.id).where(PrintJob.state == PrintState.QUEUED.value))))


def _open_printer_alarms(session: Session) -> list[str]:
    return list(session.scalars(select(Alarm.kind).where(Alarm.subject == SUBJECT, Alarm.state == "raised",
                                                         Alarm.kind.in_(sorted(ALARM_KINDS)))))
