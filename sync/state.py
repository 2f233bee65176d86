"""Station state read for presence and snapshots, and the small facts sync persists (db thread)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from station.db.models import StationMeta
from station.snapshot import compartment_summary, open_alarms, snapshot

__all__ = ["compartment_summary", "open_alarms", "snapshot"]  # the station's read model, published by sync

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
