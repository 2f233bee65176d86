"""Creating a sale: the cart's offers, the reservation, the held vouchers and the age check, in one transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from ..compartments import CompartmentError, offers, owner
from ..db.models import Sale, SaleLine
from ..db.types import utcnow
from ..flows.engine import created
from ..vouchers import ledger as vouchers
from .age import check_cart
from .errors import PurchaseError
from .flow import SALE, SaleState, move


def create_sale(
    session: Session, sale_id: str, compartments: list[int], codes: list[str] | tuple[str, ...],
    today: date | None = None, *, pay_with: str = "card", digest: str | None = None, expires: Any = None,
    app_ok: bool = False,
) -> None:
    """Insert the sale and its lines, reserve the compartments, hold the vouchers, check the age (else raise)."""
    by_compartment = {o.compartment: o for o in offers(session, today=today)}
    missing = [c for c in compartments if c not in by_compartment]
    if missing:
        raise PurchaseError("not_available", f"Fach {missing[0]} ist nicht (mehr) zu kaufen")
    now = utcnow()
    total = sum(by_compartment[c].total_cents for c in compartments)
    session.execute(insert(Sale).values(id=sale_id, state=SaleState.CREATED.value, total_cents=total,
                                        booked_cents=0, credit_cents=0, card_cents=total, created_at=now,
                                        updated_at=now))
    if codes:  # held in this transaction: a voucher is never in two purchases, nor lost if this one fails
        credit = sum(v.amount_cents for v in vouchers.hold_for_sale(session, codes, sale_id))
        session.execute(update(Sale).where(Sale.id == sale_id).values(credit_cents=credit,
                                                                      card_cents=max(0, total - credit)))
    for comp_id in compartments:
        offer = by_compartment[comp_id]
        session.execute(
            insert(SaleLine).values(sale_id=sale_id, compartment_id=comp_id, product_id=offer.product_id,
                                    gtin=offer.gtin, quantity=offer.quantity, unit_price_cents=offer.price_cents,
                                    deposit_cents=offer.deposit_cents, vat_rate_bp=offer.vat_rate_bp,
                                    state="reserved")
        )
        try:  # a cold-chain block committed just before is seen here: same transaction as the reservation
            owner.reserve_for_sale(session, comp_id, sale_id)
        except CompartmentError as exc:
            raise PurchaseError("not_available", str(exc)) from None
    required = max((by_compartment[c].min_age or 0 for c in compartments), default=0) or None
    proof = check_cart(session, sale_id, required, digest, pay_with, app_ok)
    session.execute(update(Sale).where(Sale.id == sale_id).values(min_age=required, age_proof=proof))
    created(session, SALE, sale_id, actor="shopper", reason="sale", reference=sale_id, compartments=compartments)
    if pay_with == "app":
        session.execute(update(Sale).where(Sale.id == sale_id).values(app_expires_at=expires))
        move(session, sale_id, SaleState.APP_REQUESTED, actor="shopper", expires_at=expires.isoformat())
    session.flush()
