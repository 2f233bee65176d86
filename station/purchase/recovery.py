"""Drive interrupted purchases to a final state: at start-up, and after a lost terminal link.

Never charges again and never opens a door: it only reads what happened (the persisted
state, the door operations, the terminal's answer to a status enquiry) and records it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import DoorOperation, Sale
from ..lockwall.doors import DoorState
from . import states
from .states import FINAL, SaleState

if TYPE_CHECKING:
    from .service import PurchaseService

log = logging.getLogger(__name__)

DOOR_RECOVERY_WAIT_S = 20.0
_NOT_OPENED = {DoorState.FAILED.value, DoorState.ABANDONED.value}  # settled, and the door stayed shut


class Recovery:
    def __init__(self, service: PurchaseService) -> None:
        self.service = service
        self.done = False
        self.finished = asyncio.Event()
        self._pending: list[str] = []

    def pending(self) -> list[str]:
        return list(self._pending)

    async def run(self) -> None:
        """Start-up: settle every purchase the last run left unfinished, oldest first."""
        unfinished = await self.service.db.read(states.unfinished)
        self._pending = [sale_id for sale_id, _ in unfinished]
        if unfinished:
            log.warning("recovering %d unfinished purchase(s)", len(unfinished))
            await self.service.lockwall.wait_recovered(DOOR_RECOVERY_WAIT_S)
        for sale_id, _state in unfinished:
            try:
                await self.settle(sale_id)
            except Exception:
                log.exception("recovery of purchase %s failed", sale_id)
            self._pending.remove(sale_id)
        self.done = True
        self.finished.set()

    async def settle(self, sale_id: str, *, terminal_reversed: bool = False) -> SaleState:
        """Move one purchase from wherever it stopped to its final state."""
        state = SaleState(await self.service.db.read(lambda s: s.get_one(Sale, sale_id).state))
        transition = self.service._transition
        if state in FINAL:
            return state
        if state is SaleState.CREATED:
            await transition(sale_id, SaleState.CANCELLED, recovered=True)
            return SaleState.CANCELLED
        if state is SaleState.BOOKED:
            await transition(sale_id, SaleState.DONE, recovered=True)
            return SaleState.DONE
        if state is SaleState.PAYMENT_REQUESTED:
            # The approval (if any) was never acknowledged: the terminal reverses it. Ask first.
            await self.service.terminal.ask()
            await self._payment(sale_id, "aborted")
            await transition(sale_id, SaleState.ABORTED, recovered=True, reason="interrupted before approval")
            return SaleState.ABORTED
        if state is SaleState.BOOK_REQUESTED and not terminal_reversed:
            # We answered "goods issued" (or were about to): only the end-of-day totals can tell.
            await self.service.terminal.ask()
            await self._payment(sale_id, "unknown")
            await transition(sale_id, SaleState.CHARGE_UNKNOWN, recovered=True)
            return SaleState.CHARGE_UNKNOWN
        released = await self.service.db.write(lambda s: self._released(s, sale_id, state))
        await self._payment(sale_id, "reversed")
        final = SaleState.RELEASED_NOT_CHARGED if released else SaleState.REVERSED
        await transition(sale_id, final, recovered=True, released=sorted(released))
        return final

    async def _payment(self, sale_id: str, payment_state: str) -> None:
        await self.service.db.write(lambda s: states.record_payment(s, sale_id, payment_state))

    @staticmethod
    def _released(session: Session, sale_id: str, state: SaleState) -> set[int]:
        """Which compartments were opened for this sale; from the door operations if not yet recorded."""
        sale = session.get_one(Sale, sale_id)
        if state is SaleState.AUTHORISED:
            released: set[int] = set()
        elif state in (SaleState.RELEASED, SaleState.NOT_RELEASED, SaleState.BOOK_REQUESTED):
            released = {ln.compartment_id for ln in sale.lines if ln.state == "released"}
        else:  # release_requested: the doors tell; an unsettled door counts as possibly opened
            ops = session.scalars(
                select(DoorOperation).where(DoorOperation.reference == sale_id, DoorOperation.reason == "sale")
            )
            released = {op.compartment_id for op in ops if op.state not in _NOT_OPENED}
        states.mark_lines(session, sale_id, released)
        return released
