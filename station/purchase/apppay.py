"""Paying by app: the side effects of the sale flow's app states (`flow.py`), and the platform's confirmation.

    created ──► app_requested ──confirmed──► app_paid ──► app_release_requested ──► done ■ (refund for the rest)
                    ├─► expired ■  cancelled ■     │                 └─► refund_requested ■ (no door opened)
                    │                              └─► refund_requested ■ (interrupted before any door)

The station signs a payment request (station, sale, amount, minimum age, expiry) that the screen shows
as a QR code. The platform's app pays the platform, and the platform sends `confirm_app_payment`, a
signed command for exactly that sale and amount. The confirmation is checked and committed in one
transaction with the command's result (`confirm_in`), before any door is pulsed; a refused one gets a
refund request in that same transaction (`refunds.py`, one per platform payment). What a door did not
release is asked back in the transaction that records the doors. Recovery (`recovery.py`) never opens
a door: it expires a waiting request and refunds what it cannot prove released.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.engine import StorageUnavailable
from ..db.models import AppRefund, Sale, SaleLine
from ..db.types import utcnow
from ..flows.engine import InvalidTransition
from . import refunds
from .age import APP, Proof, audit_check
from .apprequest import PAYMENT_REQUEST, RequestSigner, payment_request_body
from .flow import RELEASED, SaleState, card_due, mark_lines, move

if TYPE_CHECKING:
    from .service import PurchaseService

log = logging.getLogger(__name__)

REQUEST_TTL_S = 180.0
UNAVAILABLE_TEXT = "Die App kann gerade nicht genutzt werden – bitte mit Karte bezahlen"


@dataclass(frozen=True)
class Confirmation:
    """The platform's word that an app payment for this sale and amount succeeded."""

    payment_id: str
    sale_id: str
    station_id: str
    amount_cents: int
    age_verified: int | None = None  # the platform verified the account holder is at least this old


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str | None = None  # why refused: see refunds.py
    refund_id: str | None = None
    sale_state: str | None = None


class AppPayments:
    """Part of the purchase service: signs requests, checks confirmations, releases, refunds."""

    def __init__(self, service: PurchaseService, signer: RequestSigner | None, station_id: str, *,
                 request_ttl_s: float = REQUEST_TTL_S, uplink: Callable[[], bool] | None = None) -> None:
        self.service, self.signer, self.station_id = service, signer, station_id
        self.request_ttl_s = request_ttl_s
        self.uplink = uplink or (lambda: False)

    def available(self) -> bool:
        """An app payment needs the signing key and a link to the platform (its confirmation comes over it)."""
        return self.signer is not None and self.uplink()

    # -- the request ---------------------------------------------------------------------------------
    def expiry(self) -> Any:
        return utcnow() + timedelta(seconds=self.request_ttl_s)

    def request_in(self, session: Session, sale_id: str) -> dict[str, str] | None:
        """The signed payment request of a sale waiting for its app payment (deterministic: made from the row)."""
        sale = session.get(Sale, sale_id)
        if sale is None or self.signer is None or sale.app_expires_at is None:
            return None
        body = payment_request_body(self.station_id, sale_id, sale.card_cents, sale.min_age, sale.created_at,
                                    sale.app_expires_at)
        return self.signer.sign(PAYMENT_REQUEST, body)

    async def wait_then_expire(self, sale_id: str) -> None:
        """The request's lifetime ends: a sale still waiting expires (a confirmation after that is refunded)."""
        expires = await self.service.db.read(lambda s: s.get_one(Sale, sale_id).app_expires_at)
        if expires is not None:
            await asyncio.sleep(max(0.0, (expires - utcnow()).total_seconds()))
        try:
            await self.service.commit(sale_id, SaleState.EXPIRED, expect={SaleState.APP_REQUESTED},
                                       until_committed=True, why="no confirmation in time")
        except InvalidTransition:
            pass  # confirmed or cancelled meanwhile

    # -- the confirmation ----------------------------------------------------------------------------
    def confirm_in(self, session: Session, c: Confirmation, actor: str) -> Verdict:
        """Check a confirmation and commit its outcome in the caller's transaction (the command's)."""
        sale = session.get(Sale, c.sale_id)
        if sale is not None and sale.app_payment_id == c.payment_id:
            return Verdict(False, "already_used", sale_state=sale.state)  # a replay: it paid this sale once
        if session.scalar(select(Sale.id).where(Sale.app_payment_id == c.payment_id)) is not None:
            return Verdict(False, "already_used")  # it paid another sale
        reason = self._refusal(session, sale, c)
        if reason is None:
            assert sale is not None
            return self._accept(session, sale, c, actor)
        if reason == refunds.LATE and sale is not None and sale.state == SaleState.APP_REQUESTED:
            move(session, sale.id, SaleState.EXPIRED, actor=actor, why="confirmation after the expiry")
        if reason == refunds.NO_AGE_PROOF and sale is not None:
            audit_check(session, sale.id, sale.min_age or 0, None if c.age_verified is None else
                        Proof(APP, c.age_verified), passed=False, method="app", why="confirmation without age")
        return self._refund(session, c, reason, actor, sale)

    def _refusal(self, session: Session, sale: Sale | None, c: Confirmation) -> str | None:
        if c.station_id != self.station_id:
            return refunds.WRONG_STATION
        if sale is None:
            return refunds.UNKNOWN_SALE
        if sale.state == SaleState.EXPIRED:
            return refunds.LATE
        if sale.state != SaleState.APP_REQUESTED:
            return refunds.NOT_WAITING
        if sale.app_expires_at is None or utcnow() > sale.app_expires_at:
            return refunds.LATE
        if c.amount_cents != sale.card_cents:
            return refunds.WRONG_AMOUNT
        if sale.min_age and sale.age_proof is None and (c.age_verified or 0) < sale.min_age:
            return refunds.NO_AGE_PROOF
        return None

    def _accept(self, session: Session, sale: Sale, c: Confirmation, actor: str) -> Verdict:
        sale.app_payment_id, sale.paid_by = c.payment_id, "app"
        if sale.min_age and sale.age_proof is None:
            sale.age_proof = APP
            audit_check(session, sale.id, sale.min_age, Proof(APP, c.age_verified or 0), passed=True, method="app")
        session.flush()
        move(session, sale.id, SaleState.APP_PAID, actor=actor, payment_id=c.payment_id, paid_by="app",
             amount_cents=c.amount_cents)
        return Verdict(True, sale_state=SaleState.APP_PAID)

    def _refund(self, session: Session, c: Confirmation, reason: str, actor: str, sale: Sale | None) -> Verdict:
        assert self.signer is not None
        refund = refunds.request(session, self.signer, station_id=self.station_id, payment_id=c.payment_id,
                                 sale_id=c.sale_id, amount_cents=c.amount_cents, reason=reason, actor=actor)
        if refund is None:  # asked back before (the same refused payment, confirmed again)
            refund = session.scalar(select(AppRefund).where(AppRefund.payment_id == c.payment_id))
        return Verdict(False, reason, refund.id if refund else None, sale.state if sale else None)

    async def confirm(self, c: Confirmation, actor: str,
                      also: Callable[[Session, Verdict], Any] | None = None) -> Verdict:
        """Check and commit a confirmation (and `also`: the command's result, same transaction), then release."""

        def write(session: Session) -> Verdict:
            verdict = self.confirm_in(session, c, actor)
            if also is not None:
                also(session, verdict)
            return verdict

        verdict = await self.service.db.write(write)
        self.confirmed(c.sale_id, verdict)
        return verdict

    def confirmed(self, sale_id: str, verdict: Verdict) -> None:
        """After the confirmation committed: release the goods (in the purchase service's own task)."""
        if verdict.accepted:
            self.service.reported(sale_id, SaleState.APP_PAID)
            self.service._spawn(self.release(sale_id), f"app-release-{sale_id[:8]}")
        elif verdict.sale_state == SaleState.EXPIRED:
            self.service.reported(sale_id, SaleState.EXPIRED)

    # -- releasing -----------------------------------------------------------------------------------
    async def release(self, sale_id: str) -> None:
        """app_paid is committed: open the doors, then book what they released and ask back the rest."""
        try:
            await self.service.commit(sale_id, SaleState.APP_RELEASE_REQUESTED, expect={SaleState.APP_PAID})
        except (InvalidTransition, StorageUnavailable):
            await self.service.recovery.settle(sale_id)  # nothing pulsed: refunded in full
            return
        compartments = await self.service.db.read(lambda s: list(s.scalars(
            select(SaleLine.compartment_id).where(SaleLine.sale_id == sale_id).order_by(SaleLine.id))))
        self.service.board.say(sale_id, "Mit der App bezahlt")
        outcomes = await self.service.doors.pulse(sale_id, compartments)
        state = await self.service.db.write_until_committed(lambda s: self.settle_in(s, sale_id, outcomes),
                                                              what=f"sale {sale_id} released")
        self.service.reported(sale_id, state)

    def settle_in(self, session: Session, sale_id: str, outcomes: dict[int, str], **details: Any) -> SaleState:
        """Record what the doors did; book what was released, ask the platform back for the rest."""
        mark_lines(session, sale_id, outcomes)
        sale = session.get_one(Sale, sale_id)
        kept = card_due(session, sale_id)  # the released goods the credit does not cover
        back = sale.card_cents - kept
        if back > 0 and sale.app_payment_id is not None:
            assert self.signer is not None
            refunds.request(session, self.signer, station_id=self.station_id, payment_id=sale.app_payment_id,
                            sale_id=sale_id, amount_cents=back, reason=refunds.NOT_RELEASED)
        sale.booked_cents = kept
        session.flush()
        released = sorted(c for c, v in outcomes.items() if v == RELEASED)
        state = SaleState.DONE if released else SaleState.REFUND_REQUESTED
        move(session, sale_id, state, released=released, booked_cents=kept, refund_cents=back, paid_by="app",
             **details)
        return state

    def settle_paid_in(self, session: Session, sale_id: str, **details: Any) -> SaleState:
        """app_paid and no door pulsed: the whole amount is asked back."""
        sale = session.get_one(Sale, sale_id)
        if sale.app_payment_id is not None and sale.card_cents > 0:
            assert self.signer is not None
            refunds.request(session, self.signer, station_id=self.station_id, payment_id=sale.app_payment_id,
                            sale_id=sale_id, amount_cents=sale.card_cents, reason=refunds.NOT_RELEASED)
        move(session, sale_id, SaleState.REFUND_REQUESTED, refund_cents=sale.card_cents, paid_by="app",
             recovered=True, **details)
        return SaleState.REFUND_REQUESTED
