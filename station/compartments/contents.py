"""What is in the compartments now, and what is for sale: loading, removing, offers.

Contents rows describe the present only; a removal deletes them (the audit log and the
`stock.*` events keep the history), so reading what is on offer costs the same after years.
Status changes go through `owner` (the one writer of compartment status).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, insert, select
from sqlalchemy.orm import Session

from ..db.models import Compartment, CompartmentContent, Priority, Product
from ..db.types import utcnow
from ..journal import audit
from ..outbox import record_event
from . import owner
from .flow import Slot


class StockError(Exception):
    """A stock operation that cannot be done (unknown product, compartment not available)."""


@dataclass(frozen=True)
class Offer:
    """One compartment for sale: the touchscreen shows these."""

    compartment: int
    product_id: int
    gtin: str
    name: str
    quantity: int
    price_cents: int
    deposit_cents: int
    vat_rate_bp: int
    best_before: date | None
    use_by: date | None
    temperature_class: str
    min_age: int | None
    status: str

    @property
    def total_cents(self) -> int:
        """What the shopper pays for the whole compartment (goods + deposit)."""
        return self.quantity * (self.price_cents + self.deposit_cents)


_LOADABLE = (Slot.EMPTY, Slot.LOADED, Slot.RESTOCKING, Slot.NEEDS_CHECK)


def load(
    session: Session,
    compartment: int,
    gtin: str,
    quantity: int,
    *,
    actor: str,
    best_before: date | None = None,
    use_by: date | None = None,
    lot: str | None = None,
) -> dict[str, Any]:
    """Record goods put into a compartment; returns the `stock.loaded` payload."""
    if quantity <= 0:
        raise StockError("quantity must be at least 1")
    current = owner.status(session, compartment)
    if current not in _LOADABLE:
        raise StockError(f"compartment {compartment} is {current}")
    product = session.execute(
        select(Product.id, Product.name).where(Product.gtin == gtin, Product.active.is_(True))
    ).first()
    if product is None:
        raise StockError(f"no active product with GTIN {gtin}")
    other = session.scalar(
        select(CompartmentContent.product_id).where(
            CompartmentContent.compartment_id == compartment, CompartmentContent.product_id != product.id
        )
    )
    if other is not None:
        raise StockError(f"compartment {compartment} holds another product")
    session.execute(
        insert(CompartmentContent).values(
            compartment_id=compartment, product_id=product.id, quantity=quantity, best_before=best_before,
            use_by=use_by, lot=lot, loaded_by=actor, loaded_at=utcnow(),
        )
    )
    if current is Slot.EMPTY:
        owner.contents_recorded(session, compartment, actor)
    payload = {
        "compartment": compartment, "gtin": gtin, "name": product.name, "quantity": quantity,
        "best_before": _iso(best_before), "use_by": _iso(use_by), "lot": lot, "by": actor,
    }
    payload["audit_id"] = audit(session, "stock.loaded", f"compartment:{compartment}", actor=actor, reason="restock",
                                details=payload, emit=False)
    record_event(session, "stock.loaded", payload, priority=Priority.STOCK)
    return payload


def remove_all(session: Session, compartment: int, *, actor: str, reason: str) -> dict[str, Any]:
    """Everything in the compartment taken out (expired, damaged, recalled, emptied); returns `stock.removed`."""
    items = contents(session, compartment)
    owner.clear_contents(session, compartment)
    payload = {"compartment": compartment, "items": items, "reason": reason, "by": actor}
    payload["audit_id"] = audit(session, "stock.removed", f"compartment:{compartment}", actor=actor, reason=reason,
                                details=payload, emit=False)
    record_event(session, "stock.removed", payload, priority=Priority.STOCK)
    if owner.status(session, compartment) is Slot.LOADED:
        owner.contents_recorded(session, compartment, actor)
    return payload


def contents(session: Session, compartment: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(CompartmentContent, Product.gtin, Product.name)
        .join(Product, Product.id == CompartmentContent.product_id)
        .where(CompartmentContent.compartment_id == compartment)
        .order_by(CompartmentContent.id)
    ).all()
    return [
        {"gtin": gtin, "name": name, "quantity": c.quantity, "best_before": _iso(c.best_before),
         "use_by": _iso(c.use_by), "lot": c.lot, "loaded_by": c.loaded_by}
        for c, gtin, name in rows
    ]


def offers(session: Session, *, only_sellable: bool = True, today: date | None = None) -> list[Offer]:
    """Compartments with goods, one offer each (a compartment holds one product).

    Sellable: loaded, not blocked, product active, and not past its date: goods with a use-by date
    leave sale at the start of that day, goods past their best-before date the day after it.
    """
    today = today or date.today()
    query = (
        select(Compartment.id, Compartment.status, CompartmentContent, Product)
        .join(CompartmentContent, CompartmentContent.compartment_id == Compartment.id)
        .join(Product, Product.id == CompartmentContent.product_id)
        .where(CompartmentContent.quantity > 0)
        .order_by(Compartment.id, CompartmentContent.id)
    )
    if only_sellable:
        sellable = (Compartment.status == Slot.LOADED.value, Compartment.blocked_reason.is_(None), Product.active)
        query = query.where(and_(*sellable))
    found: dict[int, Offer] = {}
    expired: set[int] = set()
    for comp_id, status, content, product in session.execute(query):
        if only_sellable and _past_date(content, today):
            expired.add(comp_id)
            continue
        previous = found.get(comp_id)
        found[comp_id] = Offer(
            comp_id,
            product.id,
            product.gtin,
            product.name,
            content.quantity + (previous.quantity if previous else 0),
            product.price_cents,
            product.deposit_cents,
            product.vat_rate_bp,
            _earliest(content.best_before, previous.best_before if previous else None),
            _earliest(content.use_by, previous.use_by if previous else None),
            product.temperature_class,
            product.min_age,
            status,
        )
    return [offer for comp, offer in found.items() if comp not in expired]


def _past_date(content: CompartmentContent, today: date) -> bool:
    if content.use_by is not None and content.use_by <= today:
        return True
    return content.best_before is not None and content.best_before < today


def _earliest(a: date | None, b: date | None) -> date | None:
    return min((d for d in (a, b) if d is not None), default=None)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
