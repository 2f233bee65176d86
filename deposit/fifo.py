"""Taking container events off the machine's FIFO so that none is lost and none is counted twice.

The rule (docs/deposit-machine.md, "Event FIFO"): read the oldest event, persist it, then write its
sequence number to `evt_ack`. The machine keeps an event until that ack arrives, so a crash or a
lost request before the ack means the same event is read again; the cursor recognises it by its
(session, seq) key (the last one persisted) and acknowledges it without persisting it again.
Because the FIFO is strictly ordered, comparing with the last persisted key is enough.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from drivers.modbus import NoResponse

from .machine import DepositMachine
from .protocol import ContainerEvent

log = logging.getLogger(__name__)

EventKey = tuple[int, int]  # (session_id, seq)
Persist = Callable[[ContainerEvent], Awaitable[None]]


@dataclass
class CursorStats:
    persisted: int = 0
    reread: int = 0  # events read again because their ack was lost or not yet applied
    ack_unanswered: int = 0  # acks whose reply never came (the next read shows whether they landed)


class EventCursor:
    """Reads the FIFO head, hands each new event to `persist` exactly once, then acknowledges it.

    `last_persisted` is the key of the newest event already stored (from the database at start-up),
    so a restart between persisting and acknowledging does not store that event twice. `persist`
    must commit durably before it returns; if it raises, nothing is acknowledged.
    """

    def __init__(self, machine: DepositMachine, persist: Persist, last_persisted: EventKey | None = None) -> None:
        self.machine = machine
        self._persist = persist
        self.last_persisted = last_persisted
        self.stats = CursorStats()

    async def step(self) -> ContainerEvent | None:
        """Take one event (persist if new, then ack); None when the FIFO is empty. Modbus errors propagate."""
        event = await self.machine.read_oldest_event()
        if event is None:
            return None
        if event.key == self.last_persisted:
            self.stats.reread += 1
        else:
            await self._persist(event)
            self.last_persisted = event.key
            self.stats.persisted += 1
        try:
            await self.machine.ack_event(event.seq)
        except NoResponse:
            # Persisted already; whether the ack landed shows on the next read (same event again or the next one).
            self.stats.ack_unanswered += 1
            log.debug("deposit machine %s: ack of event %s unanswered", self.machine.name, event.key)
        return event

    async def drain(self, limit: int = 1000) -> list[ContainerEvent]:
        """Take events until the FIFO is empty (at most `limit` reads); returns the events newly persisted."""
        persisted: list[ContainerEvent] = []
        for _ in range(limit):
            before = self.stats.persisted
            event = await self.step()
            if event is None:
                break
            if self.stats.persisted > before:
                persisted.append(event)
        return persisted
