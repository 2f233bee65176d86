"""The outbox: events recorded in the caller's transaction, gap-free unique sequence under concurrency."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from station.db.engine import Database
from station.db.models import Alarm, AuditEntry, OutboxEvent, Priority
from station.journal import audit, clear_alarm, raise_alarm
from station.outbox import last_seq, mark_delivered, mark_delivered_up_to, pending_count, record_event


def _seqs(db: Database, stream: str = "main") -> list[int]:
    return db.run_sync(
        lambda s: list(s.scalars(select(OutboxEvent.seq).where(OutboxEvent.stream == stream).order_by("seq")))
    )


def test_event_and_domain_change_commit_together(db: Database) -> None:
    entry_id = db.run_sync(lambda s: audit(s, "restock", "compartment:3", actor="volunteer:7", reason="restock"))
    rows = db.run_sync(lambda s: s.scalars(select(OutboxEvent)).all())
    assert len(rows) == 1
    event = rows[0]
    assert (event.type, event.seq, event.stream, event.priority) == ("audit", 1, "main", Priority.STOCK)
    assert event.payload["audit_id"] == entry_id and event.payload["actor"] == "volunteer:7"
    assert event.db_epoch == db.epoch and event.delivered_at is None


def test_rolled_back_transaction_leaves_neither_row_nor_number(db: Database) -> None:
    def failing(session):
        audit(session, "open", "compartment:1")
        raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        db.run_sync(failing)
    assert db.run_sync(lambda s: s.scalars(select(AuditEntry)).all()) == []
    db.run_sync(lambda s: audit(s, "open", "compartment:1"))
    assert _seqs(db) == [1]


def test_telemetry_has_its_own_lossy_stream(db: Database) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    db.run_sync(lambda s: record_event(s, "tele.temp", {"t": 4.0}, priority=Priority.TELEMETRY, expires_at=expires))
    db.run_sync(lambda s: record_event(s, "sale", {"x": 1}, priority=Priority.MONEY))
    assert _seqs(db, "main") == [1] and _seqs(db, "telemetry") == [1]
    with pytest.raises(ValueError, match="only telemetry may expire"):
        db.run_sync(lambda s: record_event(s, "sale", {}, priority=Priority.MONEY, expires_at=expires))


def test_alarms_are_raised_once_and_cleared_with_events(db: Database) -> None:
    db.run_sync(lambda s: raise_alarm(s, "door.left_open", "compartment:5"))
    db.run_sync(lambda s: raise_alarm(s, "door.left_open", "compartment:5"))
    db.run_sync(lambda s: clear_alarm(s, "door.left_open", "compartment:5"))
    types = db.run_sync(lambda s: list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.seq))))
    assert types == ["alarm.raised", "alarm.cleared"]
    alarm = db.run_sync(lambda s: s.scalars(select(Alarm)).one())
    assert alarm.state == "cleared" and alarm.cleared_at is not None


def test_acks_mark_delivered(db: Database) -> None:
    for i in range(5):
        db.run_sync(lambda s, i=i: record_event(s, "sale", {"i": i}, priority=Priority.MONEY))
    tele = db.run_sync(lambda s: record_event(s, "tele.health", {}, priority=Priority.TELEMETRY))
    assert db.run_sync(lambda s: mark_delivered_up_to(s, db.epoch, 3)) == 3
    assert db.run_sync(lambda s: mark_delivered_up_to(s, "other-epoch", 5)) == 0
    assert db.run_sync(lambda s: mark_delivered(s, [tele.event_id])) == 1
    assert db.run_sync(pending_count) == 2
    assert db.run_sync(last_seq) == 5


def _write_events(path: str, n: int, tag: str) -> None:
    database = Database(Path(path))
    database.open_sync()
    for i in range(n):
        database.run_sync(lambda s, i=i: audit(s, "test", f"{tag}:{i}"))
    database.close_sync()


def test_sequence_is_gap_free_and_unique_under_concurrent_writers(db_path: Path) -> None:
    """Four processes with two threads each write at the same time: 1..N, each number once."""
    per_writer, threads, processes = 60, 2, 4

    def process_body(tag: str) -> None:
        workers = [
            threading.Thread(target=_write_events, args=(str(db_path), per_writer, f"{tag}-{t}"))
            for t in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=process_body, args=(f"p{p}",)) for p in range(processes)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    db = Database(db_path)
    db.open_sync()
    total = per_writer * threads * processes
    assert _seqs(db) == list(range(1, total + 1))
    subjects = db.run_sync(lambda s: set(s.scalars(select(AuditEntry.subject))))
    assert len(subjects) == total
    db.close_sync()
