"""A voucher's receipt (Pfandbon): the digital receipt row, and its print job when it is printed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..db.models import Voucher
from ..receipts import DepositItem, DepositVoucher

if TYPE_CHECKING:
    from ..printing.desk import ReceiptDesk

KIND = "deposit_voucher"


def create_voucher_receipt(
    session: Session, desk: ReceiptDesk, voucher: Voucher, items: Sequence[DepositItem] = (), *, queue: bool = False
) -> tuple[str, str | None]:
    """Store the voucher's digital receipt (and queue a print when `queue`); returns (receipt id, job id)."""

    def build(_url: str) -> DepositVoucher:
        return DepositVoucher(shop=desk.shop, serial=voucher.serial, code=voucher.code,
                              amount_cents=voucher.amount_cents, at=voucher.issued_at, items=tuple(items))

    receipt_id = desk.create(session, KIND, build, reference=voucher.id)
    job_id = desk.enqueue(session, receipt_id) if queue else None
    return receipt_id, job_id
