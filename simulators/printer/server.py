"""A byte-exact ESC/POS receipt printer over TCP (like port 9100) and a pty.

The driver opens `await sim.start_tcp()` (a `socket://` URL) or `await sim.start_pty()` (a pty
path) as it opens a real printer. `DLE EOT n` is answered in real time, as on Epson printers:
it is found in the raw byte stream as it arrives, whatever the parser is doing. Everything is
parsed into per-job transcripts (`sim.jobs`). Printing uses paper (`paper_lines`), so a roll can
run out in the middle of a job.

Control API (tests, demo): `set_faults(offline=, cover_open=, paper="ok"|"near_end"|"out",
cutter_error=, unrecoverable=, reply="normal"|"silent"|"late"|"garbage", late_s=)`,
`replace_paper(lines=None)`, `drop_connections()`, `wait_until(predicate)`, `wait_jobs(count)`,
and the records `jobs`, `status_queries`, `received`, `late_replies_sent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import time
from collections.abc import Callable

from ..link import LinkServer, PtyLink, SimLink
from .device import Paper, PrinterMechanism, ReplyMode
from .escpos import DLE, EscPosParser, Op
from .transcript import Job, TranscriptBuilder

_KNOBS = {"offline", "cover_open", "cutter_error", "unrecoverable", "reply", "late_s"}
JobHook = Callable[[Job], None]


def paper_cost(op: Op) -> int:
    """Roughly how many text lines of paper an operation uses (24-dot lines)."""
    if op.name == "newline":
        return 1
    if op.name == "feed_lines":
        return op.args[0]
    if op.name == "feed_dots":
        return max(1, op.args[0] // 24)
    if op.name == "barcode":
        return 4
    if op.name == "2d_code" and op.data[1:2] == b"Q":
        return 6
    if op.name == "raster_image":
        return max(1, op.args[1] // 24)
    return 0


class PrinterSimulator(LinkServer):
    """One simulated receipt printer; all methods run in the loop that started it."""

    task_prefix = "sim-printer"

    def __init__(
        self,
        *,
        seed: int = 0,
        paper_lines: int | None = None,
        near_end_lines: int = 40,
        late_s: float = 1.0,
    ) -> None:
        super().__init__()
        self.mechanism = PrinterMechanism(paper_lines=paper_lines, near_end_lines=near_end_lines, late_s=late_s)
        self._rng = random.Random(seed)
        self.jobs: list[Job] = []
        self.status_queries: list[int] = []
        self.received = bytearray()
        self.late_replies_sent = 0
        self.on_job: JobHook | None = None
        self._job_counter = 0
        self._changed = asyncio.Event()

    # ---- control API ------------------------------------------------------------------------

    def set_faults(self, paper: Paper | str | None = None, **knobs: object) -> None:
        """Set fault knobs; see the module docstring. `reply` takes a ReplyMode or its value."""
        unknown = set(knobs) - _KNOBS
        if unknown:
            raise ValueError(f"unknown printer knobs {sorted(unknown)}; known: {sorted(_KNOBS | {'paper'})}")
        if "reply" in knobs:
            knobs["reply"] = ReplyMode(str(knobs["reply"]))
        if paper is not None:
            self.mechanism.set_paper(paper)
        for name, value in knobs.items():
            setattr(self.mechanism, name, value)

    def replace_paper(self, lines: int | None = None) -> None:
        """A volunteer puts in a new roll and closes the cover; `lines` None = an endless roll."""
        self.mechanism.paper_lines = lines
        self.mechanism.cover_open = False

    def drop_connections(self) -> None:
        """A network printer restarting: every TCP connection is closed (the server keeps listening)."""
        for link in [link for link in self._links if not isinstance(link, PtyLink)]:
            link.close()
            self._links.remove(link)

    def status_byte(self, n: int) -> int:
        return self.mechanism.status_byte(n)

    @property
    def printed_jobs(self) -> list[Job]:
        return [job for job in self.jobs if job.printed]

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 3.0) -> None:  # noqa: ASYNC109
        """Wait until `predicate()` holds (checked whenever a job or a status query arrives)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"printer simulator: condition not met in {timeout} s; jobs: {len(self.jobs)}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_jobs(self, count: int, timeout: float = 3.0) -> list[Job]:  # noqa: ASYNC109
        await self.wait_until(lambda: len(self.jobs) >= count, timeout)
        return self.jobs

    # ---- serving ----------------------------------------------------------------------------

    async def _serve(self, link: SimLink) -> None:
        parser = EscPosParser()
        builder = TranscriptBuilder(self._job_done, self._next_job_number)
        tail = b""
        try:
            while data := await link.read():
                self.received += data
                queries, tail = _realtime_queries(tail, data)
                for op in parser.feed(data):
                    self._apply(builder, op)
                for n in queries:  # after parsing: a reply means the printer has taken what came before
                    self._answer(link, n)
                await link.drain()
        finally:
            for op in parser.flush():
                self._apply(builder, op)
            builder.end_job()

    def _apply(self, builder: TranscriptBuilder, op: Op) -> None:
        job = builder.apply(op)
        if job is None:
            return
        cost = paper_cost(op)
        if cost and not (self.mechanism.can_print() and self.mechanism.consume(cost)):
            job.printed = False  # nothing (or not all of it) reached the paper

    def _answer(self, link: SimLink, n: int) -> None:
        self.status_queries.append(n)
        self._changed.set()
        mode = self.mechanism.reply
        if mode is ReplyMode.SILENT:
            return
        if mode is ReplyMode.GARBAGE:
            link.write(bytes(self._garbage_byte() for _ in range(self._rng.randint(1, 3))))
            return
        reply = bytes([self.mechanism.status_byte(n)])
        if mode is ReplyMode.LATE:
            loop = asyncio.get_running_loop()
            self._late.append(loop.call_later(self.mechanism.late_s, self._send_late, link, reply))
            return
        link.write(reply)

    def _send_late(self, link: SimLink, reply: bytes) -> None:
        link.write(reply)
        self.late_replies_sent += 1
        self._changed.set()

    def _garbage_byte(self) -> int:
        while True:
            byte = self._rng.randrange(256)
            if (byte & 0x93) != 0x12:  # never a valid status byte by chance
                return byte

    def _next_job_number(self) -> int:
        self._job_counter += 1
        return self._job_counter

    def _job_done(self, job: Job) -> None:
        if not self.mechanism.powered:
            job.printed = False
        self.jobs.append(job)
        self._changed.set()
        if self.on_job is not None:
            self.on_job(job)


def _realtime_queries(tail: bytes, data: bytes) -> tuple[list[int], bytes]:
    """`DLE EOT n` (n 1–4) ending inside `data`, including one split across chunks; returns (ns, new tail)."""
    stream = tail + data
    found = [
        stream[i + 2]
        for i in range(len(stream) - 2)
        if stream[i] == DLE and stream[i + 1] == 0x04 and 1 <= stream[i + 2] <= 4 and i + 2 >= len(tail)
    ]
    return found, stream[-2:]


def fault_knobs(mechanism: PrinterMechanism) -> dict[str, object]:
    """The mechanism's knobs as plain values (for the demo and logs)."""
    values = dataclasses.asdict(mechanism)
    values["paper"] = mechanism.paper.value
    return values
