"""End-of-day settlement of the purchase flow: the terminal's totals against the payments the station booked.

Expected = the sum of booked authorisations not yet reconciled. Sales whose charge is unknown
(the link dropped after we answered "goods issued") are settled here: the one set of them whose
amounts add up to the difference was charged, the others were not. When no set or several sets
fit, nothing is settled and an alarm lists the candidates for an operator.
"""

from __future__ import annotations

import itertools
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
    settled_unknown_as: str | None = None  # charged | not_charged | some_charged (see charged_sales)
    charged_sales: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


MAX_UNKNOWN_FOR_SUBSETS = 16  # 2^16 combinations at most; more unknown sales in one day is an incident anyway


def charged_subset(amounts: dict[str, int], difference: int) -> set[str] | None:
    """The one set of unknown sales whose asked amounts add up to `difference`; None if none or several do.

    Several sets can match (two unknown sales of the same amount, one charged): then the totals cannot
    tell which, and an operator decides (the mismatch alarm lists the candidates).
    """
    if len(amounts) > MAX_UNKNOWN_FOR_SUBSETS:
        every = sum(amounts.values())
        return set(amounts) if difference == every else (set() if difference == 0 else None)
    found: list[set[str]] = []
    ids = sorted(amounts)
    for size in range(len(ids) + 1):
        for combo in itertools.combinations(ids, size):
            if sum(amounts[i] for i in combo) == difference:
                found.append(set(combo))
                if len(found) > 1:
                    return None
    return found[0] if found else None


def reconcile(session: Session, terminal_cents: int, terminal_count: int | None) -> Reconciliation:
    booked = list(session.scalars(select(Payment).where(Payment.kind == "authorisation", Payment.state == "booked")))
    booked = [p for p in booked if "end_of_day" not in (p.details or {})]
    expected = sum(p.amount_cents for p in booked)
    unknown = list(session.scalars(select(Sale).where(Sale.state == "charge_unknown")))
    difference = terminal_cents - expected
    charged = charged_subset({s.id: _asked_amount(session, s.id) for s in unknown}, difference) if unknown else None
    settled_as = None
    if charged is not None:
        settled_as = "charged" if charged == {s.id for s in unknown} else ("not_charged" if not charged
                                                                           else "some_charged")
    matched = difference == 0 or charged is not None
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
    if charged is not None:
        for sale in unknown:
            _settle_unknown(session, sale, "charged" if sale.id in charged else "not_charged")
    result = Reconciliation(
        terminal_cents, expected, difference, matched, len(booked), [s.id for s in unknown], settled_as,
        sorted(charged or []),
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
