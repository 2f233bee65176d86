"""Containers of a return, stored one by one in the caller's transaction, and the view of a return."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from deposit import ContainerEvent, ContainerKind
from deposit.gs1 import gtin_text
from deposit.protocol import next_seq

from ..db.models import DepositReturn, Voucher
from ..db.returns_models import DepositReturnItem
from ..db.types import utcnow
from ..flows.engine import created
from ..journal import raise_alarm
from ..receipts import DepositItem
from ..vouchers.receipt import KIND as VOUCHER_RECEIPT
from .flow import FINAL, LATE_ALARM, RETURN, ReturnState

if TYPE_CHECKING:
    from ..printing import ReceiptDesk

KIND_NAMES = {ContainerKind.SINGLE_USE: "single_use", ContainerKind.REUSABLE: "reusable", ContainerKind.CRATE: "crate"}
LABELS = {"single_use": "Einweg", "reusable": "Mehrweg", "crate": "Kasten"}
UNASSIGNED_ALARM = "deposit.unassigned_container"
RECENT = 20  # returns looked at to find an event's owner (the machine's session ids repeat only after 65535)


def last_event_key(session: Session) -> tuple[int, int] | None:
    """(machine session, seq) of the newest container stored: the FIFO cursor's memory across restarts."""
    row = session.execute(
        select(DepositReturnItem.machine_session, DepositReturnItem.seq).order_by(DepositReturnItem.id.desc()).limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def owner_of(session: Session, machine_session: int) -> DepositReturn | None:
    """The return a machine session belongs to: its own, or an `open` one whose open command made it."""
    for row in session.scalars(select(DepositReturn).order_by(DepositReturn.created_at.desc()).limit(RECENT)):
        if row.machine_session == machine_session:
            return row
        if row.state == ReturnState.OPEN and row.session_before is not None \
                and next_seq(row.session_before) == machine_session:
            return row
    return None


def add_container(session: Session, event: ContainerEvent, deposit_cents: int) -> tuple[str | None, bool]:
    """Store one accepted container; returns (return id or None, late). Alarms for late or unclaimed ones."""
    owner = owner_of(session, event.session_id)
    late = owner is not None and owner.state in FINAL
    kind = KIND_NAMES[event.kind]
    session.execute(
        insert(DepositReturnItem).values(
            return_id=None if owner is None else owner.id, machine_session=event.session_id, seq=event.seq,
            gtin=event.gtin_text, kind=kind, deposit_cents=deposit_cents, machine_cents=event.deposit_cents,
            late=late, accepted_at=utcnow(),
        )
    )  # fmt: skip
    details: dict[str, Any] = {"machine_session": event.session_id, "seq": event.seq, "gtin": gtin_text(event.gtin),
                               "kind": kind, "deposit_cents": deposit_cents}
    if owner is None:
        raise_alarm(session, UNASSIGNED_ALARM, f"deposit_session:{event.session_id}", details=details)
        return None, False
    if late:  # the shopper was already paid out: the operator decides whether they are owed this one
        raise_alarm(session, LATE_ALARM, f"deposit_return:{owner.id}", details=details)
        return owner.id, True
    owner.count += 1
    owner.total_cents += deposit_cents
    owner.machine_cents += event.deposit_cents
    items = dict(owner.items or {})
    key = f"{kind}:{deposit_cents}"
    entry = dict(items.get(key) or {"kind": kind, "label": LABELS[kind], "count": 0, "deposit_cents": deposit_cents})
    entry["count"] += 1
    items[key] = entry
    owner.items = items  # a new dict: the JSON column sees the change
    owner.updated_at = utcnow()
    return owner.id, False


def receipt_items(row: DepositReturn) -> list[DepositItem]:
    """The return's containers as voucher receipt lines ("3 x Einweg (0,25 €)")."""
    return [DepositItem(entry["label"], entry["count"], entry["deposit_cents"])
            for entry in sorted((row.items or {}).values(), key=lambda e: (e["kind"], e["deposit_cents"]))]


def view(session: Session, return_id: str, desk: ReceiptDesk | None = None) -> dict[str, Any] | None:
    """Everything the screen shows about a return (None if it does not exist)."""
    row = session.get(DepositReturn, return_id)
    if row is None:
        return None
    vouchers: Sequence[Voucher] = list(
        session.scalars(select(Voucher).where(Voucher.issued_for == return_id).order_by(Voucher.issued_at))
    )
    out = []
    for voucher in vouchers:
        receipt = desk.for_reference(session, voucher.id, VOUCHER_RECEIPT) if desk is not None else None
        out.append({
            "voucher_id": voucher.id, "code": voucher.code, "amount_cents": voucher.amount_cents,
            "medium": voucher.medium, "state": voucher.state,
            "receipt_id": None if receipt is None else receipt.id,
            "receipt_url": None if receipt is None or desk is None else desk.url(receipt.id),
            "print_state": None if receipt is None or desk is None else desk.print_state(session, receipt.id),
        })  # fmt: skip
    return {
        "return_id": row.id,
        "state": row.state,
        "count": row.count,
        "total_cents": row.total_cents,
        "items": [dict(entry) for entry in (row.items or {}).values()],
        "choice": row.choice,
        "vouchers": out,
        "created_at": row.created_at.isoformat(),
    }


def create_return(session: Session, return_id: str, session_before: int) -> None:
    now = utcnow()
    session.execute(insert(DepositReturn).values(id=return_id, state=ReturnState.OPEN.value, total_cents=0, count=0,
                                                 machine_cents=0, items={}, session_before=session_before,
                                                 created_at=now, updated_at=now))
    created(session, RETURN, return_id, actor="shopper", reason="deposit_return", reference=return_id,
            session_before=session_before)


def unfinished_newest_first(session: Session) -> list[tuple[str, ReturnState]]:
    rows = session.execute(
        select(DepositReturn.id, DepositReturn.state)
        .where(DepositReturn.state.in_([s.value for s in RETURN.unfinished_states()]))
        .order_by(DepositReturn.created_at.desc())  # newest first: it becomes the current one
    )
    return [(key, ReturnState(state)) for key, state in rows]
