"""The card dialogue of a purchase: ask the terminal for what the credit leaves, open the doors on
approval, and answer the terminal with what was released.

The approval and the intent to open are one commit; the doors open in a task of their own, shielded,
so a repeated approval or an early end of the dialogue never leaves a door half handled. A result the
station cannot be sure of goes to recovery, which asks (never charges again).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from payments.zvt import (
    GOODS_ISSUED,
    GOODS_NOT_ISSUED,
    Aborted,
    Approved,
    Declined,
    GoodsAnswer,
    IntermediateStatus,
    Message,
    NotIssued,
    Refused,
    Result,
    StatusInformation,
    TerminalBusy,
    ZvtError,
    partial_issue,
)

from ..cardterminal.prompts import prompt_for
from ..db.engine import StorageUnavailable
from ..db.models import Sale
from ..flows.engine import InvalidTransition
from .flow import RELEASED, SaleState, card_due, done, record_payment, release_requested

if TYPE_CHECKING:
    from .service import PurchaseService

log = logging.getLogger(__name__)


class CardDialogue:
    def __init__(self, service: PurchaseService) -> None:
        self.service = service

    async def run(self, sale_id: str, compartments: list[int]) -> None:
        """Pay the rest by card: the whole dialogue with the terminal, then its conclusion."""
        service = self.service
        await service.terminal.wait_idle(30.0)
        try:
            await service.commit(sale_id, SaleState.PAYMENT_REQUESTED, also=lambda s: record_payment(
                s, sale_id, "requested"), expect={SaleState.CREATED})
        except InvalidTransition:
            return  # cancelled in the meantime: nothing reached the terminal
        release: dict[str, asyncio.Task[dict[int, str]]] = {}
        asked = await service.db.read(lambda s: s.get_one(Sale, sale_id).card_cents)  # the rest the credit leaves
        try:
            result = await service.terminal.client.authorise(
                asked,
                decide=lambda status: self.decide(sale_id, status, release, compartments),
                observer=lambda message: self.observe(sale_id, message),
            )
        except (TerminalBusy, ZvtError) as exc:  # nothing was sent (busy, terminal unreachable)
            await service.commit(sale_id, SaleState.ABORTED, until_committed=True, error=str(exc),
                                 also=lambda s: record_payment(s, sale_id, "aborted"))
            return
        if "task" in release:  # the doors finish opening even if the dialogue ended early
            await asyncio.shield(release["task"])
        await self.conclude(sale_id, result)

    def observe(self, sale_id: str, message: Message) -> None:
        if isinstance(message, IntermediateStatus):
            self.service.board.say(sale_id, prompt_for(message.code))

    async def decide(
        self, sale_id: str, status: StatusInformation, release: dict[str, Any], compartments: list[int]
    ) -> GoodsAnswer:
        """The terminal approved: record it, open the doors, then answer what to book."""
        service = self.service
        if "task" not in release:
            approved: dict[str, Any] = dict(state="approved", receipt_no=status.receipt_no, trace_no=status.trace_no,
                            terminal_id=status.terminal_id, masked_pan=status.pan,
                            card_type=(status.card_name or "").rstrip("\x00") or None,
                            result_code=status.result_code)
            try:  # the approval and the intent to open, in one commit (nothing happens between them)
                await service.commit(sale_id, SaleState.AUTHORISED, receipt_no=status.receipt_no,
                                     also=lambda s: record_payment(s, sale_id, **approved),
                                     then=partial(release_requested, sale_id=sale_id))
            except StorageUnavailable:
                return GOODS_NOT_ISSUED  # not recorded: nothing opens, the terminal reverses the approval
            release["task"] = asyncio.ensure_future(service.doors.open(sale_id, compartments, book=True))
        # Shielded: when the terminal repeats the approval, or the dialogue ends, the doors still finish.
        outcomes = await asyncio.shield(release["task"])
        if not any(v == RELEASED for v in outcomes.values()):
            return GOODS_NOT_ISSUED
        # book_requested is committed with released (doors.open): the released goods the credit does not cover
        amount = await service.db.read(lambda s: card_due(s, sale_id))
        asked = await service.db.read(lambda s: s.get_one(Sale, sale_id).card_cents)
        if amount == 0:
            return GOODS_NOT_ISSUED  # the credit paid for what was released: the card books nothing
        return GOODS_ISSUED if amount == asked else partial_issue(amount)

    async def conclude(self, sale_id: str, result: Result) -> None:
        """Commit what the dialogue's result says (booked, declined, aborted), or hand it to recovery."""
        service = self.service
        if isinstance(result, Approved):
            booked = result.amount_cents or 0

            def book(session: Session) -> None:
                session.get_one(Sale, sale_id).booked_cents = booked
                record_payment(session, sale_id, "booked", amount_cents=booked)

            await service.commit(sale_id, SaleState.BOOKED, until_committed=True, also=book, booked_cents=booked,
                                 then=partial(done, sale_id=sale_id))
        elif isinstance(result, Declined | Aborted | Refused):
            state = SaleState.DECLINED if isinstance(result, Declined) else SaleState.ABORTED
            code = result.result_code

            def ended(session: Session) -> None:
                record_payment(session, sale_id, str(state), result_code=code)

            await service.commit(sale_id, state, until_committed=True, also=ended, code=code, text=result.text)
        elif isinstance(result, NotIssued):
            await service.recovery.terminal_reversed(sale_id)
        else:  # OutcomeUnknown: ask, never charge again
            log.warning("purchase %s: %s", sale_id, result.describe())
            await service.recovery.settle(sale_id)
