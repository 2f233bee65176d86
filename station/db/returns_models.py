"""Deposit return and receipt tables: the containers of a return, digital receipts, the print queue."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class DepositReturnItem(Base):
    """One container the machine accepted, stored before its FIFO event is acknowledged.

    (`machine_session`, `seq`) is the machine's event key (docs/deposit-machine.md §5): the newest row
    tells the FIFO cursor at start-up which event it stored last. `return_id` is NULL for a container
    no return session claims (an alarm asks the operator); `late` marks one that arrived after its
    return was settled. `deposit_cents` is what the station pays (its configuration), `machine_cents`
    what the machine showed the shopper.
    """

    __tablename__ = "deposit_return_items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    return_id: Mapped[str | None] = mapped_column(ForeignKey("deposit_returns.id"), nullable=True, index=True)
    machine_session: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    gtin: Mapped[str] = mapped_column(String(14))
    kind: Mapped[str] = mapped_column(String(12))  # single_use | reusable | crate
    deposit_cents: Mapped[int] = mapped_column(Integer)
    machine_cents: Mapped[int] = mapped_column(Integer)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_at: Mapped[datetime]


class Receipt(Base):
    """A digital receipt: the template data of a printed receipt, reachable at /api/receipts/{id}.

    The id is 128 random bits (URL-safe), because the page may show payment data and is linked
    from a QR code: it must not be guessable. `reference` is what it is a receipt for (a sale id,
    a voucher id, an order).
    """

    __tablename__ = "receipts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # a station.receipts kind: purchase, deposit_voucher, pickup, ...
    reference: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    language: Mapped[str] = mapped_column(String(4))
    data: Mapped[dict]
    created_at: Mapped[datetime]


class PrintJob(Base):
    """One print of a receipt (`station/printing/flow.py`): queued → sending → printed, never sent twice."""

    __tablename__ = "print_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    receipt_id: Mapped[str] = mapped_column(ForeignKey("receipts.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # status checks that refused it (nothing sent)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    __table_args__ = (Index("ix_print_jobs_state", "state", "created_at"),)
