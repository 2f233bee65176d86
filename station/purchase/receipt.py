"""The receipts of a purchase that ended with goods: its Beleg and, when a credit left change, the change voucher."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..db.models import Counter, Product, Sale, SaleLine
from ..receipts import CardPayment, PurchaseLine, PurchaseReceipt
from ..vouchers import ledger as vouchers
from ..vouchers.receipt import create_voucher_receipt
from .flow import RELEASED, authorisation, charge_for

if TYPE_CHECKING:
    from ..printing import ReceiptDesk

KIND = "purchase"


def next_receipt_number(session: Session) -> int:
    """The station's gap-free receipt number (Beleg-Nr.), drawn in the receipt's transaction."""
    statement = sqlite_insert(Counter).values(name="receipt", value=1)
    statement = statement.on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
    session.execute(statement)
    return int(session.execute(select(Counter.value).where(Counter.name == "receipt")).scalar_one())


def purchase_receipt_data(session: Session, desk: ReceiptDesk, sale_id: str, url: str, number: int) -> PurchaseReceipt:
    """What the receipt shows: the released lines, the credit used, what the card paid."""
    sale = session.get_one(Sale, sale_id)
    rows = session.execute(
        select(SaleLine, Product.name).join(Product, Product.id == SaleLine.product_id)
        .where(SaleLine.sale_id == sale_id, SaleLine.state == RELEASED).order_by(SaleLine.id)
    ).all()
    lines = [PurchaseLine(name, line.quantity, line.unit_price_cents, vat_percent=line.vat_rate_bp / 100,
                          deposit_cents=line.deposit_cents, compartment=line.compartment_id) for line, name in rows]
    credit = vouchers.credit_used(sale.credit_cents, charge_for(session, sale_id))
    codes = [v.code for v in vouchers.held_by(session, sale_id, ("redeemed",))]
    payment = authorisation(session, sale_id)
    card = None
    if payment is not None and sale.card_cents > 0 and payment.state in ("booked", "unknown"):
        card = CardPayment(method=payment.card_type or "Karte", card_number=payment.masked_pan,
                           terminal_id=payment.terminal_id,
                           trace_number=None if payment.trace_no is None else str(payment.trace_no),
                           receipt_number=None if payment.receipt_no is None else str(payment.receipt_no))
    if sale.paid_by == "app":  # paid through the platform's app: its payment id stands for the terminal's Beleg-Nr.
        card = CardPayment(method="App", receipt_number=sale.app_payment_id)
    return PurchaseReceipt(shop=desk.shop, receipt_number=f"{number:06d}", at=sale.updated_at, lines=tuple(lines),
                           payment=card, deposit_voucher_code=", ".join(codes) or None, deposit_credit_cents=credit,
                           digital_receipt_url=url)


def create_purchase_receipts(session: Session, desk: ReceiptDesk, sale_id: str) -> str | None:
    """Store the purchase's receipt (queued for printing when configured) and its change voucher's; idempotent."""
    existing = desk.for_reference(session, sale_id, KIND)
    if existing is not None:
        return existing.id
    if not session.scalar(select(SaleLine.id).where(SaleLine.sale_id == sale_id, SaleLine.state == RELEASED)):
        return None
    number = next_receipt_number(session)
    receipt_id = desk.create(session, KIND, lambda url: purchase_receipt_data(session, desk, sale_id, url, number),
                             reference=sale_id)
    if desk.settings.print_purchases:
        desk.enqueue(session, receipt_id, actor="shopper")
    for change in vouchers.change_of(session, sale_id):
        _receipt, job = create_voucher_receipt(session, desk, change, queue=desk.has_printer)
        if job is not None:
            change.medium = "paper"
    return receipt_id
