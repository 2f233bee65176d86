"""LockBus: the one actor that owns an RS485 line of Kerong lock boards.

One asyncio task per line does all the talking, one request at a time; everything else sends
it requests. Unlocks jump ahead of status reads, explicit status reads ahead of background
polls. A board that does not answer is marked down and re-probed with backoff while the others
keep being polled; a missing port marks every board down and is reopened with backoff.
`start()` never fails because of hardware, and nothing is ever unlocked by the driver itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from common.availability import Availability
from common.backoff import Backoff
from common.tasks import cancel_tasks

from ..serialio import SerialTransport, TransportError
from .board import LINGER_S, BoardTracker
from .codec import LockCodecError
from .events import (
    BadReply,
    BusBusy,
    BusClosed,
    BusSnapshot,
    LockBusError,
    LockEvent,
    NoAnswer,
    PortUnavailable,
    PulseSent,
    UnlockResult,
)
from .protocol import protocol_for
from .status import BoardSpec, BoardStatus
from .wire import Reply, Wire

log = logging.getLogger(__name__)

_UNLOCK, _READ = 0, 1  # job priorities: lower runs first; background polls come after both
EventCallback = Callable[[LockEvent], None]


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    board: int = field(compare=False)
    lock: int | None = field(compare=False)  # None: a status read
    future: asyncio.Future[Any] = field(compare=False)
    started: bool = field(default=False, compare=False)
    abandoned: bool = field(default=False, compare=False)


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    """Retrieve the outcome nobody waits for any more (its caller was cancelled)."""
    if not future.cancelled():
        future.exception()


class LockBus:
    """All boards of one protocol family on one serial line (see the package docstring for the API)."""

    def __init__(
        self,
        name: str,
        url: str,
        protocol: str,
        boards: Iterable[BoardSpec | int],
        *,
        baudrate: int = 19200,
        gap_s: float = 0.010,
        timeout_s: float = 0.5,
        retries: int = 1,
        poll_hz: float | None = 4.0,
        idle_poll_hz: float | None = 0.5,
        linger_s: float = LINGER_S,
        dialect: str = "standard",
        reprobe_base_s: float = 1.0,
        reprobe_cap_s: float = 30.0,
        seed: int | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.name, self.url = name, url
        self.protocol = protocol_for(protocol, dialect)
        self.timeout_s, self.retries = timeout_s, retries
        self._log = logger or log
        rng = random.Random(seed)
        period = 1.0 / poll_hz if poll_hz else None
        idle_period = 1.0 / idle_poll_hz if idle_poll_hz else None
        self._boards: dict[int, BoardTracker] = {}
        for spec in self.protocol.check_specs(name, boards):
            backoff = Backoff(reprobe_base_s, reprobe_cap_s, rng=rng)
            count = spec.locks or self.protocol.max_locks
            tracker = BoardTracker(name, spec, count, period, backoff, self._log, idle_period, linger_s)
            self._boards[spec.address] = tracker
        # Corrupt bytes are followed by silence: stop waiting a few reply lengths after them.
        settle_s = min(timeout_s, max(0.02, 3 * self.protocol.reply_bytes * 10 / baudrate))
        transport = SerialTransport(url, baudrate=baudrate, name=name)
        self._wire = Wire(transport, self.protocol.reply_layout, gap_s, settle_s)
        self._port = Availability(f"lock bus {name} port {url}", self._log)
        self._port_backoff = Backoff(reprobe_base_s, reprobe_cap_s, rng=rng)
        self._port_retry_at = 0.0
        self._jobs: list[_Job] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._probed = asyncio.Event()
        self._subscribers: list[EventCallback] = []
        self._task: asyncio.Task[None] | None = None
        self._queue_wait_s = (retries + 1) * (timeout_s + gap_s) + timeout_s + 1.0

    @classmethod
    def from_settings(cls, name: str, settings: Any, **overrides: Any) -> LockBus:
        """Build from a lock-bus config section (port, protocol, baudrate, gap_ms, timeout_ms, …)."""
        boards = [
            BoardSpec(b.address, b.locks, b.hook_locked_bit, getattr(b, "item_sensors", False)) for b in settings.boards
        ]
        options: dict[str, Any] = {
            "baudrate": settings.baudrate,
            "gap_s": settings.gap_ms / 1000,
            "timeout_s": settings.timeout_ms / 1000,
            "retries": settings.retries,
            "poll_hz": settings.poll_hz,
            "idle_poll_hz": settings.idle_poll_hz,
            "dialect": getattr(settings, "dialect", "standard"),
        }
        options.update(overrides)
        return cls(name, settings.port, settings.protocol, boards, **options)

    # ---- public API -------------------------------------------------------------------------

    @property
    def boards(self) -> tuple[int, ...]:
        return tuple(self._boards)

    def lock_count(self, board: int) -> int:
        return self._tracker(board).lock_count

    def down_boards(self) -> tuple[int, ...]:
        """Addresses of the boards known to be down (cheap: no snapshot; asked on every offers request)."""
        return tuple(address for address, tracker in self._boards.items() if tracker.is_down)

    async def start(self) -> None:
        """Start the actor; returns at once. Boards are probed in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"lock-bus-{self.name}")

    async def stop(self) -> None:
        """Stop the actor, fail queued requests with BusClosed, close the port."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_tasks([task])
        self._fail_jobs(BusClosed(f"lock bus {self.name} stopped"))
        await self._wire.close()

    async def wait_probed(self, timeout_s: float) -> bool:
        """Wait until every board has been found up or down once; False on timeout."""
        try:
            await asyncio.wait_for(self._probed.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def unlock(self, board: int, lock: int, *, wait_s: float | None = None) -> UnlockResult:
        """Send one unlock pulse; returns once the frame is written (CU16: and its reply read).

        Never repeated by the driver. Sent even if the board is down or the sensor says open.
        Raises PortUnavailable or BusBusy when nothing was sent, BusClosed, ValueError.
        """
        tracker = self._tracker(board)
        if not 1 <= lock <= tracker.lock_count:
            raise ValueError(f"board {board} on bus {self.name} has locks 1-{tracker.lock_count}, not {lock}")
        return await self._submit(_UNLOCK, board, lock, wait_s)

    async def read_status(self, board: int, *, wait_s: float | None = None) -> BoardStatus:
        """Read one board now (with the configured retries); raises NoAnswer, BadReply, PortUnavailable."""
        self._tracker(board)
        return await self._submit(_READ, board, None, wait_s)

    def snapshot(self) -> BusSnapshot:
        """Port and board state, last statuses and counters, as immutable data."""
        boards = tuple(t.snapshot() for t in self._boards.values())
        port = self._port.snapshot()
        return BusSnapshot(self.name, self.url, self.protocol.name, port, boards, self._wire.flushed_bytes)

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call `callback(event)` in the event loop for every event; returns an unsubscribe function.

        Callbacks must not block; `queue.put_nowait` of an asyncio.Queue is a good callback.
        """
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    # ---- requests ---------------------------------------------------------------------------

    def _tracker(self, board: int) -> BoardTracker:
        tracker = self._boards.get(board)
        if tracker is None:
            raise ValueError(f"board {board} is not configured on lock bus {self.name} (boards: {self.boards})")
        return tracker

    async def _submit(self, priority: int, board: int, lock: int | None, wait_s: float | None) -> Any:
        if self._task is None:
            raise BusClosed(f"lock bus {self.name} is not running")
        job = _Job(priority, next(self._seq), board, lock, asyncio.get_running_loop().create_future())
        heapq.heappush(self._jobs, job)
        self._wake.set()
        wait = self._queue_wait_s if wait_s is None else wait_s
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), wait)
        except TimeoutError:
            if job.started:  # already on the wire: its own timeouts bound the rest
                return await job.future
            job.abandoned = True
            raise BusBusy(f"lock bus {self.name}: request for board {board} not sent within {wait:.1f} s") from None
        except asyncio.CancelledError:
            job.abandoned = not job.started
            job.future.add_done_callback(_consume_outcome)
            raise

    def _next_job(self) -> _Job | None:
        while self._jobs:
            job = heapq.heappop(self._jobs)
            if not job.abandoned and not job.future.done():
                job.started = True
                return job
        return None

    def _fail_jobs(self, error: LockBusError) -> None:
        while (job := self._next_job()) is not None:
            job.future.set_exception(error)

    # ---- the actor --------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except Exception:  # a bug must not silence the line for good: log, breathe, go on
                self._log.exception("lock bus %s: unexpected error in the bus actor", self.name)
                await asyncio.sleep(0.5)

    async def _step(self) -> None:
        """One turn of the actor: reopen the port, or run one request, or one due poll, or sleep."""
        if not self._wire.is_open and not await self._open_port():
            reason = self._port.last_error or "not open"
            self._fail_jobs(PortUnavailable(f"lock bus {self.name}: port {self.url} is not available ({reason})"))
            await self._idle(self._port_retry_at)
            return
        job = self._next_job()
        if job is not None:
            await self._run_job(job)
            return
        due = min(self._boards.values(), key=lambda t: t.due)
        # Wait out the inter-frame gap here, where a new unlock can still overtake the poll.
        start = max(due.due, self._wire.ready_at)
        if start > time.monotonic():
            await self._idle(start)
            return
        await self._poll(due)

    async def _idle(self, until: float | None) -> None:
        """Sleep until `until` (monotonic) or until a request arrives."""
        # A timer that sets the wake event: no task per wait, as wait_for would make (it runs before every poll).
        self._wake.clear()
        timer = None
        if until is not None and until != float("inf"):
            timer = asyncio.get_running_loop().call_later(max(0.0, until - time.monotonic()), self._wake.set)
        try:
            await self._wake.wait()
        finally:
            if timer is not None:
                timer.cancel()

    async def _run_job(self, job: _Job) -> None:
        tracker = self._boards[job.board]
        try:
            if job.lock is None:
                result: Any = await self._read(tracker, 1 + self.retries)
            else:
                result = await self._unlock(tracker, job.lock)
        except LockBusError as exc:
            job.future.set_exception(exc)
        except TransportError as exc:
            job.future.set_exception(PortUnavailable(f"lock bus {self.name}: {exc}"))
            await self._port_lost(str(exc))
        else:
            job.future.set_result(result)
        finally:
            if not job.future.done():  # only on a bug: never leave a caller waiting
                job.future.set_exception(LockBusError(f"lock bus {self.name}: request failed unexpectedly"))

    async def _poll(self, tracker: BoardTracker) -> None:
        # No retry while a board is down: it is re-probed at the backoff rate instead.
        attempts = 1 if tracker.is_down else 1 + self.retries
        try:
            await self._read(tracker, attempts)
        except LockBusError:
            pass  # recorded as the board's state
        except TransportError as exc:
            await self._port_lost(str(exc))
            return
        tracker.schedule_next(time.monotonic())

    async def _read(self, tracker: BoardTracker, attempts: int) -> BoardStatus:
        error: LockBusError = NoAnswer(f"board {tracker.address} on bus {self.name}: not asked")
        request = self.protocol.status_request(tracker.address)
        for attempt in range(attempts):
            if attempt:
                tracker.counters.retries += 1
            tracker.counters.requests += 1
            _, reply = await self._wire.exchange(request, self._reply_of(tracker), self.timeout_s)
            status, error = self._accept(tracker, reply)
            if status is not None:
                return status
        if attempts > 1:
            error = type(error)(f"{error} ({attempts} attempts)")
        self._emit(tracker.on_failure(str(error), time.monotonic()))
        self._update_probed()
        raise error

    def _reply_of(self, tracker: BoardTracker) -> Callable[[bytes], bool]:
        address = tracker.address
        return lambda frame: self.protocol.reply_board(frame) == address

    async def _receive_status(self, tracker: BoardTracker) -> tuple[BoardStatus | None, LockBusError]:
        """Read and decode one status reply (a CU16's answer to an unlock)."""
        return self._accept(tracker, await self._wire.receive(self._reply_of(tracker), self.timeout_s))

    def _accept(self, tracker: BoardTracker, reply: Reply) -> tuple[BoardStatus | None, LockBusError]:
        """Decode one reply; on success the board's events are emitted."""
        tracker.counters.bad_frames += reply.bad_frames
        where = f"board {tracker.address} on bus {self.name}"
        if reply.frame is None:
            tracker.counters.timeouts += reply.timed_out
            error_type = NoAnswer if reply.timed_out else BadReply
            return None, error_type(f"{where}: {reply.error}")
        try:
            status = tracker.decode(reply.frame, self.protocol.decode_status)
        except LockCodecError as exc:
            tracker.counters.bad_frames += 1
            return None, BadReply(f"{where}: {exc}")
        self._emit(tracker.on_status(status))
        self._update_probed()
        return status, NoAnswer(where)

    async def _unlock(self, tracker: BoardTracker, lock: int) -> UnlockResult:
        if tracker.status is None:
            # Take the baseline first, so that the opening shows up as a LockChanged event.
            with contextlib.suppress(LockBusError):
                await self._read(tracker, 1)
        tracker.counters.requests += 1
        tracker.counters.unlocks += 1
        sent_at = await self._wire.send(self.protocol.unlock_request(tracker.address, lock))
        self._log.info("unlock pulse sent: bus %s board %d lock %d", self.name, tracker.address, lock)
        tracker.stir(sent_at)
        self._emit([PulseSent(self.name, tracker.address, lock, sent_at)])
        if not self.protocol.unlock_replies:
            return UnlockResult(self.name, tracker.address, lock, sent_at)
        try:
            status, error = await self._receive_status(tracker)
        except TransportError as exc:  # the pulse left: report it, then deal with the port
            await self._port_lost(str(exc))
            return UnlockResult(self.name, tracker.address, lock, sent_at, None, f"port failed: {exc}")
        reply_error = None if status is not None else str(error)
        return UnlockResult(self.name, tracker.address, lock, sent_at, status, reply_error)

    # ---- port state -------------------------------------------------------------------------

    async def _open_port(self) -> bool:
        now = time.monotonic()
        if now < self._port_retry_at:
            return False
        try:
            await self._wire.open()
        except TransportError as exc:
            self._mark_port_down(str(exc))
            return False
        self._port.mark_up()
        self._port_backoff.reset()
        for tracker in self._boards.values():
            tracker.poll_now()
        return True

    async def _port_lost(self, error: str) -> None:
        await self._wire.close()
        self._mark_port_down(error)

    def _mark_port_down(self, error: str) -> None:
        now = time.monotonic()
        self._port_retry_at = now + self._port_backoff.next_delay()
        self._port.mark_down(error)
        for tracker in self._boards.values():
            tracker.suspend()
            self._emit(tracker.on_failure(f"port unavailable: {error}", now))
        self._update_probed()

    # ---- events -----------------------------------------------------------------------------

    def _emit(self, events: list[LockEvent]) -> None:
        for event in events:
            for callback in list(self._subscribers):
                try:
                    callback(event)
                except Exception:  # a subscriber's bug must not stop the line
                    self._log.exception("lock event subscriber failed on %r", event)

    def _update_probed(self) -> None:
        if all(t.availability.available is not None for t in self._boards.values()):
            self._probed.set()
