"""Per-board bookkeeping inside the bus actor: availability, counters, last status, poll schedule."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable

from common.availability import Availability
from common.backoff import Backoff

from .events import BoardBaseline, BoardCounters, BoardDown, BoardSnapshot, BoardUp, LockChanged, LockEvent
from .status import BoardSpec, BoardStatus

LINGER_S = 10.0
"""After a pulse or a change a board is polled at the full rate this long (a door opened, shut, reopened)."""


class BoardTracker:
    """One board on the line; turns read results into events and decides when to poll next.

    A board is polled at the full rate (`period_s`) while something happens on it: a lock reads
    unlocked (a door is open), or a pulse or a change was seen in the last `linger_s`. A quiet
    board (every lock locked) is polled at `idle_period_s`: that still notices a forced door, and
    keeps an idle station's line and CPU mostly free.
    """

    def __init__(
        self,
        bus: str,
        spec: BoardSpec,
        lock_count: int,
        period_s: float | None,
        backoff: Backoff,
        logger: logging.Logger,
        idle_period_s: float | None = None,
        linger_s: float = LINGER_S,
    ) -> None:
        self.bus = bus
        self.spec = spec
        self.lock_count = lock_count
        self.period_s = period_s  # None: no background polling (explicit reads only)
        # Never slower than the full rate's own period: a configured full rate below the idle one wins.
        self.idle_period_s = max(idle_period_s or 0.0, period_s) if period_s else None
        self.linger_s = linger_s
        self._busy_until = 0.0  # time.monotonic() until which the full rate holds
        self._all_locked = False
        self.availability = Availability(f"lock board {spec.address} on bus {bus}", logger)
        self.counters = BoardCounters()
        self.status: BoardStatus | None = None
        self.due = 0.0 if period_s else math.inf
        self._backoff = backoff
        self._frame: bytes | None = None  # the reply `status` was decoded from

    def decode(self, frame: bytes, decoder: Callable[[bytes, BoardSpec], BoardStatus]) -> BoardStatus:
        """`decoder(frame, spec)`, or the last status again (stamped now) when the reply is the same bytes."""
        # An idle board answers the same frame four times a second: decoding 48 locks each time was
        # a good part of an idle station's CPU. The same bytes decode to the same locks.
        if frame == self._frame and self.status is not None:
            return dataclasses.replace(self.status, at=time.monotonic())
        status = decoder(frame, self.spec)
        self._frame = frame
        return status

    @property
    def address(self) -> int:
        return self.spec.address

    @property
    def is_down(self) -> bool:
        return self.availability.available is False

    def on_status(self, status: BoardStatus) -> list[LockEvent]:
        """A successful read: up/baseline/change events, in that order."""
        events: list[LockEvent] = []
        if self.availability.mark_up():
            events.append(BoardUp(self.bus, self.address, status.at))
        self._backoff.reset()
        previous, self.status = self.status, status
        if previous is not None and previous.locks is status.locks:  # decoded from the same frame: no change
            return events
        self._all_locked = all(state.locked for state in status.locks)
        if previous is None:
            events.append(BoardBaseline(self.bus, self.address, status, status.at))
            return events
        for index, (old, new) in enumerate(zip(previous.locks, status.locks, strict=True)):
            if old != new:
                events.append(LockChanged(self.bus, self.address, index + 1, old, new, status.at))
        if events:
            self.stir(status.at)
        return events

    def on_failure(self, error: str, now: float) -> list[LockEvent]:
        """A read that failed after its retries (or a lost port): a down event the first time."""
        if self.availability.mark_down(error):
            return [BoardDown(self.bus, self.address, error, now)]
        return []

    def schedule_next(self, now: float) -> None:
        """After a poll: the regular period when up, backoff while down."""
        if not self.period_s:
            self.due = math.inf
        elif self.is_down:
            self.due = now + self._backoff.next_delay()
        else:
            # Keep the rhythm; when the line has fallen behind, go round-robin by due time.
            self.due = max(self.due + self.current_period(now), now)

    def is_quiet(self, now: float) -> bool:
        """Every lock reads locked and nothing happened for `linger_s`: the idle rate will do."""
        return self._all_locked and now >= self._busy_until

    def current_period(self, now: float) -> float:
        assert self.period_s is not None and self.idle_period_s is not None
        return self.idle_period_s if self.is_quiet(now) else self.period_s

    def stir(self, now: float) -> None:
        """Something happens on this board (a pulse, a change): full rate from now on for `linger_s`."""
        self._busy_until = now + self.linger_s
        if self.period_s:
            self.due = min(self.due, now + self.period_s)

    def poll_now(self) -> None:
        if self.period_s:
            self.due = 0.0

    def suspend(self) -> None:
        """No polls until poll_now() (the port is gone)."""
        self.due = math.inf

    def snapshot(self) -> BoardSnapshot:
        return BoardSnapshot(
            self.address,
            self.lock_count,
            self.availability.snapshot(),
            self.status,
            dataclasses.replace(self.counters),
        )
