"""The purchase state machine, persisted in `sales.state` (WAL, synchronous=FULL).

Fixed price with the terminal's vending "issue of goods" answer (zvt.md §9.1): the terminal
approves, we release the goods, and only then tell it to book (all, part, or nothing).

    created ──► payment_requested ──approved──► authorised ──► release_requested ──► released
       │               │                                                            │
       │               ├─ declined ■  aborted ■                     none released:  │
       │               │                                       not_released ──► reversed ■
       │               │                                                            │ some released
       ▼               │                                                            ▼
    cancelled ■        │                                              book_requested (all or part)
                       │                                                            │ terminal booked
                       │                                                            ▼
                       │                                                   booked ──► done ■
    Interrupted (crash, link lost, deadline):
      payment_requested ─ ask the terminal ─► aborted ■ (an unacknowledged approval is reversed by it)
      authorised / release_requested / released / not_released ─► reversed ■, or
            released_not_charged ■ (alarm) when a door did open: never charge after the fact
      book_requested ─ ask the terminal ─► charge_unknown ■ (settled by the end-of-day totals)
      booked ─► done ■

Every transition commits before the side effect that follows it, writes the audit log and an
outbox event, and calls `crashpoints.reached("sale.<state>")` right after the commit.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db.models import Compartment, CompartmentStatus, Payment, Priority, Sale, SaleLine
from ..db.types import utcnow
from ..journal import audit, raise_alarm
from ..outbox import record_event
from ..stock import take_out


class SaleState(enum.StrEnum):
    CREATED = "created"
    PAYMENT_REQUESTED = "payment_requested"
    AUTHORISED = "authorised"
    RELEASE_REQUESTED = "release_requested"
    RELEASED = "released"
    NOT_RELEASED = "not_released"
    BOOK_REQUESTED = "book_requested"
    BOOKED = "booked"
    DONE = "done"
    CANCELLED = "cancelled"
    DECLINED = "declined"
    ABORTED = "aborted"
    REVERSED = "reversed"
    RELEASED_NOT_CHARGED = "released_not_charged"
    CHARGE_UNKNOWN = "charge_unknown"


FINAL = frozenset(
    {
        SaleState.DONE,
        SaleState.CANCELLED,
        SaleState.DECLINED,
        SaleState.ABORTED,
        SaleState.REVERSED,
        SaleState.RELEASED_NOT_CHARGED,
        SaleState.CHARGE_UNKNOWN,
    }
)
# Outcomes that end with nothing charged and every unreleased compartment back on sale.
NOT_CHARGED = frozenset({SaleState.CANCELLED, SaleState.DECLINED, SaleState.ABORTED, SaleState.REVERSED})


class InvalidTransition(Exception):
    """An arrow the state machine does not have (e.g. paying for a sale that was cancelled meanwhile)."""


# Arrows that must start from one exact state: a cancel can race the start of the payment.
_ONLY_FROM = {SaleState.PAYMENT_REQUESTED: {SaleState.CREATED}, SaleState.CANCELLED: {SaleState.CREATED}}
# A final state is never left, except that end-of-day settles an unknown charge.
_SETTLES = {SaleState.CHARGE_UNKNOWN: {SaleState.DONE, SaleState.RELEASED_NOT_CHARGED}}


def check_transition(previous: SaleState, state: SaleState) -> None:
    if previous in FINAL and state not in _SETTLES.get(previous, set()):
        raise InvalidTransition(f"sale is {previous}: it cannot become {state}")
    if state in _ONLY_FROM and previous not in _ONLY_FROM[state]:
        raise InvalidTransition(f"sale is {previous}: only {sorted(_ONLY_FROM[state])} can become {state}")


def sale_payload(sale: Sale, **extra: Any) -> dict[str, Any]:
    return {
        "sale_id": sale.id,
        "state": sale.state,
        "total_cents": sale.total_cents,
        "booked_cents": sale.booked_cents,
        "lines": [
            {
                "compartment": line.compartment_id,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
                "deposit_cents": line.deposit_cents,
                "vat_rate_bp": line.vat_rate_bp,
                "state": line.state,
            }
            for line in sale.lines
        ],
        **extra,
    }


def set_state(session: Session, sale_id: str, state: SaleState, **details: Any) -> None:
    """One persisted arrow: state, audit entry, outbox event; final states settle the compartments."""
    previous = SaleState(session.execute(select(Sale.state).where(Sale.id == sale_id)).scalar_one())
    check_transition(previous, state)
    # An ORM-enabled UPDATE: cheap on the hot path, and a Sale already loaded in this session follows it.
    session.execute(update(Sale).where(Sale.id == sale_id).values(state=state, updated_at=utcnow()))
    sale = session.get_one(Sale, sale_id) if state in FINAL or state is SaleState.BOOKED else None
    if sale is not None and state in FINAL and previous not in FINAL:  # end-of-day may re-settle: stock once
        _settle_compartments(session, sale)
    audit(
        session,
        f"sale.{state}",
        f"sale:{sale_id}",
        reason="sale",
        reference=sale_id,
        details={"from": previous, **details},
    )
    if sale is not None:
        record_event(session, f"sale.{state}", sale_payload(sale, **details), priority=Priority.MONEY)
    if sale is not None and state is SaleState.RELEASED_NOT_CHARGED:
        raise_alarm(
            session,
            "sale.released_not_charged",
            f"sale:{sale_id}",
            severity="warning",
            details={"released": [ln.compartment_id for ln in sale.lines if ln.state == "released"], **details},
        )


def _settle_compartments(session: Session, sale: Sale) -> None:
    """Released compartments are empty now; the others go back on sale (if still reserved for us)."""
    for line in sale.lines:
        comp = session.get_one(Compartment, line.compartment_id)
        if line.state == "released":
            take_out(session, comp.id)
        elif comp.status == CompartmentStatus.RESERVED:
            comp.status, comp.updated_at = CompartmentStatus.LOADED, utcnow()


def authorisation(session: Session, sale_id: str) -> Payment | None:
    return session.scalar(
        select(Payment).where(Payment.sale_id == sale_id, Payment.kind == "authorisation").order_by(Payment.id.desc())
    )


def record_payment(session: Session, sale_id: str, state: str, **fields: Any) -> Payment:
    """Create or update the sale's authorisation row (what the terminal said)."""
    payment = authorisation(session, sale_id)
    now = utcnow()
    if payment is None:
        sale = session.get_one(Sale, sale_id)
        payment = Payment(
            sale_id=sale_id,
            kind="authorisation",
            state=state,
            amount_cents=sale.total_cents,
            created_at=now,
            updated_at=now,
            details={},
        )
        session.add(payment)
    payment.state, payment.updated_at = state, now
    for key, value in fields.items():
        setattr(payment, key, value)
    session.flush()
    return payment


def mark_lines(session: Session, sale_id: str, released: set[int]) -> None:
    for line in session.scalars(select(SaleLine).where(SaleLine.sale_id == sale_id)):
        line.state = "released" if line.compartment_id in released else "not_released"


def unfinished(session: Session) -> list[tuple[str, SaleState]]:
    rows = session.execute(
        select(Sale.id, Sale.state).where(Sale.state.not_in([s.value for s in FINAL])).order_by(Sale.created_at)
    )
    return [(sale_id, SaleState(state)) for sale_id, state in rows]
