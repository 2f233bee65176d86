"""The app refund flow, persisted in `app_refunds.state`: the station asks the platform to pay money back.

    requested ──► refunded ■        (the platform paid it back)
        └───────► declined ■        (the platform refused: an operator looks at it)

One row per platform payment (`payment_id` is unique), created in the same transaction as the
decision that needs it (a refused confirmation, the part of a sale whose door stayed shut), so a
payment is asked back exactly once however often its confirmation arrives. The request is signed
with the station's key (`apprequest.py`) and travels as the `app.refund_requested` event.
`requested` is resting: nothing runs at the station while the platform decides.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import AppRefund, Priority
from ..db.types import to_db_time, utcnow
from ..flows.engine import Arrow, Flow, created, transition
from .apprequest import REFUND_REQUEST, RequestSigner

# Why a payment is asked back.
NOT_RELEASED, LATE, WRONG_AMOUNT, WRONG_STATION, NOT_WAITING, UNKNOWN_SALE, NO_AGE_PROOF = (
    "not_released", "late", "wrong_amount", "wrong_station", "not_waiting", "unknown_sale", "no_age_proof")


class RefundState(enum.StrEnum):
    REQUESTED = "requested"
    REFUNDED = "refunded"
    DECLINED = "declined"


def _payload(session: Session, refund_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    row = session.get_one(AppRefund, refund_id)
    return {"refund_id": row.id, "payment_id": row.payment_id, "sale_id": row.sale_id,
            "amount_cents": row.amount_cents, "reason": row.reason, "state": row.state, "request": row.request,
            "answer": row.answer, **details}


REFUND = Flow(
    name="app_refund",
    table=AppRefund.__table__,  # type: ignore[arg-type]
    model=AppRefund,
    states=RefundState,
    arrows=[
        Arrow(None, RefundState.REQUESTED, "signed refund request for an app payment", event="app.refund_requested",
              priority=Priority.MONEY),
        Arrow(RefundState.REQUESTED, RefundState.REFUNDED, "the platform paid it back", event="app.refund_closed",
              priority=Priority.MONEY),
        Arrow(RefundState.REQUESTED, RefundState.DECLINED, "the platform refused to pay it back",
              event="app.refund_closed", priority=Priority.MONEY, alarm="app.refund_declined"),
    ],
    final=frozenset({RefundState.REFUNDED, RefundState.DECLINED}),
    resting=frozenset({RefundState.REQUESTED}),
    recovery={},
    payload=_payload,
)


def request(session: Session, signer: RequestSigner, *, station_id: str, payment_id: str, sale_id: str,
            amount_cents: int, reason: str, actor: str = "system") -> AppRefund | None:
    """Ask the platform to pay `amount_cents` of `payment_id` back; None when that payment was asked back before."""
    if session.scalar(select(AppRefund.id).where(AppRefund.payment_id == payment_id)) is not None:
        return None
    refund_id, now = str(uuid.uuid4()), utcnow()
    body = {"station_id": station_id, "refund_id": refund_id, "payment_id": payment_id, "sale_id": sale_id,
            "amount_cents": amount_cents, "currency": "EUR", "reason": reason, "requested_at": to_db_time(now)}
    REFUND.insert(session, {"id": refund_id, "payment_id": payment_id, "sale_id": sale_id,
                            "amount_cents": amount_cents, "reason": reason, "state": RefundState.REQUESTED,
                            "request": signer.sign(REFUND_REQUEST, body), "created_at": now, "updated_at": now})
    created(session, REFUND, refund_id, actor=actor, reason=reason, reference=sale_id)
    return session.get_one(AppRefund, refund_id)


def close(session: Session, refund_id: str, refunded: bool, *, reference: str | None, actor: str) -> dict[str, Any]:
    """The platform's answer; an answer repeated for a closed refund changes nothing."""
    row = session.get(AppRefund, refund_id)
    if row is None:
        raise LookupError(f"no refund {refund_id}")
    target = RefundState.REFUNDED if refunded else RefundState.DECLINED
    if row.state == RefundState.REQUESTED:
        row.answer = {"refunded": refunded, "reference": reference}
        session.flush()
        transition(session, REFUND, refund_id, target, actor=actor, reference=row.sale_id)
    return {"refund_id": refund_id, "state": row.state, "amount_cents": row.amount_cents}
