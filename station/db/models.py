"""The station's domain model (SQLAlchemy 2.x, SQLite).

Money is integer cents everywhere; VAT rates are basis points (700 = 7 %). Times are
timezone-aware UTC. Every table that belongs to a flow touching money, vouchers or doors
carries an explicit `state`; the service owning that flow defines the states.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import UtcDateTime


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict: JSON}


class Priority(enum.IntEnum):
    """Outbox priority class: lower drains first."""

    MONEY = 0
    ALARM = 1
    STOCK = 2  # orders, stock, audit
    TELEMETRY = 3


class StationMeta(Base):
    """Key/value facts about this database: db_epoch, station id, schema notes."""

    __tablename__ = "station_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Counter(Base):
    """Gap-free counters, incremented inside the transaction that uses the number."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gtin: Mapped[str] = mapped_column(String(14), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(Integer, CheckConstraint("price_cents >= 0"))
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=700)
    deposit_cents: Mapped[int] = mapped_column(Integer, default=0)
    temperature_class: Mapped[str] = mapped_column(String(16), default="ambient")
    min_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]
    # Past its best-before date the product leaves sale, unless this marked-down price is set: then it is
    # sold at that price (shown as reduced) for `past_best_before_days` more days. Never for use-by goods.
    past_best_before_price_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    past_best_before_days: Mapped[int] = mapped_column(Integer, default=3)


class Compartment(Base):
    """A locker door; `id` is the number printed on the door.

    `status` is what the compartment is used for (station/compartments/flow.py, written only by
    station/compartments/owner.py); `blocked_reason` summarises its open holds (cold chain,
    operator): while it is set, nothing is sold or handed out from it.
    """

    __tablename__ = "compartments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    bus: Mapped[str] = mapped_column(String(64))
    board: Mapped[int] = mapped_column(Integer)
    lock: Mapped[int] = mapped_column(Integer)
    size: Mapped[str] = mapped_column(String(4), default="M")
    zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="empty")
    blocked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    door_state: Mapped[str | None] = mapped_column(String(16), nullable=True)  # last sensor reading
    updated_at: Mapped[datetime]


class CompartmentHold(Base):
    """Why a compartment is blocked: one row per kind (cold_chain, operator) while the block lasts."""

    __tablename__ = "compartment_holds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    compartment_id: Mapped[int] = mapped_column(ForeignKey("compartments.id"))
    kind: Mapped[str] = mapped_column(String(24))
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor: Mapped[str] = mapped_column(String(64))
    since: Mapped[datetime]
    __table_args__ = (UniqueConstraint("compartment_id", "kind", name="uq_hold_kind"),)


class CompartmentContent(Base):
    """What is in a compartment now (history lives in the audit log and the outbox events)."""

    __tablename__ = "compartment_contents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    compartment_id: Mapped[int] = mapped_column(ForeignKey("compartments.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer, CheckConstraint("quantity >= 0"))
    best_before: Mapped[date | None] = mapped_column(Date, nullable=True)
    use_by: Mapped[date | None] = mapped_column(Date, nullable=True)
    lot: Mapped[str | None] = mapped_column(String(64), nullable=True)
    loaded_by: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime]


class Order(Base):
    """An order or parcel waiting for pick-up."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="order")  # order | parcel
    compartment_id: Mapped[int | None] = mapped_column(ForeignKey("compartments.id"), nullable=True)
    code_hmac: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)  # keyed, station key
    state: Mapped[str] = mapped_column(String(24), default="announced", index=True)
    amount_due_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    picked_up_at: Mapped[datetime | None] = mapped_column(nullable=True)
    details: Mapped[dict] = mapped_column(default=dict)
    size: Mapped[str | None] = mapped_column(String(4), nullable=True)  # S | M | L | XL; none: any
    zone: Mapped[str | None] = mapped_column(String(64), nullable=True)  # temperature zone; none: ambient
    customer_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    items: Mapped[list[Any]] = mapped_column(JSON, default=list)
    wanted_compartment: Mapped[int | None] = mapped_column(Integer, nullable=True)  # named by the platform
    qr_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    card_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    loaded_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    loaded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    collected_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class PickupToken(Base):
    """A signed offline pick-up code that was used (single use) or revoked by the platform."""

    __tablename__ = "pickup_tokens"
    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # used | revoked
    order_external_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime]


class Sale(Base):
    """One purchase; `state` is the persisted purchase state machine."""

    __tablename__ = "sales"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(24))
    total_cents: Mapped[int] = mapped_column(Integer)
    booked_cents: Mapped[int] = mapped_column(Integer, default=0)
    credit_cents: Mapped[int] = mapped_column(Integer, default=0)  # vouchers held by (then redeemed for) the sale
    card_cents: Mapped[int] = mapped_column(Integer, default=0)  # asked of the terminal: total - credit, at least 0
    paid_by: Mapped[str | None] = mapped_column(String(8), nullable=True)  # "card", "app", "credit" once paid
    app_payment_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)  # the platform's
    app_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)  # the app payment request's expiry
    min_age: Mapped[int | None] = mapped_column(Integer, nullable=True)  # highest min_age of its goods
    age_proof: Mapped[str | None] = mapped_column(String(16), nullable=True)  # "customer_card", "app", "terminal"
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    lines: Mapped[list[SaleLine]] = relationship(back_populates="sale", order_by="SaleLine.id", lazy="selectin")


class SaleLine(Base):
    __tablename__ = "sale_lines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale_id: Mapped[str] = mapped_column(ForeignKey("sales.id"), index=True)
    compartment_id: Mapped[int] = mapped_column(ForeignKey("compartments.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    deposit_cents: Mapped[int] = mapped_column(Integer, default=0)
    vat_rate_bp: Mapped[int] = mapped_column(Integer)
    gtin: Mapped[str | None] = mapped_column(String(14), nullable=True)
    state: Mapped[str] = mapped_column(String(24), default="reserved")  # reserved|released|maybe_released|not_released
    sale: Mapped[Sale] = relationship(back_populates="lines")


class Payment(Base):
    """A terminal transaction (authorisation, reversal, refund) and what the terminal said."""

    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sale_id: Mapped[str | None] = mapped_column(ForeignKey("sales.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(24))
    amount_cents: Mapped[int] = mapped_column(Integer)
    result_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    receipt_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    trace_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    card_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    masked_pan: Mapped[str | None] = mapped_column(String(32), nullable=True)
    terminal_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    details: Mapped[dict] = mapped_column(default=dict)


class AppRefund(Base):
    """A refund the station asks of the platform for an app payment (`station/purchase/refunds.py`).

    One per platform payment (`payment_id`): a payment is never refunded twice. `sale_id` is the
    sale the confirmation named (it may not exist here: another station's, or unknown).
    """

    __tablename__ = "app_refunds"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(64), unique=True)
    sale_id: Mapped[str] = mapped_column(String(64), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict] = mapped_column(default=dict)  # the signed request as sent ({"body", "sig"})
    answer: Mapped[dict | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CustomerCard(Base):
    """A customer NFC card whose holder's age a volunteer or operator checked against an ID.

    Only the keyed UID digest and the verified minimum age (16 or 18) are stored: no birth date, no name.
    """

    __tablename__ = "customer_cards"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid_digest: Mapped[str] = mapped_column(String(64), unique=True)
    min_age: Mapped[int] = mapped_column(Integer)
    registered_by: Mapped[str] = mapped_column(String(80))
    registered_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DepositReturn(Base):
    """One bottle-return session at the deposit machine (`station/deposit/flow.py`).

    `machine_session` is the machine's session id once it opened (HR 3); `session_before` the id it
    showed before the open command, so recovery can tell whether the command arrived. `items` sums
    the containers per kind; the containers themselves are `deposit_return_items` rows.
    """

    __tablename__ = "deposit_returns"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    state: Mapped[str] = mapped_column(String(24))
    total_cents: Mapped[int] = mapped_column(Integer, default=0)
    count: Mapped[int] = mapped_column(Integer, default=0)
    machine_cents: Mapped[int] = mapped_column(Integer, default=0)  # what the machine itself credited
    items: Mapped[dict] = mapped_column(default=dict)
    machine_session: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    session_before: Mapped[int | None] = mapped_column(Integer, nullable=True)
    choice: Mapped[str | None] = mapped_column(String(16), nullable=True)  # voucher | credit | donation
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Voucher(Base):
    """A deposit voucher (Pfandbon) or a station credit; `state` issued → held → redeemed | void.

    `code` is the EAN-13 printed and scanned (`deposit/voucher.py`); `medium` paper (printed) or credit
    (shown on the screen, for a purchase right away). `sale_id` is the purchase holding or redeeming it.
    """

    __tablename__ = "vouchers"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    serial: Mapped[str] = mapped_column(String(16), unique=True)
    code: Mapped[str] = mapped_column(String(13), unique=True)
    amount_cents: Mapped[int] = mapped_column(Integer, CheckConstraint("amount_cents >= 0"))
    state: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16), default="return")  # return | change
    medium: Mapped[str] = mapped_column(String(8), default="paper")  # paper | credit
    deposit_return_id: Mapped[str | None] = mapped_column(ForeignKey("deposit_returns.id"), nullable=True)
    issued_for: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)  # the return or sale
    sale_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    redeemed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)  # sale id or the platform's reference
    issued_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime]


class Alarm(Base):
    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str] = mapped_column(String(64))  # e.g. "compartment:12", "fridge:chiller-1"
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    state: Mapped[str] = mapped_column(String(16), default="raised")  # raised | cleared
    raised_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None] = mapped_column(nullable=True)
    details: Mapped[dict] = mapped_column(default=dict)
    __table_args__ = (Index("ix_alarms_open", "state", "kind", "subject"),)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))  # system | volunteer:<id> | operator:<issuer> | shopper
    action: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(48), nullable=True)
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    details: Mapped[dict] = mapped_column(default=dict)


class Volunteer(Base):
    """A person who may log in at the station: volunteer, operator or courier (station/staff/accounts.py).

    `pin_hash` is Argon2id over the PIN peppered with the station key; `badge_hash` and
    `enrolment_hash` are HMAC-SHA256 with that key (kept outside the database, see `staff/secret.py`).
    Accounts are disabled, never deleted: the audit log names them by id.
    """

    __tablename__ = "volunteers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    pin_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    badge_hash: Mapped[str | None] = mapped_column(String(256), nullable=True, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    role: Mapped[str] = mapped_column(String(16), default="volunteer")  # volunteer | operator | courier
    external_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)  # the platform's id
    created_by: Mapped[str] = mapped_column(String(64), default="system")
    disabled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    enrolment_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    enrolment_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)


class OutboxEvent(Base):
    """An event waiting for (or done with) delivery to the platform.

    Stream "main" carries the gap-free sequence (money, alarms, orders, stock, audit);
    stream "telemetry" has its own lossy counter, so expiring telemetry never makes a gap.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    db_epoch: Mapped[str] = mapped_column(String(36))
    stream: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    priority: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    __table_args__ = (
        UniqueConstraint("stream", "seq", name="uq_outbox_stream_seq"),
        # Pending rows only (migration 0011): the relay's reads, health's count and age, retention's cut-off;
        # delivered_at (always NULL in it) makes it cover those queries.
        Index("ix_outbox_pending", "priority", "seq", "stream", "created_at", "delivered_at",
              sqlite_where=text("delivered_at IS NULL")),
    )


class InboxCommand(Base):
    """A command received from the platform, kept past its expiry so replays are recognised."""

    __tablename__ = "inbox"
    cmd_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(64))
    issuer_seq: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(48))
    received_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))  # accepted | rejected | done | failed
    result: Mapped[dict] = mapped_column(default=dict)


class IssuerState(Base):
    """Last accepted command sequence per operator key (persisted rollback protection)."""

    __tablename__ = "issuer_state"
    issuer: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class DoorOperation(Base):
    """One commanded opening of a compartment door, tracked from intent to close."""

    __tablename__ = "door_operations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    compartment_id: Mapped[int] = mapped_column(ForeignKey("compartments.id"), index=True)
    reason: Mapped[str] = mapped_column(String(24))  # sale | pickup | restock | remote | maintenance
    reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    state: Mapped[str] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
