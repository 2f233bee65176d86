"""What is in the compartments: loading (restock), what is for sale, reservations for a purchase."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import Compartment, CompartmentContent, CompartmentStatus, Priority, Product
from .db.types import utcnow
from .journal import audit
from .outbox import record_event


class StockError(Exception):
    """A stock operation that cannot be done (unknown product, compartment not available)."""


@dataclass(frozen=True)
class Offer:
    """One compartment for sale: the touchscreen shows these."""

    compartment: int
    gtin: str
    name: str
    quantity: int
    price_cents: int
    deposit_cents: int
    vat_rate_bp: int
    best_before: date | None
    temperature_class: str
    min_age: int | None
    status: str

    @property
    def total_cents(self) -> int:
        """What the shopper pays for the whole compartment (goods + deposit)."""
        return self.quantity * (self.price_cents + self.deposit_cents)


def load_compartment(
    session: Session, compartment_id: int, gtin: str, quantity: int, *, best_before: date | None, loaded_by: str
) -> CompartmentContent:
    """Restock: put `quantity` of a product into an empty (or same-product) compartment."""
    if quantity <= 0:
        raise StockError("quantity must be at least 1")
    comp = session.get(Compartment, compartment_id)
    if comp is None:
        raise StockError(f"no compartment {compartment_id}")
    if comp.status not in (CompartmentStatus.EMPTY, CompartmentStatus.LOADED):
        raise StockError(f"compartment {compartment_id} is {comp.status}")
    product = session.scalar(select(Product).where(Product.gtin == gtin, Product.active.is_(True)))
    if product is None:
        raise StockError(f"no active product with GTIN {gtin}")
    if any(c.product_id != product.id for c in comp.contents if c.quantity > 0):
        raise StockError(f"compartment {compartment_id} holds another product")
    content = CompartmentContent(
        compartment_id=compartment_id,
        product_id=product.id,
        quantity=quantity,
        best_before=best_before,
        loaded_by=loaded_by,
        loaded_at=utcnow(),
    )
    session.add(content)
    comp.status, comp.updated_at = CompartmentStatus.LOADED, utcnow()
    session.flush()
    audit(
        session,
        "restock",
        f"compartment:{compartment_id}",
        actor=loaded_by,
        reason="restock",
        details={"gtin": gtin, "quantity": quantity, "best_before": best_before.isoformat() if best_before else None},
    )
    record_event(
        session,
        "stock.loaded",
        {"compartment": compartment_id, "gtin": gtin, "quantity": quantity},
        priority=Priority.STOCK,
    )
    return content


def offers(session: Session, *, only_sellable: bool = True) -> list[Offer]:
    """Compartments with goods, one offer each (a compartment holds one product)."""
    rows = session.execute(
        select(Compartment, CompartmentContent, Product)
        .join(CompartmentContent, CompartmentContent.compartment_id == Compartment.id)
        .join(Product, Product.id == CompartmentContent.product_id)
        .where(CompartmentContent.quantity > 0)
        .order_by(Compartment.id, CompartmentContent.id)
    )
    found: dict[int, Offer] = {}
    for comp, content, product in rows:
        if only_sellable and (comp.status != CompartmentStatus.LOADED or not product.active):
            continue
        previous = found.get(comp.id)
        quantity = content.quantity + (previous.quantity if previous else 0)
        best_before = min(filter(None, [content.best_before, previous.best_before if previous else None]), default=None)
        found[comp.id] = Offer(
            comp.id,
            product.gtin,
            product.name,
            quantity,
            product.price_cents,
            product.deposit_cents,
            product.vat_rate_bp,
            best_before,
            product.temperature_class,
            product.min_age,
            comp.status,
        )
    return list(found.values())


def take_out(session: Session, compartment_id: int) -> None:
    """Goods were released to a shopper: the compartment is empty now."""
    comp = session.get_one(Compartment, compartment_id)
    for content in comp.contents:
        content.quantity = 0
    comp.status, comp.updated_at = CompartmentStatus.EMPTY, utcnow()
