"""Drive interrupted purchases to a final state: at start-up, after a lost terminal link, after a failed write.

Never charges again and never opens a door: it only reads what happened (the persisted state, the
door operations, the terminal's answer to a status enquiry) and records it. One `on_<state>` per
non-final state of `flow.SALE` (the engine refuses this class if one is missing).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.engine import StorageUnavailable
from ..db.models import DoorOperation
from ..flows.engine import check_recovery, recover
from ..lockwall.doors import DoorState
from .flow import (
    DOOR_FAULT,
    MAYBE_RELEASED,
    NOT_RELEASED,
    RELEASED,
    SALE,
    SaleState,
    authorisation,
    covered_by_credit,
    mark_lines,
    move,
    record_payment,
)
from .flow import released_compartments as released_of

if TYPE_CHECKING:
    from .service import PurchaseService

log = logging.getLogger(__name__)

DOOR_RECOVERY_WAIT_S = 20.0


def door_outcomes(session: Session, sale_id: str) -> dict[int, str]:
    """Per compartment, what its door did for this sale; an unsettled door counts as maybe opened."""
    outcomes: dict[int, str] = {}
    rows = session.execute(
        select(DoorOperation.compartment_id, DoorOperation.state, DoorOperation.attempts)
        .where(DoorOperation.reason == "sale", DoorOperation.reference == sale_id)
        .order_by(DoorOperation.id)
    )
    for compartment, state, attempts in rows:
        if state in (DoorState.OPENED, DoorState.CLOSED):
            outcomes[compartment] = RELEASED
        elif state == DoorState.UNTOUCHED:
            outcomes[compartment] = NOT_RELEASED
        elif state == DoorState.FAILED:  # pulsed and never seen open: not charged, but a check is due
            outcomes.setdefault(compartment, DOOR_FAULT if attempts else NOT_RELEASED)
        else:  # maybe_opened, or still requested / pulse_sent / not_detected (its board never answered)
            outcomes[compartment] = MAYBE_RELEASED
    return outcomes


def asked_to_book(session: Session, sale_id: str) -> int | None:
    """What the station told (or was about to tell) the terminal to book, None before that."""
    payment = authorisation(session, sale_id)
    if payment is None or "book_cents" not in (payment.details or {}):
        return None
    return int(payment.details["book_cents"])


class PurchaseRecovery:
    def __init__(self, service: PurchaseService) -> None:
        self.service = service
        self.db = service.db
        self.done = False
        self.finished = asyncio.Event()
        self._pending: list[str] = []
        check_recovery(SALE, self)

    def pending(self) -> list[str]:
        return list(self._pending)

    async def run(self) -> None:
        """Start-up: settle every purchase the last run left unfinished, oldest first; retry while storage fails."""
        delay = 0.2
        while True:
            try:
                unfinished = await self.db.read(SALE.unfinished)
                break
            except StorageUnavailable:
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
        self._pending = [sale_id for sale_id, _ in unfinished]
        if unfinished:
            log.warning("recovering %d unfinished purchase(s)", len(unfinished))
            await self.service.lockwall.wait_recovered(DOOR_RECOVERY_WAIT_S)
        while unfinished:
            failed = await recover(unfinished, SALE, self)
            for sale_id, _ in unfinished:
                if (sale_id, _) not in failed and sale_id in self._pending:
                    self._pending.remove(sale_id)
            unfinished = failed
            if failed:
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
        self.done = True
        self.finished.set()

    async def settle(self, sale_id: str) -> SaleState:
        """Move one purchase from wherever it stopped to its final state (retrying while storage fails)."""
        delay = 0.1
        while True:
            try:
                state = await self.db.read(lambda s: SALE.current(s, sale_id))
                if state in SALE.final:
                    return state
                await getattr(self, f"on_{state.value}")(sale_id)
                return await self.db.read(lambda s: SALE.current(s, sale_id))
            except StorageUnavailable:
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)

    # -- one action per non-final state ----------------------------------------------------------------
    async def _to(self, sale_id: str, state: SaleState, payment: str | None = None, **details: Any) -> None:
        def write(session: Session) -> None:
            if payment is not None:
                record_payment(session, sale_id, payment)
            move(session, sale_id, state, recovered=True, **details)

        await self.db.write(write)
        self.service.reported(sale_id, state)

    async def on_created(self, sale_id: str) -> None:
        await self._to(sale_id, SaleState.CANCELLED, why="interrupted before the payment started")

    async def on_payment_requested(self, sale_id: str) -> None:
        # An approval (if any) was never acknowledged: the terminal reverses it. Ask first.
        await self.service.terminal.ask()
        await self._to(sale_id, SaleState.ABORTED, "aborted", why="interrupted before approval")

    async def on_authorised(self, sale_id: str) -> None:
        await self._to(sale_id, SaleState.REVERSED, "reversed", why="interrupted before any door was pulsed")

    async def on_release_requested(self, sale_id: str) -> None:
        def write(session: Session) -> SaleState:
            outcomes = door_outcomes(session, sale_id)
            mark_lines(session, sale_id, outcomes)
            released = released_of(session, sale_id)
            if authorisation(session, sale_id) is not None:  # a card was asked: its approval is reversed
                record_payment(session, sale_id, "reversed")
            if released and MAYBE_RELEASED not in outcomes.values() and covered_by_credit(session, sale_id):
                # Every door that opened was seen, and the credit pays for all of it: nothing is owed.
                move(session, sale_id, SaleState.RELEASED, recovered=True, released=sorted(released))
                move(session, sale_id, SaleState.DONE, recovered=True, why="paid by credit")
                return SaleState.DONE
            final = SaleState.RELEASED_NOT_CHARGED if released else SaleState.REVERSED
            move(session, sale_id, final, recovered=True, released=sorted(released))
            return final

        self.service.reported(sale_id, await self.db.write(write))

    async def on_released(self, sale_id: str) -> None:
        if await self.db.read(lambda s: covered_by_credit(s, sale_id)):
            card = await self.db.read(lambda s: authorisation(s, sale_id) is not None)
            await self._to(sale_id, SaleState.DONE, "reversed" if card else None, why="paid by credit")
            return
        released = await self.db.read(lambda s: released_of(s, sale_id))
        await self._to(sale_id, SaleState.RELEASED_NOT_CHARGED, "reversed", released=sorted(released),
                       why="the terminal reversed the approval we could not answer")

    async def on_not_released(self, sale_id: str) -> None:
        await self._to(sale_id, SaleState.REVERSED, "reversed")

    async def on_book_requested(self, sale_id: str) -> None:
        if await self.db.read(lambda s: asked_to_book(s, sale_id)) == 0:
            # The credit paid for the goods and we answered "not issued" (or never answered): the
            # terminal books nothing either way.
            await self._book_nothing(sale_id)
            return
        # We answered "goods issued" (or were about to): only the end-of-day totals can tell.
        await self.service.terminal.ask()
        await self._to(sale_id, SaleState.CHARGE_UNKNOWN, "unknown")

    async def _book_nothing(self, sale_id: str) -> None:
        def write(session: Session) -> None:
            record_payment(session, sale_id, "reversed")
            move(session, sale_id, SaleState.BOOKED, booked_cents=0)
            move(session, sale_id, SaleState.DONE, why="paid by credit")

        await self.db.write_until_committed(write, what=f"sale {sale_id} paid by credit")
        self.service.reported(sale_id, SaleState.BOOKED)
        self.service.reported(sale_id, SaleState.DONE)

    async def on_booked(self, sale_id: str) -> None:
        await self._to(sale_id, SaleState.DONE)

    # -- paying by app: never opens a door; refunds what it cannot prove released -----------------------------
    async def on_app_requested(self, sale_id: str) -> None:
        await self._to(sale_id, SaleState.EXPIRED, why="interrupted while waiting for the app: the QR code is gone")

    async def on_app_paid(self, sale_id: str) -> None:
        await self._app_settle(sale_id, why="interrupted before any door was pulsed")

    async def on_app_release_requested(self, sale_id: str) -> None:
        await self._app_settle(sale_id, doors=True, why="interrupted while opening the doors")

    async def _app_settle(self, sale_id: str, *, doors: bool = False, why: str) -> None:
        app = self.service.app

        def write(session: Session) -> SaleState:
            outcomes = door_outcomes(session, sale_id) if doors else {}
            if not doors:  # app_paid → refund_requested needs its own arrow; settle_in books nothing released
                return app.settle_paid_in(session, sale_id, why=why)
            return app.settle_in(session, sale_id, outcomes, recovered=True, why=why)

        self.service.reported(sale_id, await self.db.write(write))

    async def terminal_reversed(self, sale_id: str) -> None:
        """The terminal reversed instead of booking (it took our answer as 'not issued')."""
        released = await self.db.read(lambda s: released_of(s, sale_id))
        state = await self.db.read(lambda s: SALE.current(s, sale_id))
        if state is SaleState.BOOK_REQUESTED and await self.db.read(lambda s: asked_to_book(s, sale_id)) == 0:
            await self._book_nothing(sale_id)  # expected: we said "not issued" because the credit paid
        elif state is SaleState.BOOK_REQUESTED or state is SaleState.RELEASED:
            await self._to(sale_id, SaleState.RELEASED_NOT_CHARGED, "reversed", released=sorted(released))
        else:
            await self.settle(sale_id)
