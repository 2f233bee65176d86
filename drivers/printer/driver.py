"""Printer: the async driver of one ESC/POS receipt printer.

One lock per printer: a status round or a job at a time, never a status query inside a job's
bytes. Status: flush input, write `DLE EOT n`, read exactly one byte within `status_timeout_s`
(n = 1, 2, 4 before a job; 1, 2, 3, 4 after it). No byte, or a byte that is not a status byte,
is a fault and never "OK". A job is refused before a single byte is sent when the printer is
not ready; a job whose bytes went out (whole or in part) is never sent again by this driver.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from common.availability import Availability, AvailabilitySnapshot

from ..serialio import TransportError
from .status import Fault, PrinterStatus, StatusKind, assess, is_valid, status_request, unreachable
from .transport import PrinterTransport, open_transport

BEFORE_JOB = (StatusKind.PRINTER, StatusKind.OFFLINE_CAUSE, StatusKind.PAPER)
AFTER_JOB = (StatusKind.PRINTER, StatusKind.OFFLINE_CAUSE, StatusKind.ERROR_CAUSE, StatusKind.PAPER)


class PrinterError(Exception):
    """Base of the printer driver's errors."""


class PrinterFault(PrinterError):
    """The printer is not able to print (or did not confirm a job); `fault` names why."""

    stage = "status"

    def __init__(self, job_id: str | None, status: PrinterStatus, bytes_sent: int = 0) -> None:
        self.job_id, self.status, self.bytes_sent = job_id, status, bytes_sent
        fault = status.fault or Fault.NO_ANSWER
        self.fault: Fault = fault
        job = f"job {job_id}: " if job_id is not None else ""
        super().__init__(f"{job}{self.describe()}: {fault.value}" + (f" ({status.detail})" if status.detail else ""))

    def describe(self) -> str:
        return "printer fault"


class PrintRefused(PrinterFault):
    """Nothing was sent: the status before the job showed a fault. Safe to retry later or elsewhere."""

    stage = "before"

    def describe(self) -> str:
        return "refused before printing"


class PrintFailed(PrinterFault):
    """Bytes were sent, but the job was not confirmed: what is on the paper is unknown."""

    stage = "after"

    def describe(self) -> str:
        return f"not confirmed after sending {self.bytes_sent} bytes"


class DuplicateJob(PrinterError):
    """This job id was already sent by this driver; a reconnect never reprints."""


@dataclass(frozen=True)
class JobResult:
    """A job sent and confirmed by the status read after it."""

    job_id: str
    bytes_sent: int
    before: PrinterStatus
    after: PrinterStatus
    seconds: float

    @property
    def paper_near_end(self) -> bool:
        return self.after.paper_near_end


@dataclass(frozen=True)
class PrinterSnapshot:
    port: str
    availability: AvailabilitySnapshot
    status: dict[str, object] | None
    jobs_printed: int


class Printer:
    """One receipt printer on one port; all methods run on the event loop that calls them."""

    def __init__(
        self,
        port: str,
        *,
        name: str = "receipt-printer",
        status_timeout_s: float = 0.5,
        chunk_size: int = 1024,
        remember_jobs: int = 1000,
        transport: PrinterTransport | None = None,
        logger: logging.Logger | None = None,
        **transport_options: Any,
    ) -> None:
        """`transport_options` go to `open_transport` (baudrate, flow_control, write_timeout_s, usb_in_ep…)."""
        self.port = port
        self.name = name
        self.status_timeout_s = status_timeout_s
        self.chunk_size = chunk_size
        self._transport = transport or open_transport(port, name=name, **transport_options)
        self._log = logger or logging.getLogger(__name__)
        self.availability = Availability(f"{name} ({port})", self._log)
        self.last_status: PrinterStatus | None = None
        self.jobs_printed = 0
        self._near_end = False
        self._lock = asyncio.Lock()
        self._sent: collections.deque[str] = collections.deque(maxlen=remember_jobs)

    async def start(self) -> PrinterStatus:
        """Open the port and read the status once; never raises because of the hardware."""
        return await self.status()

    async def stop(self) -> None:
        async with self._lock:
            await self._transport.close()

    async def status(self, kinds: Iterable[StatusKind | int] = BEFORE_JOB) -> PrinterStatus:
        """Query the real-time status now (n = 1, 2, 4 by default)."""
        async with self._lock:
            return self._note(await self._query(kinds))

    async def print_job(self, job_id: str, data: bytes) -> JobResult:
        """Send one rendered job; raises PrintRefused (nothing sent), PrintFailed (sent, unconfirmed), DuplicateJob."""
        if not data:
            raise ValueError("an empty print job")
        async with self._lock:
            if job_id in self._sent:
                raise DuplicateJob(f"job {job_id} was already sent to printer {self.name}; not printing it again")
            started = time.monotonic()
            before = self._note(await self._query(BEFORE_JOB))
            if not before.ok:
                raise PrintRefused(job_id, before)
            self._sent.append(job_id)  # from the first byte on, this job is never sent again
            sent = await self._send(job_id, data)
            after = self._note(await self._query(AFTER_JOB))
            if not after.ok:
                raise PrintFailed(job_id, after, sent)
            self.jobs_printed += 1
            seconds = time.monotonic() - started
            self._log.info("printer %s: job %s printed (%d bytes, %.2f s)", self.name, job_id, sent, seconds)
            return JobResult(job_id, sent, before, after, seconds)

    def snapshot(self) -> PrinterSnapshot:
        status = self.last_status.as_dict() if self.last_status else None
        return PrinterSnapshot(self.port, self.availability.snapshot(), status, self.jobs_printed)

    async def _send(self, job_id: str, data: bytes) -> int:
        """Write in chunks so each write's timeout covers a bounded amount of data."""
        sent = 0
        try:
            for offset in range(0, len(data), self.chunk_size):
                chunk = data[offset : offset + self.chunk_size]
                await self._transport.write(chunk)
                sent += len(chunk)
        except TransportError as exc:
            await self._transport.close()
            raise PrintFailed(job_id, self._note(unreachable(Fault.PORT_UNAVAILABLE, str(exc))), sent) from exc
        return sent

    async def _query(self, kinds: Iterable[StatusKind | int]) -> PrinterStatus:
        wanted = [StatusKind(k) for k in kinds]
        try:
            await self._transport.open()
        except TransportError as exc:
            return unreachable(Fault.PORT_UNAVAILABLE, str(exc), wanted)
        replies: dict[int, int | None] = {}
        try:
            queue = list(wanted)
            while queue:
                kind = queue.pop(0)
                reply = replies[int(kind)] = await self._ask(kind)
                if reply is None:
                    break  # a silent printer would make every further query wait the whole timeout
                if kind is StatusKind.OFFLINE_CAUSE and _error_bit(reply) and StatusKind.ERROR_CAUSE not in wanted:
                    queue.insert(0, StatusKind.ERROR_CAUSE)  # n = 3 names the error, so a refusal says what to fix
        except TransportError as exc:
            await self._transport.close()  # reopened on the next call (a network printer that restarted)
            return unreachable(Fault.PORT_UNAVAILABLE, str(exc), wanted)
        return assess(replies)

    async def _ask(self, kind: StatusKind) -> int | None:
        """One `DLE EOT n` exchange: the reply byte, or None when none came in time."""
        dropped = await self._transport.reset_input()
        if dropped:  # a late reply or noise: it must not be taken as the answer to this query
            self._log.debug("printer %s: dropped %s before DLE EOT %d", self.name, dropped.hex(" "), kind)
        await self._transport.write(status_request(kind))
        reply = await self._transport.read_exact(1, self.status_timeout_s)
        return reply[0] if reply else None

    def _note(self, status: PrinterStatus) -> PrinterStatus:
        self.last_status = status
        if status.paper is not None and status.paper_near_end != self._near_end:
            self._near_end = status.paper_near_end  # logged on the change only: a volunteer task, not a fault
            self._log.log(
                logging.WARNING if self._near_end else logging.INFO,
                "printer %s: paper %s",
                self.name,
                "near end" if self._near_end else "roll fine again",
            )
        if status.ok:
            self.availability.mark_up()
        else:
            assert status.fault is not None
            self.availability.mark_down(status.fault.value)
        return status


def _error_bit(reply: int | None) -> bool:
    """n = 2 bit 6: an error is why the printer is offline (only meaningful on a valid byte)."""
    return reply is not None and is_valid(reply) and bool(reply & 0x40)
