"""The purchase flow, persisted in `sales.state`: its states, its arrow table, and what each arrow writes.

Fixed price with the terminal's vending "issue of goods" answer (zvt.md §9.1): the terminal
approves, we open the doors, and only then tell it what to book (all, part, or nothing).

    created ──► payment_requested ──approved──► authorised ──► release_requested ──► released
       │               ├─ declined ■  aborted ■                      │ none opened      │ some opened
       ▼               │                                       not_released ──► reversed ■
    cancelled ■        │                                                             ▼
                       │                                               book_requested (all or part)
                       │                                                   │ booked     │ link lost
                       │                                                   ▼            ▼
                       │                                          booked ──► done ■   charge_unknown ■
    Interrupted (crash, link lost): see `recovery.py`; every door that may have opened counts as
    released, and goods released without a charge end released_not_charged ■ with its alarm.
    End-of-day settles charge_unknown ■ into done ■ or released_not_charged ■ (`endofday.py`).

Credit (vouchers, a return's credit) is held when the sale is created: the terminal is asked only
for the rest (`card_cents`), and not at all when the credit covers the total:

    created ──► release_requested ──► released ──► done ■        (paid by credit alone)
                                  └─► not_released ──► reversed ■

The sale's first final state settles its vouchers in the same transaction (`vouchers.ledger`):
redeemed when goods were released (a credit above their value leaves a change voucher), given back
otherwise. The card then books only what the credit did not cover (`card_due`).

`move()` is the one way to change a sale's state: the engine refuses arrows outside the table and
writes the audit entry, the money event and the alarm in the same transaction; a final state
settles the compartments through their owner exactly once.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..compartments import owner
from ..db.engine import hot_cursor
from ..db.models import Payment, Priority, Sale, SaleLine
from ..db.types import utcnow
from ..flows.engine import Arrow, Flow, transition
from ..vouchers import ledger as vouchers


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
    # Paying by app (`apppay.py`): the platform confirms, the station releases, refunds what it did not release.
    APP_REQUESTED = "app_requested"
    APP_PAID = "app_paid"
    APP_RELEASE_REQUESTED = "app_release_requested"
    EXPIRED = "expired"
    REFUND_REQUESTED = "refund_requested"


FINAL = frozenset(
    {
        SaleState.DONE,
        SaleState.CANCELLED,
        SaleState.DECLINED,
        SaleState.ABORTED,
        SaleState.REVERSED,
        SaleState.RELEASED_NOT_CHARGED,
        SaleState.CHARGE_UNKNOWN,
        SaleState.EXPIRED,
        SaleState.REFUND_REQUESTED,
    }
)
# Outcomes that end with nothing charged and every unreleased compartment back on sale.
NOT_CHARGED = frozenset({SaleState.CANCELLED, SaleState.DECLINED, SaleState.ABORTED, SaleState.REVERSED,
                         SaleState.EXPIRED, SaleState.REFUND_REQUESTED})

# Line states: what happened at each compartment's door.
RELEASED, MAYBE_RELEASED, NOT_RELEASED, DOOR_FAULT = "released", "maybe_released", "not_released", "door_fault"
OPENED_OR_MAYBE = (RELEASED, MAYBE_RELEASED)
_ALARM = "sale.released_not_charged"


def _arrows() -> list[Arrow[SaleState]]:
    S, M = SaleState, Priority.MONEY
    return [
        Arrow(None, S.CREATED, "compartments reserved"),
        Arrow(S.CREATED, S.PAYMENT_REQUESTED, "about to ask the terminal"),
        Arrow(S.CREATED, S.CANCELLED, "cancelled before paying", event="sale.cancelled", priority=M),
        Arrow(S.CREATED, S.RELEASE_REQUESTED, "the credit covers the whole purchase: no card, open the doors"),
        Arrow(S.PAYMENT_REQUESTED, S.AUTHORISED, "the terminal approved", event="sale.authorised", priority=M),
        Arrow(S.PAYMENT_REQUESTED, S.DECLINED, "the terminal declined", event="sale.declined", priority=M),
        Arrow(S.PAYMENT_REQUESTED, S.ABORTED, "aborted, or interrupted before an approval was acknowledged",
              event="sale.aborted", priority=M),
        Arrow(S.AUTHORISED, S.RELEASE_REQUESTED, "about to open the doors"),
        Arrow(S.AUTHORISED, S.REVERSED, "interrupted before any door was pulsed", event="sale.reversed", priority=M),
        Arrow(S.RELEASE_REQUESTED, S.RELEASED, "at least one door opened"),
        Arrow(S.RELEASE_REQUESTED, S.NOT_RELEASED, "no door opened"),
        Arrow(S.RELEASE_REQUESTED, S.REVERSED, "interrupted; the doors show nothing was released",
              event="sale.reversed", priority=M),
        Arrow(S.RELEASE_REQUESTED, S.RELEASED_NOT_CHARGED, "interrupted; a door opened or may have opened",
              event="sale.released_not_charged", priority=M, alarm=_ALARM),
        Arrow(S.NOT_RELEASED, S.REVERSED, "nothing released: the terminal books nothing", event="sale.reversed",
              priority=M),
        Arrow(S.RELEASED, S.BOOK_REQUESTED, "about to tell the terminal what to book"),
        Arrow(S.RELEASED, S.DONE, "the credit paid for everything released: nothing to book", event="sale.done",
              priority=M),
        Arrow(S.RELEASED, S.RELEASED_NOT_CHARGED, "goods out, but the terminal reversed the approval",
              event="sale.released_not_charged", priority=M, alarm=_ALARM),
        Arrow(S.BOOK_REQUESTED, S.BOOKED, "the terminal booked"),
        Arrow(S.BOOK_REQUESTED, S.RELEASED_NOT_CHARGED, "the terminal reversed instead of booking",
              event="sale.released_not_charged", priority=M, alarm=_ALARM),
        Arrow(S.BOOK_REQUESTED, S.CHARGE_UNKNOWN, "link lost after 'goods issued': end-of-day will tell",
              event="sale.charge_unknown", priority=M),
        Arrow(S.BOOKED, S.DONE, "booked and settled", event="sale.done", priority=M),
        Arrow(S.CHARGE_UNKNOWN, S.DONE, "end-of-day: it was charged", event="sale.done", priority=M),
        Arrow(S.CHARGE_UNKNOWN, S.RELEASED_NOT_CHARGED, "end-of-day: it was not charged",
              event="sale.released_not_charged", priority=M, alarm=_ALARM),
        *_app_arrows(),
    ]


def _app_arrows() -> list[Arrow[SaleState]]:
    """Paying by app: nothing opens before the platform's confirmation is committed; what stays shut is refunded."""
    S, M = SaleState, Priority.MONEY
    return [
        Arrow(S.CREATED, S.APP_REQUESTED, "payment request signed and shown as a QR code"),
        Arrow(S.APP_REQUESTED, S.APP_PAID, "the platform confirmed this sale and amount in time", event="sale.app_paid",
              priority=M),
        Arrow(S.APP_REQUESTED, S.CANCELLED, "cancelled before the app paid", event="sale.cancelled", priority=M),
        Arrow(S.APP_REQUESTED, S.EXPIRED, "no confirmation before the request expired", event="sale.expired",
              priority=M),
        Arrow(S.APP_PAID, S.APP_RELEASE_REQUESTED, "about to open the doors"),
        Arrow(S.APP_PAID, S.REFUND_REQUESTED, "interrupted before any door was pulsed: the whole amount asked back",
              event="sale.refund_requested", priority=M),
        Arrow(S.APP_RELEASE_REQUESTED, S.DONE, "a door opened; refund asked for the goods not released",
              event="sale.done", priority=M),
        Arrow(S.APP_RELEASE_REQUESTED, S.REFUND_REQUESTED, "no door opened: the whole amount asked back",
              event="sale.refund_requested", priority=M),
    ]


_SALE_SQL = "SELECT state, total_cents, booked_cents, credit_cents, card_cents FROM sales WHERE id = ?"
# The vouchers holding or redeemed for the sale (given-back ones have left it).
_VOUCHERS_SQL = (
    "SELECT id, amount_cents, state FROM vouchers WHERE sale_id = ? AND state IN ('held', 'redeemed')"
    " ORDER BY issued_at, id"
)
_VOUCHER_KEYS = ("voucher_id", "amount_cents", "state")
_LINES_SQL = (
    "SELECT compartment_id, product_id, gtin, quantity, unit_price_cents, deposit_cents, vat_rate_bp, state"
    " FROM sale_lines WHERE sale_id = ? ORDER BY id"
)
_PAYMENT_SQL = (
    "SELECT state, receipt_no, trace_no, terminal_id, amount_cents FROM payments"
    " WHERE sale_id = ? AND kind = 'authorisation' ORDER BY id DESC LIMIT 1"
)
_LINE_KEYS = ("compartment", "product_id", "gtin", "quantity", "unit_price_cents", "deposit_cents", "vat_rate_bp",
              "state")
_PAYMENT_KEYS = ("state", "receipt_no", "trace_no", "terminal_id", "amount_cents")


def sale_payload(session: Session, sale_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    """The money event: the sale, its lines with GTIN, what the terminal said, the credit (plain SQL: every arrow)."""
    cursor = hot_cursor(session)
    state, total, booked, credit, card = cursor.execute(_SALE_SQL, (sale_id,)).fetchone()
    lines = [dict(zip(_LINE_KEYS, row, strict=True)) for row in cursor.execute(_LINES_SQL, (sale_id,))]
    payment = cursor.execute(_PAYMENT_SQL, (sale_id,)).fetchone()
    credits = [dict(zip(_VOUCHER_KEYS, row, strict=True)) for row in cursor.execute(_VOUCHERS_SQL, (sale_id,))]
    return {
        "sale_id": sale_id,
        "state": state,
        "total_cents": total,
        "booked_cents": booked,
        "credit_cents": credit,
        "card_cents": card,
        "vouchers": credits,
        "lines": lines,
        "payment": None if payment is None else dict(zip(_PAYMENT_KEYS, payment, strict=True)),
        **details,
    }


SALE = Flow(
    name="sale",
    table=Sale.__table__,  # type: ignore[arg-type]
    model=Sale,
    states=SaleState,
    arrows=_arrows(),
    final=FINAL,
    recovery={
        SaleState.CREATED: "cancelled: nothing reached the terminal",
        SaleState.PAYMENT_REQUESTED: "ask the terminal (status enquiry), then aborted: an approval we never "
        "acknowledged is reversed by the terminal; never authorised again",
        SaleState.AUTHORISED: "reversed: no door was pulsed",
        SaleState.RELEASE_REQUESTED: "the doors tell: opened or maybe opened → released_not_charged (alarm), "
        "none → reversed",
        SaleState.RELEASED: "released_not_charged (alarm): the terminal reversed the unacknowledged approval",
        SaleState.NOT_RELEASED: "reversed",
        SaleState.BOOK_REQUESTED: "ask the terminal, then charge_unknown: end-of-day settles it",
        SaleState.BOOKED: "done",
        SaleState.APP_REQUESTED: "expired: the QR code is gone with the screen; a late confirmation is refunded",
        SaleState.APP_PAID: "refund_requested: no door was pulsed, the whole amount is asked back",
        SaleState.APP_RELEASE_REQUESTED: "the doors tell: seen open → done, refund for the rest; none seen "
        "open → refund_requested (a door that may have opened is refunded too, as a card is not charged for it)",
    },
    payload=sale_payload,
)


_LINE_SQL = (
    "INSERT INTO sale_lines (sale_id, compartment_id, product_id, quantity, unit_price_cents, deposit_cents,"
    " vat_rate_bp, gtin, state) VALUES (:sale_id, :compartment_id, :product_id, :quantity, :unit_price_cents,"
    " :deposit_cents, :vat_rate_bp, :gtin, :state)"
)


def insert_line(session: Session, values: dict[str, Any]) -> None:
    """One sale line (plain SQL, as the flow's own rows)."""
    hot_cursor(session).execute(_LINE_SQL, values)


def move(session: Session, sale_id: str, state: SaleState, *, actor: str = "system", **details: Any) -> SaleState:
    """One arrow of the sale; a final state reached for the first time settles its compartments."""
    before = SALE.current(session, sale_id)
    settles = state in FINAL and before not in FINAL
    if settles:  # the vouchers first, so the sale's event shows them redeemed or given back
        SALE.arrow(before, state)  # an arrow the table lacks is refused before anything is settled
        vouchers.settle_for_sale(session, sale_id, charge_for(session, sale_id))
    previous = transition(session, SALE, sale_id, state, actor=actor, reason="sale", reference=sale_id, **details)
    if settles:
        _settle_compartments(session, sale_id)
    return previous


# The next arrow taken in the same transaction as the one before it (PurchaseService.commit `then`):
# nothing happens outside the database between the two, so one commit carries both.
def release_requested(session: Session, sale_id: str) -> SaleState:
    """After authorised: the intent to open the doors."""
    move(session, sale_id, SaleState.RELEASE_REQUESTED)
    return SaleState.RELEASE_REQUESTED


def book_requested(session: Session, sale_id: str) -> SaleState:
    """After released: the booking of what the card pays for the goods released (the lines just marked)."""
    amount = card_due(session, sale_id)
    record_payment(session, sale_id, "book_requested", details={"book_cents": amount})
    move(session, sale_id, SaleState.BOOK_REQUESTED, book_cents=amount)
    return SaleState.BOOK_REQUESTED


def done(session: Session, sale_id: str) -> SaleState:
    """After booked: the sale is done."""
    move(session, sale_id, SaleState.DONE)
    return SaleState.DONE


def _settle_compartments(session: Session, sale_id: str) -> None:
    for compartment, line_state in session.execute(
        select(SaleLine.compartment_id, SaleLine.state).where(SaleLine.sale_id == sale_id)
    ):
        outcome = {RELEASED: "released", MAYBE_RELEASED: "maybe", DOOR_FAULT: "door_fault"}.get(line_state,
                                                                                                "not_released")
        owner.sale_settled(session, compartment, sale_id, outcome)


def held_compartments(session: Session) -> set[int]:
    """Compartments reserved by purchases that are not final yet (they settle them themselves)."""
    unfinished = [s.value for s in SALE.unfinished_states()]
    return set(
        session.scalars(
            select(SaleLine.compartment_id).join(Sale, Sale.id == SaleLine.sale_id).where(Sale.state.in_(unfinished))
        )
    )


def mark_lines(session: Session, sale_id: str, outcomes: dict[int, str]) -> None:
    """Record per compartment what its door did (lines not named stay not released)."""
    for line in session.scalars(select(SaleLine).where(SaleLine.sale_id == sale_id)):
        line.state = outcomes.get(line.compartment_id, NOT_RELEASED)


def released_compartments(session: Session, sale_id: str, *, maybe: bool = True) -> list[int]:
    states = OPENED_OR_MAYBE if maybe else (RELEASED,)
    return list(
        session.scalars(
            select(SaleLine.compartment_id).where(SaleLine.sale_id == sale_id, SaleLine.state.in_(states))
        )
    )


def charge_for(session: Session, sale_id: str) -> int:
    """What the shopper owes for the lines whose door was seen open."""
    rows = session.execute(
        select(SaleLine.quantity, SaleLine.unit_price_cents, SaleLine.deposit_cents).where(
            SaleLine.sale_id == sale_id, SaleLine.state == RELEASED
        )
    )
    return sum(q * (price + deposit) for q, price, deposit in rows)


def card_due(session: Session, sale_id: str) -> int:
    """What the card must book: the released goods the credit does not cover."""
    credit = session.execute(select(Sale.credit_cents).where(Sale.id == sale_id)).scalar_one()
    return max(0, charge_for(session, sale_id) - credit)


def covered_by_credit(session: Session, sale_id: str) -> bool:
    """The credit pays for every released line (so nothing is owed even if the terminal books nothing)."""
    return charge_for(session, sale_id) > 0 and card_due(session, sale_id) == 0


def authorisation(session: Session, sale_id: str) -> Payment | None:
    return session.scalar(
        select(Payment).where(Payment.sale_id == sale_id, Payment.kind == "authorisation").order_by(Payment.id.desc())
    )


def record_payment(session: Session, sale_id: str, state: str, **fields: Any) -> Payment:
    """Create or update the sale's one authorisation row (what the terminal said)."""
    payment = authorisation(session, sale_id)
    now = utcnow()
    if payment is None:
        asked = session.execute(select(Sale.card_cents).where(Sale.id == sale_id)).scalar_one()
        payment = Payment(sale_id=sale_id, kind="authorisation", state=state, amount_cents=asked, created_at=now,
                          updated_at=now, details={})
        session.add(payment)
    payment.state, payment.updated_at = state, now
    for key, value in fields.items():
        setattr(payment, key, value)
    session.flush()
    return payment


def set_booked(session: Session, sale_id: str, cents: int) -> None:
    session.execute(update(Sale).where(Sale.id == sale_id).values(booked_cents=cents))
