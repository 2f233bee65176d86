"""The product catalogue the platform sends: products by GTIN, prices. The one writer of `products`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .db.models import Product
from .db.types import utcnow
from .journal import audit

FIELDS = ("name", "price_cents", "vat_rate_bp", "deposit_cents", "temperature_class", "min_age", "active",
          "past_best_before_price_cents", "past_best_before_days")


class CatalogueError(ValueError):
    """A catalogue change that cannot be applied (unknown GTIN, ...); `code` is machine-readable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


@dataclass(frozen=True)
class ProductData:
    gtin: str
    name: str
    price_cents: int
    vat_rate_bp: int = 700
    deposit_cents: int = 0
    temperature_class: str = "ambient"
    min_age: int | None = None
    active: bool = True
    past_best_before_price_cents: int | None = None  # reduced price past best-before (None: leaves sale)
    past_best_before_days: int = 3


def set_catalogue(
    session: Session, products: Iterable[ProductData], *, replace: bool, actor: str, reference: str | None = None
) -> dict[str, int]:
    """Create or update products by GTIN; with `replace`, deactivate the ones not listed. Returns counts."""
    existing = {prod.gtin: prod for prod in session.scalars(select(Product))}
    counts = {"created": 0, "updated": 0, "unchanged": 0, "deactivated": 0}
    now = utcnow()
    listed = set()
    for item in products:
        listed.add(item.gtin)
        values = {f: getattr(item, f) for f in FIELDS}
        product = existing.get(item.gtin)
        if product is None:
            session.add(Product(gtin=item.gtin, updated_at=now, **values))
            counts["created"] += 1
        elif any(getattr(product, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(product, f, v)
            product.updated_at = now
            counts["updated"] += 1
        else:
            counts["unchanged"] += 1
    if replace:
        for gtin, product in existing.items():
            if gtin not in listed and product.active:
                product.active, product.updated_at = False, now
                counts["deactivated"] += 1
    if counts["created"] or counts["updated"] or counts["deactivated"]:
        audit(session, "catalogue.set", "catalogue", actor=actor, reason="remote", reference=reference,
              details=dict(counts))
    return counts


def set_prices(
    session: Session, prices: dict[str, int], *, actor: str, reference: str | None = None
) -> dict[str, Any]:
    """New prices by GTIN; every GTIN must be known (nothing changes otherwise)."""
    products = {prod.gtin: prod for prod in session.scalars(select(Product).where(Product.gtin.in_(prices)))}
    unknown = sorted(set(prices) - set(products))
    if unknown:
        raise CatalogueError("unknown_gtin", ", ".join(unknown[:20]))
    changes = []
    for gtin, price in prices.items():
        product = products[gtin]
        if product.price_cents != price:
            changes.append({"gtin": gtin, "old_cents": product.price_cents, "new_cents": price})
            product.price_cents, product.updated_at = price, utcnow()
    if changes:
        audit(session, "prices.set", "catalogue", actor=actor, reason="remote", reference=reference,
              details={"changes": changes[:200], "changed": len(changes)})
    return {"updated": len(changes), "unchanged": len(prices) - len(changes)}


def active_products(session: Session) -> int:
    return len(list(session.scalars(select(Product.id).where(Product.active.is_(True)))))
