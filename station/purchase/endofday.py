"""End-of-day settlement of the purchase flow: the terminal's totals against the payments the station booked.

Expected = the sum of booked authorisations not yet reconciled. Sales whose charge is unknown
(the link dropped after we answered "goods issued") are settled here: a difference equal to
their sum means they were charged, no difference means they were not. Anything else raises an
alarm listing the candidates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Payment, Priority, Sale
from ..db.types import utcnow
from ..journal import audit, raise_alarm
from ..outbox import record_event
from .flow import SaleState, move, record_payment, released_compartments, set_booked


@dataclass(frozen=True)
class Reconciliation:
    terminal_cents: int
    expected_cents: int
    difference_cents: int
    matched: bool
    booked_payments: int
    unknown_sales: list[str] = field(default_factory=list)
    settled_unknown_as: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reconcile(session: Session, terminal_cents: int, terminal_count: int | None) -> Reconciliation:
    booked = list(session.scalars(select(Payment).where(Payment.kind == "authorisation", Payment.state == "booked")))
    booked = [p for p in booked if "end_of_day" not in (p.details or {})]
    expected = sum(p.amount_cents for p in booked)
    unknown = list(session.scalars(select(Sale).where(Sale.state == "charge_unknown")))
    unknown_cents = sum(_asked_amount(session, s.id) for s in unknown)
    difference = terminal_cents - expected
    settled_as = None
    if unknown and difference == unknown_cents:
        settled_as = "charged"
    elif unknown and difference == 0:
        settled_as = "not_charged"
    matched = difference == 0 or settled_as == "charged"
    now = utcnow()
    eod = Payment(
        kind="end_of_day",
        state="done",
        amount_cents=terminal_cents,
        created_at=now,
        updated_at=now,
        details={"expected_cents": expected, "difference_cents": difference, "count": terminal_count},
    )
    session.add(eod)
    session.flush()
    for payment in booked:
        payment.details = {**(payment.details or {}), "end_of_day": eod.id}
    if settled_as is not None:
        for sale in unknown:
            _settle_unknown(session, sale, settled_as)
    result = Reconciliation(
        terminal_cents, expected, difference, matched, len(booked), [s.id for s in unknown], settled_as
    )
    record_event(session, "terminal.end_of_day", {"end_of_day_id": eod.id, **result.as_dict()}, priority=Priority.MONEY)
    audit(session, "terminal.end_of_day", "terminal", details=result.as_dict())
    if not matched:
        raise_alarm(
            session,
            "payment.reconciliation_mismatch",
            f"end_of_day:{eod.id}",
            severity="critical",
            details=result.as_dict(),
        )
    return result


def _asked_amount(session: Session, sale_id: str) -> int:
    """What we told the terminal to book for a sale whose charge is unknown."""
    payment = session.scalar(
        select(Payment).where(Payment.sale_id == sale_id, Payment.kind == "authorisation").order_by(Payment.id.desc())
    )
    return 0 if payment is None else int((payment.details or {}).get("book_cents", payment.amount_cents))


def _settle_unknown(session: Session, sale: Sale, how: str) -> None:
    amount = _asked_amount(session, sale.id)
    if how == "charged":
        set_booked(session, sale.id, amount)
        record_payment(session, sale.id, "booked", amount_cents=amount)
        move(session, sale.id, SaleState.DONE, settled_by="end_of_day", booked_cents=amount)
    else:
        record_payment(session, sale.id, "not_charged")
        released = released_compartments(session, sale.id)
        move(session, sale.id, SaleState.RELEASED_NOT_CHARGED, settled_by="end_of_day", released=sorted(released))
