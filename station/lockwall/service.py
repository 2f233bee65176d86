"""LockWall: one LockBus per RS485 line, compartments mapped onto boards, door supervision.

`open(compartment, reason, reference)` persists the intent, sends the pulse, waits for the
sensor to confirm the door opened (one retry after a status read shows the lock still
closed), then keeps tracking the door until it is closed. Doors that open without a command
raise a tamper alarm; doors left open raise an alarm. Nothing is ever unlocked at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from common.tasks import cancel_tasks
from drivers.locks import (
    BoardBaseline,
    BusBusy,
    LockBus,
    LockBusError,
    LockChanged,
    LockEvent,
    PortUnavailable,
)

from ..compartments import owner
from ..components import ComponentHealth, Status
from ..config import Config
from ..db.engine import Database
from ..flows.engine import check_recovery
from . import doors
from .doors import DOOR, REASONS, DoorOutcome, DoorResult, DoorState

log = logging.getLogger(__name__)

Address = tuple[str, int, int]  # (bus, board, lock)


@dataclass(frozen=True)
class _LeftOpenDue:
    """Queued by the left-open timer so the alarm is written by the event consumer."""

    compartment: int
    seconds: float


DoorListener = Callable[[int, str], None]  # (compartment, "opened" | "closed")


class LockWall:
    name = "lockwall"

    def __init__(self, config: Config, db: Database, *, bus_factory: Callable[..., LockBus] | None = None) -> None:
        self.db = db
        self.doors = config.doors
        self._compartments = list(config.compartments)
        factory = bus_factory or LockBus.from_settings
        self.buses: dict[str, LockBus] = {name: factory(name, section) for name, section in config.lock_buses.items()}
        self.by_address: dict[Address, int] = {(c.bus, c.board, c.lock): c.id for c in config.compartments}
        self.address_of: dict[int, Address] = {c.id: (c.bus, c.board, c.lock) for c in config.compartments}
        self.on_board: dict[tuple[str, int], list[int]] = {}
        for c in sorted(config.compartments, key=lambda c: c.id):
            self.on_board.setdefault((c.bus, c.board), []).append(c.id)
        self._events: asyncio.Queue[LockEvent | _LeftOpenDue] = asyncio.Queue()
        self._waiters: dict[int, asyncio.Future[bool]] = {}  # compartment -> "opened" seen
        self._active: dict[int, int] = {}  # compartment -> operation id being opened or open
        self._recovering: dict[int, tuple[int, DoorState]] = {}  # compartment -> unfinished op at boot
        self._left_open: dict[int, asyncio.TimerHandle] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._listeners: list[DoorListener] = []
        self._recovered = asyncio.Event()  # set once every unfinished operation found at start is settled
        self._task: asyncio.Task[None] | None = None
        self._last_requests = -1
        self._last_progress: float | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        check_recovery(DOOR, self)
        await self.db.write_until_committed(lambda s: owner.sync_configured(s, self._compartments))
        for op_id, comp, state in await self.db.read(doors.unfinished):
            self._recovering[comp] = (op_id, state)
            if state is DoorState.OPENED:
                self._active[comp] = op_id
        if self._recovering:
            log.info("recovering %d unfinished door operations (no pulse will be sent)", len(self._recovering))
        else:
            self._recovered.set()
        self._task = asyncio.create_task(self._consume(), name="lockwall-events")
        for bus in self.buses.values():
            bus.subscribe(self._events.put_nowait)
            await bus.start()

    async def stop(self) -> None:
        for bus in self.buses.values():
            await bus.stop()
        for handle in self._left_open.values():
            handle.cancel()
        if self._task is not None:
            await cancel_tasks([self._task])

    async def wait_recovered(self, timeout_s: float) -> bool:
        """Wait until the operations left unfinished by the last run are settled (their boards read)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._recovered.wait(), timeout_s)
        return self._recovered.is_set()

    def subscribe(self, listener: DoorListener) -> None:
        """listener(compartment, "opened" | "closed") after the change is committed."""
        self._listeners.append(listener)

    # -- opening -------------------------------------------------------------------------------
    async def open(
        self, compartment: int, reason: str, reference: str | None = None, *, actor: str = "system"
    ) -> DoorResult:
        """Open one compartment door and wait until the sensor confirms it (or the attempts run out)."""
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}; one of {sorted(REASONS)}")
        if compartment not in self.address_of:
            raise KeyError(f"no compartment {compartment}")
        lock = self._locks.setdefault(compartment, asyncio.Lock())
        async with lock:
            op_id = await self.db.write(lambda s: doors.create(s, compartment, reason, reference, actor))
            if compartment in self._active:
                # Still open from an earlier opening: a pulse could not be confirmed (no opening edge), and
                # taking over the tracking would let the earlier door's close end this operation instead.
                error = "the door is still open from an earlier opening"
                await self._record(op_id, DoorState.FAILED, error=error)
                return DoorResult(op_id, compartment, DoorOutcome.UNAVAILABLE, error)
            self._active[compartment] = op_id
            result = await self._pulse_and_confirm(compartment, op_id)
            if result.outcome is not DoorOutcome.OPENED:
                self._active.pop(compartment, None)
            return result

    async def _pulse_and_confirm(self, compartment: int, op_id: int) -> DoorResult:
        bus_name, board, lock = self.address_of[compartment]
        bus = self.buses[bus_name]
        for attempt in (1, 2):
            waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._waiters[compartment] = waiter
            try:
                await bus.unlock(board, lock)  # a sensor reading "open" never blocks the pulse
            except (PortUnavailable, BusBusy) as exc:
                self._waiters.pop(compartment, None)
                error = str(exc)  # nothing was sent: the door cannot have opened because of us
                await self._record(op_id, DoorState.FAILED, error=error)
                return DoorResult(op_id, compartment, DoorOutcome.UNAVAILABLE, error)
            # pulse_sent is committed with what the sensor shows next, in one commit: recovery treats an
            # operation still in requested (or not_detected) exactly as one in pulse_sent.
            opened = await self._wait_opened(bus, board, lock, waiter)
            self._waiters.pop(compartment, None)
            if opened:
                await self._commit_opened(compartment, op_id, DoorState.PULSE_SENT)
                return DoorResult(op_id, compartment, DoorOutcome.OPENED)
            await self._record(op_id, DoorState.PULSE_SENT, DoorState.NOT_DETECTED)
            if attempt == 1 and not await self._reads_locked(bus, board, lock):
                await self._commit_opened(compartment, op_id)
                return DoorResult(op_id, compartment, DoorOutcome.OPENED, "seen open on the read-back")
        detail = "no opening seen after 2 pulses"
        await self._record(op_id, DoorState.FAILED, error=detail)
        return DoorResult(op_id, compartment, DoorOutcome.NOT_OPENED, detail)

    async def _record(self, op_id: int, *states: DoorState, **details: Any) -> None:
        """Commit what the door did (one or more arrows, one commit); a pulse already happened, so this
        waits out a storage failure. `details` go with the last arrow."""

        def write(session: Session) -> None:
            for state in states[:-1]:
                doors.move(session, op_id, state)
            doors.move(session, op_id, states[-1], **details)

        await self.db.write_until_committed(write, what="door")

    async def _wait_opened(self, bus: LockBus, board: int, lock: int, waiter: asyncio.Future[bool]) -> bool:
        """True once the hook reads unlocked within `open_detect_s`.

        Besides the background polls, the board is read every ~100 ms while we wait (explicit
        reads go ahead of polls), so a quick open-and-close is not missed between two polls.
        """
        deadline = time.monotonic() + self.doors.open_detect_s
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(waiter), min(0.1, max(0.0, deadline - time.monotonic())))
            with contextlib.suppress(LockBusError):
                if (await bus.read_status(board)).lock(lock).locked is False:
                    return True
        return waiter.done()

    async def _reads_locked(self, bus: LockBus, board: int, lock: int) -> bool:
        """Read-back before a second pulse; unknown counts as locked (retry is then allowed)."""
        try:
            status = await bus.read_status(board)
        except LockBusError:
            return True
        return status.lock(lock).locked is not False

    async def _commit_opened(self, compartment: int, op_id: int, *before: DoorState) -> None:
        await self._record(op_id, *before, DoorState.OPENED)
        self._start_left_open_timer(compartment)
        self._notify(compartment, "opened")

    # -- events ------------------------------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self._handle(event)
            except Exception:  # one bad event must not stop door supervision
                log.exception("handling %s failed", event)

    async def _handle(self, event: LockEvent | _LeftOpenDue) -> None:
        self._last_progress = time.monotonic()
        if isinstance(event, LockChanged):
            compartment = self.by_address.get((event.bus, event.board, event.lock))
            if compartment is None or event.old.locked == event.new.locked:
                return
            if event.new.locked is False:
                await self._door_opened(compartment)
            elif event.new.locked is True:
                await self._door_closed(compartment)
        elif isinstance(event, BoardBaseline):
            await self._baseline(event)
        elif isinstance(event, _LeftOpenDue) and self._left_open.pop(event.compartment, None) is not None:
            await self.db.write_until_committed(lambda s: doors.left_open(s, event.compartment, event.seconds))
        # BoardUp / BoardDown: availability lives in the bus snapshot; the bus logs them once

    async def _door_opened(self, compartment: int) -> None:
        waiter = self._waiters.get(compartment)
        if waiter is not None and not waiter.done():
            waiter.set_result(True)
            return
        if compartment in self._active:
            return  # already tracked as open
        log.warning("compartment %s opened without an unlock command", compartment)
        await self.db.write_until_committed(partial(self._forced, compartment=compartment), what="door")
        self._start_left_open_timer(compartment)
        self._notify(compartment, "opened")

    async def _door_closed(self, compartment: int) -> None:
        self._cancel_left_open_timer(compartment)
        op_id = self._active.pop(compartment, None)
        if op_id is not None:
            await self.db.write_until_committed(lambda s: self._close_operation(s, op_id, compartment))
        else:
            await self.db.write_until_committed(lambda s: doors.door_closed_without_operation(s, compartment))
        self._notify(compartment, "closed")

    @staticmethod
    def _forced(session: Any, compartment: int) -> None:
        doors.door_forced(session, compartment)
        owner.needs_check(session, compartment, "door opened without an unlock command")

    @staticmethod
    def _close_operation(session: Any, op_id: int, compartment: int) -> None:
        doors.move(session, op_id, DoorState.CLOSED)
        doors.door_closed_without_operation(session, compartment)

    async def _baseline(self, event: BoardBaseline) -> None:
        """First read of a board since start: settle unfinished operations, note open doors."""
        for number, state in enumerate(event.status.locks, start=1):
            compartment = self.by_address.get((event.bus, event.board, number))
            if compartment is None or state.locked is None:
                continue
            is_open = state.locked is False
            pending = self._recovering.pop(compartment, None)
            if pending is not None:
                op_id, op_state = pending
                await getattr(self, f"on_{op_state.value}")(op_id, compartment, is_open, state.item_present)
                if not self._recovering:
                    self._recovered.set()
            elif is_open:
                await self.db.write_until_committed(partial(doors.door_open_at_boot, compartment_id=compartment))
                self._start_left_open_timer(compartment)
            else:
                shut = partial(doors.set_door_state, compartment_id=compartment, door_state="closed")
                await self.db.write_until_committed(shut)

    # -- recovery of operations the last run left unfinished (never pulses) ---------------------------
    async def on_opened(self, op_id: int, compartment: int, is_open: bool, _item: bool | None) -> None:
        """It was open: track it to its close (or record the close that happened while we were down)."""
        if is_open:
            self._active[compartment] = op_id
            self._start_left_open_timer(compartment)
        else:
            self._active.pop(compartment, None)
            await self.db.write_until_committed(lambda s: self._close_operation(s, op_id, compartment))

    async def on_requested(self, op_id: int, compartment: int, is_open: bool, item: bool | None) -> None:
        """A pulse may have gone out unwatched: the sensor now (and the item sensor) decide."""
        settled = await self.db.write_until_committed(
            partial(doors.settle_unseen, op_id=op_id, is_open=is_open, item_present=item), what="door"
        )
        if settled is DoorState.OPENED:
            self._active[compartment] = op_id
            self._start_left_open_timer(compartment)
            self._notify(compartment, "opened")
        log.warning("door operation %s (compartment %s) left unfinished by the last run: %s",
                    op_id, compartment, settled)  # fmt: skip

    on_pulse_sent = on_requested
    on_not_detected = on_requested

    # -- left-open alarm -----------------------------------------------------------------------------
    def _start_left_open_timer(self, compartment: int) -> None:
        self._cancel_left_open_timer(compartment)
        due = _LeftOpenDue(compartment, self.doors.left_open_alarm_s)
        loop = asyncio.get_running_loop()
        self._left_open[compartment] = loop.call_later(due.seconds, self._events.put_nowait, due)

    def _cancel_left_open_timer(self, compartment: int) -> None:
        handle = self._left_open.pop(compartment, None)
        if handle is not None:
            handle.cancel()

    def _notify(self, compartment: int, what: str) -> None:
        for listener in self._listeners:
            try:
                listener(compartment, what)
            except Exception:
                log.exception("door listener failed")

    def is_open(self, compartment: int) -> bool:
        """A commanded opening of this door is still being tracked (open, not yet seen closed)."""
        return compartment in self._active

    # -- reporting -------------------------------------------------------------------------------------
    def unavailable_compartments(self) -> list[int]:
        """Compartments on boards that are down; the cost grows with the boards down, not the compartments."""
        found = [c for bus in self.buses.values() for board in bus.down_boards()
                 for c in self.on_board.get((bus.name, board), ())]  # fmt: skip
        return sorted(found)

    def health(self) -> ComponentHealth:
        boards: dict[str, Any] = {}
        any_down = False
        for bus in self.buses.values():
            snap = bus.snapshot()
            for b in snap.boards:
                boards[f"{bus.name}/{b.address}"] = {
                    "available": b.availability.available,
                    "error": b.availability.last_error,
                    "requests": b.counters.requests,
                    "timeouts": b.counters.timeouts,
                    "bad_frames": b.counters.bad_frames,
                }
                any_down |= b.availability.available is False
        detail = {
            "boards": boards,
            "unavailable_compartments": self.unavailable_compartments(),
            "open_doors": sorted(self._active),
        }
        return ComponentHealth(Status.DEGRADED if any_down else Status.UP, detail)

    def progress(self) -> float | None:
        """Progress = the buses keep sending requests (polls), whether boards answer or not."""
        if not self.buses:
            return None
        requests = sum(b.counters.requests for bus in self.buses.values() for b in bus.snapshot().boards)
        if requests != self._last_requests:
            self._last_requests, self._last_progress = requests, time.monotonic()
        return self._last_progress
