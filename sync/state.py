"""Station state read for presence and snapshots, and the small facts sync persists (db thread)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from station.db.models import Alarm, Compartment, CompartmentContent, Order, Product, StationMeta

SESSION_COUNTER = "mqtt.session"
OVERLAY_KEYS = ("config_overlay", "config_overlay_sha256", "config_overlay_version", "config_overlay_at")


def next_session(session: Session) -> int:
    """Increment and return the persisted connection counter (Sparkplug's bdSeq idea)."""
    session.execute(
        text("INSERT INTO counters (name, value) VALUES (:name, 0) ON CONFLICT (name) DO NOTHING"),
        {"name": SESSION_COUNTER},
    )
    return session.execute(
        text("UPDATE counters SET value = value + 1 WHERE name = :name RETURNING value"), {"name": SESSION_COUNTER}
    ).scalar_one()


def meta_get(session: Session, key: str) -> str | None:
    return session.scalar(select(StationMeta.value).where(StationMeta.key == key))


def meta_set(session: Session, key: str, value: str) -> None:
    row = session.get(StationMeta, key)
    if row is None:
        session.add(StationMeta(key=key, value=value))
    else:
        row.value = value


def canonical_sha256(obj: Any) -> str:
    """SHA-256 of the canonical JSON form (sorted keys, no spaces, UTF-8)."""
    text_form = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text_form.encode()).hexdigest()


def compartment_summary(session: Session) -> dict[str, Any]:
    rows = session.execute(select(Compartment.status, func.count()).group_by(Compartment.status)).all()
    by_status = {str(status): int(count) for status, count in rows}
    return {"total": sum(by_status.values()), "by_status": by_status}


def open_alarms(session: Session) -> list[dict[str, Any]]:
    alarms = session.scalars(select(Alarm).where(Alarm.state == "raised").order_by(Alarm.id)).all()
    return [
        {
            "alarm_id": a.id,
            "kind": a.kind,
            "subject": a.subject,
            "severity": a.severity,
            "raised_at": a.raised_at.isoformat(),
        }
        for a in alarms
    ]


def snapshot(session: Session) -> dict[str, Any]:
    """The full state a platform needs to rebuild its view of this station (no outbox depth:
    that changes constantly and travels in the heartbeat)."""
    quantities = dict(
        session.execute(
            select(CompartmentContent.compartment_id, func.sum(CompartmentContent.quantity)).group_by(
                CompartmentContent.compartment_id
            )
        ).all()
    )
    compartments = [
        {
            "id": c.id,
            "status": str(c.status),
            "blocked_reason": c.blocked_reason,
            "door_state": c.door_state,
            "size": c.size,
            "zone": c.zone,
            "items": int(quantities.get(c.id) or 0),
        }
        for c in session.scalars(select(Compartment).order_by(Compartment.id))
    ]
    orders = dict(session.execute(select(Order.state, func.count()).group_by(Order.state)).all())
    active_products = session.scalar(select(func.count()).select_from(Product).where(Product.active.is_(True))) or 0
    return {
        "compartments": compartments,
        "alarms": open_alarms(session),
        "orders": {str(k): int(v) for k, v in orders.items()},
        "products": {"active": int(active_products)},
        "config_overlay_sha256": meta_get(session, "config_overlay_sha256"),
    }
