"""Transactional outbox: record a domain change's outgoing event in the same transaction.

Call `record_event(session, ...)` inside the function you pass to `Database.write`. The
event gets a UUID and, for every class but telemetry, the next number of the per-station
gap-free sequence, drawn from a counter row inside that same transaction: if the
transaction rolls back, the number was never used. Telemetry draws from its own lossy
counter so that expiring it never leaves a gap in the main sequence.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .db.engine import hot_cursor, rowcount
from .db.models import Counter, OutboxEvent, Priority
from .db.types import to_db_time, utcnow

MAIN, TELEMETRY = "main", "telemetry"

# The outbox write is the hottest path in the station (every domain change makes one), so
# it talks to the sqlite3 connection of the caller's transaction directly: two prepared
# statements, no ORM unit of work. The rows are exactly what the OutboxEvent model reads.
_NEXT = "UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value"
_INSERT = (
    "INSERT INTO outbox (event_id, db_epoch, stream, seq, type, schema_version, priority, payload,"
    " created_at, expires_at, delivered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
)


@dataclass(frozen=True)
class RecordedEvent:
    event_id: str
    stream: str
    seq: int
    type: str


def record_event(
    session: Session,
    type: str,
    payload: dict[str, Any],
    *,
    priority: Priority,
    schema_version: int = 1,
    expires_at: datetime | None = None,
) -> RecordedEvent:
    """Add one event to the outbox in the caller's transaction."""
    if priority is not Priority.TELEMETRY and expires_at is not None:
        raise ValueError("only telemetry may expire; money, alarms, orders and audit never do")
    stream = TELEMETRY if priority is Priority.TELEMETRY else MAIN
    cursor = hot_cursor(session)
    row = cursor.execute(_NEXT, (f"outbox.{stream}",)).fetchone()
    if row is None:
        raise LookupError(f"counter outbox.{stream} is missing: database not migrated?")
    seq = row[0]
    event_id = str(uuid.uuid4())
    cursor.execute(
        _INSERT,
        (
            event_id, session.info["db_epoch"], stream, seq, type, schema_version, int(priority),
            json.dumps(payload), to_db_time(utcnow()), to_db_time(expires_at) if expires_at else None,
        ),
    )
    return RecordedEvent(event_id, stream, seq, type)


def pending_count(session: Session) -> int:
    """Events not yet acknowledged by the platform."""
    return session.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))) or 0


def oldest_pending_at(session: Session) -> datetime | None:
    return session.scalar(select(func.min(OutboxEvent.created_at)).where(OutboxEvent.delivered_at.is_(None)))


def last_seq(session: Session, stream: str = MAIN) -> int:
    return session.scalar(select(Counter.value).where(Counter.name == f"outbox.{stream}")) or 0


def mark_delivered_up_to(session: Session, epoch: str, seq: int) -> int:
    """Cumulative platform ack: every main-stream event of `epoch` with seq ≤ `seq` is delivered."""
    result = session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.stream == MAIN,
            OutboxEvent.db_epoch == epoch,
            OutboxEvent.seq <= seq,
            OutboxEvent.delivered_at.is_(None),
        )
        .values(delivered_at=utcnow())
    )
    return rowcount(result)


def mark_delivered(session: Session, event_ids: list[str]) -> int:
    """Per-event platform ack (telemetry and out-of-order acks)."""
    if not event_ids:
        return 0
    result = session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.event_id.in_(event_ids), OutboxEvent.delivered_at.is_(None))
        .values(delivered_at=utcnow())
    )
    return rowcount(result)
