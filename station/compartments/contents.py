"""What is in the compartments now, and what is for sale: loading, removing, offers.

Contents rows describe the present only; a removal deletes them (the audit log and the
`stock.*` events keep the history), so reading what is on offer costs the same after years.
Status changes go through `owner` (the one writer of compartment status).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

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
    regular_price_cents: int = 0  # the catalogue price; differs from price_cents when marked down
    marked_down: bool = False  # past its best-before date, sold at the product's reduced price

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
    reference: str | None = None,
) -> dict[str, Any]:
    """Record goods put into a compartment; returns the `stock.loaded` payload.

    `reference` (e.g. "restock:17") goes into the audit entry, linking the load to what it belongs to.
    """
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
                                reference=reference, details=payload, emit=False)
    record_event(session, "stock.loaded", payload, priority=Priority.STOCK)
    return payload


def remove_all(
    session: Session, compartment: int, *, actor: str, reason: str, reference: str | None = None
) -> dict[str, Any]:
    """Everything in the compartment taken out (expired, damaged, recalled, emptied); returns `stock.removed`."""
    items = contents(session, compartment)
    owner.clear_contents(session, compartment)
    payload = {"compartment": compartment, "items": items, "reason": reason, "by": actor}
    payload["audit_id"] = audit(session, "stock.removed", f"compartment:{compartment}", actor=actor, reason=reason,
                                reference=reference, details=payload, emit=False)
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
    leave sale at the start of that day; goods past their best-before date leave sale the day after
    it, unless the product has a marked-down price: then they are sold at that price (`marked_down`)
    for the product's `past_best_before_days`. Pass `today` in the station's time zone (`Clock.today()`);
    the default is the process's local date.
    """
    today = today or date.today()
    found: dict[int, Offer] = {}
    expired: set[int] = set()
    # Plain rows, unpacked by position, from a statement built once: every screen refresh runs this
    # over every compartment, on the database thread that sales wait for.
    for row in session.execute(_SELLABLE if only_sellable else _ALL_CONTENTS):
        comp, status, quantity, best_before, use_by, product_id, gtin, name, price, deposit, vat, klass, min_age, \
            reduced_price, _ = row
        state = date_state(use_by, best_before, today, row)  # the row carries the mark-down columns
        if only_sellable and state == "off_sale":
            expired.add(comp)
            continue
        previous = found.get(comp)
        if previous is not None:  # more than one load of the product: one offer, the earliest dates
            quantity += previous.quantity
            best_before, use_by = _earliest(best_before, previous.best_before), _earliest(use_by, previous.use_by)
        reduced = (state == "marked_down" and only_sellable) or (previous is not None and previous.marked_down)
        sold_at = reduced_price if reduced else price
        found[comp] = Offer(comp, product_id, gtin, name, quantity, sold_at if sold_at is not None else price, deposit,
                            vat, best_before, use_by, klass, min_age, status, price, bool(reduced))
    return [offer for comp, offer in found.items() if comp not in expired]


_OFFER_COLUMNS = (
    Compartment.id, Compartment.status, CompartmentContent.quantity, CompartmentContent.best_before,
    CompartmentContent.use_by, Product.id, Product.gtin, Product.name, Product.price_cents, Product.deposit_cents,
    Product.vat_rate_bp, Product.temperature_class, Product.min_age, Product.past_best_before_price_cents,
    Product.past_best_before_days,
)  # fmt: skip  (the order `offers` unpacks)
_ALL_CONTENTS = (
    select(*_OFFER_COLUMNS)
    .join(CompartmentContent, CompartmentContent.compartment_id == Compartment.id)
    .join(Product, Product.id == CompartmentContent.product_id)
    .where(CompartmentContent.quantity > 0)
    .order_by(Compartment.id, CompartmentContent.id)
)
_SELLABLE = _ALL_CONTENTS.where(
    and_(Compartment.status == Slot.LOADED.value, Compartment.blocked_reason.is_(None), Product.active)
)


class MarkDown(Protocol):
    """What decides a price past the best-before date: a Product, or a row carrying its columns."""

    @property
    def past_best_before_price_cents(self) -> int | None: ...

    @property
    def past_best_before_days(self) -> int: ...


def date_state(use_by: date | None, best_before: date | None, today: date, product: MarkDown) -> str:
    """"on_sale", "marked_down" (past best-before, sold reduced) or "off_sale" (use-by reached, or past
    best-before without a reduced price or beyond its days)."""
    if use_by is not None and use_by <= today:
        return "off_sale"
    if best_before is None or best_before >= today:
        return "on_sale"
    reduced = product.past_best_before_price_cents
    if reduced is not None and (today - best_before).days <= product.past_best_before_days:
        return "marked_down"
    return "off_sale"


def _earliest(a: date | None, b: date | None) -> date | None:
    if a is None or b is None:
        return b if a is None else a
    return min(a, b)


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None
