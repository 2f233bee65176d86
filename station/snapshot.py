"""What the platform needs to rebuild its view of this station: compartments with their stock, alarms, orders.

A read model over the services' tables (sync publishes it; it never writes them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .db.models import Alarm, Compartment, CompartmentContent, Order, Product, StationMeta


def compartment_summary(session: Session) -> dict[str, Any]:
    rows = session.execute(select(Compartment.status, func.count()).group_by(Compartment.status)).all()
    by_status = {str(status): int(count) for status, count in rows}
    blocked = session.scalar(select(func.count()).where(Compartment.blocked_reason.is_not(None))) or 0
    return {"total": sum(by_status.values()), "by_status": by_status, "blocked": int(blocked)}


def open_alarms(session: Session) -> list[dict[str, Any]]:
    alarms = session.scalars(select(Alarm).where(Alarm.state == "raised").order_by(Alarm.id)).all()
    return [
        {"alarm_id": a.id, "kind": a.kind, "subject": a.subject, "severity": a.severity,
         "raised_at": a.raised_at.isoformat()}
        for a in alarms
    ]


def _stock(session: Session) -> dict[int, list[dict[str, Any]]]:
    rows = session.execute(
        select(CompartmentContent, Product.gtin)
        .join(Product, Product.id == CompartmentContent.product_id)
        .order_by(CompartmentContent.compartment_id, CompartmentContent.id)
    ).all()
    stock: dict[int, list[dict[str, Any]]] = {}
    for content, gtin in rows:
        stock.setdefault(content.compartment_id, []).append(
            {"gtin": gtin, "quantity": content.quantity,
             "best_before": content.best_before.isoformat() if content.best_before else None,
             "use_by": content.use_by.isoformat() if content.use_by else None, "lot": content.lot}
        )
    return stock


def snapshot(session: Session) -> dict[str, Any]:
    """The full state (no outbox depth: that changes constantly and travels in the heartbeat)."""
    stock = _stock(session)
    compartments = [
        {
            "id": c.id,
            "status": str(c.status),
            "blocked_reason": c.blocked_reason,
            "door_state": c.door_state,
            "size": c.size,
            "zone": c.zone,
            "items": sum(item["quantity"] for item in stock.get(c.id, [])),
            "stock": stock.get(c.id, []),
        }
        for c in session.scalars(select(Compartment).order_by(Compartment.id))
    ]
    orders = dict(session.execute(select(Order.state, func.count()).group_by(Order.state)).all())
    active_products = session.scalar(select(func.count()).select_from(Product).where(Product.active.is_(True))) or 0
    overlay = session.scalar(select(StationMeta.value).where(StationMeta.key == "config_overlay_sha256"))
    return {
        "compartments": compartments,
        "alarms": open_alarms(session),
        "orders": {str(k): int(v) for k, v in orders.items()},
        "products": {"active": int(active_products)},
        "config_overlay_sha256": overlay,
    }
