"""Paying a return out: voucher(s), a credit, or a donation, in one transaction with the return's final state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..config.deposit import DepositConfig
from ..db.models import DepositReturn
from ..flows.engine import InvalidTransition, transition
from ..vouchers import ledger
from ..vouchers.receipt import create_voucher_receipt
from . import store
from .flow import RETURN, SETTLED, ReturnState

if TYPE_CHECKING:
    from ..printing import ReceiptDesk


def settle(
    session: Session, config: DepositConfig, desk: ReceiptDesk, return_id: str, choice: str, actor: str,
    why: str | None,
) -> int:
    """Vouchers (issued), their receipts and print jobs, and the final state: one transaction."""
    row = session.get_one(DepositReturn, return_id)
    if RETURN.current(session, return_id) is not ReturnState.CHOOSING:
        raise InvalidTransition(f"return {return_id} is not choosing")
    row.choice = choice
    queued = 0
    if choice in ("voucher", "credit"):
        amounts = ledger.split_amount(row.total_cents)
        items = store.receipt_items(row) if len(amounts) == 1 else []
        medium = "paper" if choice == "voucher" else "credit"
        for amount in amounts:
            voucher = ledger.issue(session, amount, prefix=config.voucher_prefix, origin="return",
                                   medium=medium, actor=actor, reference=return_id, deposit_return_id=return_id)
            queue = medium == "paper" and desk.has_printer
            _receipt, job = create_voucher_receipt(session, desk, voucher, items, queue=queue)
            queued += job is not None
    recipient = config.donation.recipient if choice == "donation" and config.donation else None
    transition(session, RETURN, return_id, SETTLED[choice], actor=actor, expect={ReturnState.CHOOSING},
               reason="deposit_return", reference=return_id, why=why, recipient=recipient)
    return queued
