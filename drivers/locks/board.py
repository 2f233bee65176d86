"""Per-board bookkeeping inside the bus actor: availability, counters, last status, poll schedule."""

from __future__ import annotations

import dataclasses
import logging
import math

from common.availability import Availability
from common.backoff import Backoff

from .events import BoardBaseline, BoardCounters, BoardDown, BoardSnapshot, BoardUp, LockChanged, LockEvent
from .status import BoardSpec, BoardStatus


class BoardTracker:
    """One board on the line; turns read results into events and decides when to poll next."""

    def __init__(
        self,
        bus: str,
        spec: BoardSpec,
        lock_count: int,
        period_s: float | None,
        backoff: Backoff,
        logger: logging.Logger,
    ) -> None:
        self.bus = bus
        self.spec = spec
        self.lock_count = lock_count
        self.period_s = period_s  # None: no background polling (explicit reads only)
        self.availability = Availability(f"lock board {spec.address} on bus {bus}", logger)
        self.counters = BoardCounters()
        self.status: BoardStatus | None = None
        self.due = 0.0 if period_s else math.inf
        self._backoff = backoff

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
        if previous is None:
            events.append(BoardBaseline(self.bus, self.address, status, status.at))
            return events
        for index, (old, new) in enumerate(zip(previous.locks, status.locks, strict=True)):
            if old != new:
                events.append(LockChanged(self.bus, self.address, index + 1, old, new, status.at))
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
            self.due = max(self.due + self.period_s, now)

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
