"""Outbox queries for the relay (run on the `db` thread inside `Database.read/write`).

The hot paths talk to the sqlite3 connection of the caller's transaction directly, as
`station.outbox.record_event` does: SQLite itself splices each stored payload into its
`event/1` envelope (no JSON decode and re-encode in Python), and range acks are applied with
one `executemany`. Every query walks an index: the partial `ix_outbox_pending (priority, seq,
stream, created_at, delivered_at) WHERE delivered_at IS NULL` for reads and figures,
`uq_outbox_stream_seq` for acks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from station.db.engine import raw_cursor, rowcount
from station.db.models import Priority
from station.db.types import to_db_time, utcnow
from station.outbox import MAIN, TELEMETRY, mark_delivered, mark_delivered_up_to

from .contract import EVENT, PRIORITY_NAMES, Topics

PRIORITIES = tuple(int(p) for p in sorted(Priority))

# The event/1 envelope (docs/schemas/event.v1.json) built by SQLite. Only `type` needs quoting:
# ids are UUIDs, times ISO-8601, stream a fixed word, payload JSON written by json.dumps.
_FETCH = (
    "SELECT seq, stream, event_id, type, expires_at, "
    f"""'{{"schema":"{EVENT}","station_id":' || ? || ',"event_id":"' || event_id """
    """|| '","db_epoch":"' || db_epoch || '","stream":"' || stream || '","seq":' || seq """
    """|| ',"type":' || json_quote(type) || ',"type_version":' || schema_version """
    """|| ',"priority":"' || ? || '","created_at":"' || created_at || '"' """
    """|| COALESCE(',"expires_at":"' || expires_at || '"', '') || ',"payload":' || payload || '}' """
    "FROM outbox WHERE delivered_at IS NULL AND priority = ? AND seq > ? "
    "AND (expires_at IS NULL OR expires_at > ?) ORDER BY seq LIMIT ?"
)
_ACK_RANGE = (
    "UPDATE outbox SET delivered_at = ? WHERE stream = 'main' AND db_epoch = ? "
    "AND seq BETWEEN ? AND ? AND delivered_at IS NULL"
)


def _cursor(session: Session) -> Any:
    return raw_cursor(session)


@dataclass(frozen=True, slots=True)
class Pending:
    priority: int
    stream: str
    seq: int
    event_id: str
    topic: str
    data: bytes
    expiry_s: int | None


def fetch_pending(
    session: Session, topics: Topics, station_id: str, after: dict[int, int], limit: int
) -> list[Pending]:
    """Up to `limit` undelivered, unexpired events, highest priority class first, in sequence order."""
    now = utcnow()
    now_text, station_json = to_db_time(now), json.dumps(station_id)
    rows: list[Pending] = []
    cursor = _cursor(session)
    try:
        for priority in PRIORITIES:
            if len(rows) >= limit:
                break
            params = (
                station_json,
                PRIORITY_NAMES[priority],
                priority,
                after.get(priority, 0),
                now_text,
                limit - len(rows),
            )
            for seq, stream, event_id, type_, expires_at, data in cursor.execute(_FETCH, params):
                expiry_s = None
                if expires_at is not None:
                    expiry_s = max(1, int((datetime.fromisoformat(expires_at) - now).total_seconds()))
                topic = topics.stream_topic(stream, type_)
                rows.append(Pending(priority, stream, seq, event_id, topic, data.encode(), expiry_s))
    finally:
        cursor.close()
    return rows


def apply_ack(
    session: Session,
    epoch: str | None,
    upto: int | None,
    ranges: list[tuple[int, int]],
    event_ids: list[str],
) -> int:
    """Mark what the platform confirmed: main stream up to `upto` and in `ranges` (inclusive) for
    `epoch`, plus single event ids (telemetry)."""
    done = 0
    if epoch is not None and upto is not None:
        done += mark_delivered_up_to(session, epoch, upto)
    if epoch is not None and ranges:
        now = to_db_time(utcnow())
        cursor = _cursor(session)
        try:
            cursor.executemany(_ACK_RANGE, [(now, epoch, lo, hi) for lo, hi in ranges])
            done += max(0, cursor.rowcount)
        finally:
            cursor.close()
    if event_ids:
        done += mark_delivered(session, event_ids)
    return done


def reopen_from(session: Session, epoch: str, seq: int) -> int:
    """The platform asks for a re-send from `seq`: undeliver retained main-stream rows from there."""
    result = session.execute(
        text(
            "UPDATE outbox SET delivered_at = NULL WHERE stream = :main AND db_epoch = :epoch "
            "AND seq >= :seq AND delivered_at IS NOT NULL"
        ),
        {"main": MAIN, "epoch": epoch, "seq": seq},
    )
    return rowcount(result)


def shrink_telemetry(session: Session, max_rows: int) -> int:
    """Drop expired telemetry, then the oldest beyond `max_rows` (telemetry only, never money)."""
    expired = session.execute(
        text(
            "DELETE FROM outbox INDEXED BY ix_outbox_pending WHERE stream = :tele AND delivered_at IS NULL "
            "AND expires_at IS NOT NULL AND expires_at <= :now"
        ),
        {"tele": TELEMETRY, "now": to_db_time(utcnow())},
    )
    over = session.execute(
        text(
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE stream = :tele "
            "AND delivered_at IS NULL ORDER BY seq DESC LIMIT -1 OFFSET :cap)"
        ),
        {"tele": TELEMETRY, "cap": max_rows},
    )
    return rowcount(expired) + rowcount(over)


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    pending_telemetry: int
    oldest_pending_at: datetime | None


def outbox_stats(session: Session) -> OutboxStats:
    row = session.execute(
        text(
            # INDEXED BY: the pending rows only (the stream's own index would walk its delivered history)
            "SELECT COUNT(*), SUM(stream = :tele), MIN(created_at) FROM outbox INDEXED BY ix_outbox_pending "
            "WHERE delivered_at IS NULL AND stream IN (:main, :tele)"
        ),
        {"main": MAIN, "tele": TELEMETRY},
    ).one()
    oldest = datetime.fromisoformat(row[2]) if row[2] else None
    return OutboxStats(int(row[0] or 0), int(row[1] or 0), oldest)
