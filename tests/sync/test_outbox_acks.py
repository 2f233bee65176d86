"""Platform acks against the outbox, without a broker: repeated, empty and foreign acks, telemetry expiry.

A manual clock stands in for `utcnow` in the outbox modules, so a second ack at a later time
would show if it overwrote `delivered_at`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

import station.outbox
import sync.outboxio
from station.db.engine import Database
from station.db.models import OutboxEvent, Priority
from station.outbox import (
    MAIN,
    TELEMETRY,
    RecordedEvent,
    last_seq,
    mark_delivered,
    mark_delivered_up_to,
    oldest_pending_at,
    pending_count,
    record_event,
)
from sync.contract import Topics
from sync.outboxio import (
    OutboxStats,
    apply_ack,
    fetch_pending,
    outbox_stats,
    reopen_from,
    shrink_telemetry,
)
from sync.relay import Relay

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TOPICS = Topics("station", "st-a")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    manual = Clock()
    monkeypatch.setattr(station.outbox, "utcnow", manual)
    monkeypatch.setattr(sync.outboxio, "utcnow", manual)
    return manual


async def record(db: Database, count: int, priority: Priority = Priority.MONEY, **kw: Any) -> list[RecordedEvent]:
    def _record(session: Any) -> list[RecordedEvent]:
        return [record_event(session, f"t.e{i}", {"i": i}, priority=priority, **kw) for i in range(count)]

    return await db.write(_record)


async def delivered(db: Database) -> dict[tuple[str, int], datetime | None]:
    query = select(OutboxEvent.stream, OutboxEvent.seq, OutboxEvent.delivered_at)
    rows = await db.read(lambda s: list(s.execute(query)))
    return {(stream, seq): at for stream, seq, at in rows}


# -- cumulative, range and id acks ------------------------------------------------------------------


async def test_a_repeated_cumulative_ack_neither_counts_nor_overwrites(db: Database, clock: Clock) -> None:
    await record(db, 5)
    assert await db.write(lambda s: apply_ack(s, db.epoch, 3, [], [])) == 3
    first = await delivered(db)
    assert [first[(MAIN, q)] for q in range(1, 6)] == [T0, T0, T0, None, None]
    clock.advance(60)
    assert await db.write(lambda s: apply_ack(s, db.epoch, 3, [], [])) == 0
    assert await delivered(db) == first
    assert await db.write(lambda s: apply_ack(s, db.epoch, 4, [], [])) == 1  # only the new row counts
    assert (await delivered(db))[(MAIN, 4)] == T0 + timedelta(seconds=60)
    assert (await delivered(db))[(MAIN, 3)] == T0


async def test_a_repeated_range_ack_neither_counts_nor_overwrites(db: Database, clock: Clock) -> None:
    await record(db, 6)
    assert await db.write(lambda s: apply_ack(s, db.epoch, None, [(2, 3), (5, 5)], [])) == 3
    first = await delivered(db)
    assert [first[(MAIN, q)] is not None for q in range(1, 7)] == [False, True, True, False, True, False]
    clock.advance(60)
    assert await db.write(lambda s: apply_ack(s, db.epoch, None, [(2, 3), (5, 5)], [])) == 0
    assert await delivered(db) == first
    assert await db.write(lambda s: apply_ack(s, db.epoch, None, [(1, 6)], [])) == 3
    assert (await delivered(db))[(MAIN, 2)] == T0


async def test_a_repeated_id_ack_neither_counts_nor_overwrites(db: Database, clock: Clock) -> None:
    events = await record(db, 2, Priority.TELEMETRY, expires_at=T0 + timedelta(hours=1))
    ids = [e.event_id for e in events]
    assert await db.write(lambda s: apply_ack(s, db.epoch, None, [], ids[:1])) == 1
    first = await delivered(db)
    clock.advance(60)
    assert await db.write(lambda s: mark_delivered(s, ids[:1])) == 0
    assert await db.write(lambda s: apply_ack(s, None, None, [], ids)) == 1  # ids need no epoch
    after = await delivered(db)
    assert after[(TELEMETRY, 1)] == first[(TELEMETRY, 1)] == T0
    assert after[(TELEMETRY, 2)] == T0 + timedelta(seconds=60)


async def test_empty_and_foreign_acks_change_nothing(db: Database, clock: Clock) -> None:
    await record(db, 3)
    await record(db, 1, Priority.TELEMETRY)
    before = await delivered(db)
    assert await db.write(lambda s: apply_ack(s, db.epoch, None, [], [])) == 0
    assert await db.write(lambda s: mark_delivered(s, [])) == 0
    assert await db.write(lambda s: apply_ack(s, None, 3, [(1, 3)], [])) == 0  # no epoch: no main rows
    assert await db.write(lambda s: apply_ack(s, "another-epoch", 3, [(1, 3)], ["no-such-id"])) == 0
    assert await db.write(lambda s: apply_ack(s, db.epoch, 0, [], [])) == 0
    assert await delivered(db) == before
    assert await db.read(pending_count) == 4


async def test_a_cumulative_ack_never_touches_telemetry(db: Database, clock: Clock) -> None:
    await record(db, 2, Priority.TELEMETRY)
    await record(db, 2)
    assert await db.write(lambda s: mark_delivered_up_to(s, db.epoch, 2)) == 2
    rows = await delivered(db)
    assert rows[(TELEMETRY, 1)] is None and rows[(TELEMETRY, 2)] is None
    assert rows[(MAIN, 1)] == rows[(MAIN, 2)] == T0


async def test_the_relay_counts_each_delivered_row_once(db: Database, clock: Clock) -> None:
    await record(db, 4)
    relay = Relay(db, TOPICS, "st-a")
    relay.on_ack({"db_epoch": db.epoch, "upto": 2})
    relay.on_ack({"db_epoch": db.epoch, "upto": 1})  # an older ack arriving late: the highest wins
    await relay._flush_acks()
    assert relay.stats.acked == 2
    relay.on_ack({"db_epoch": db.epoch, "upto": 2, "ranges": [[1, 2]]})  # the same ack again
    await relay._flush_acks()
    assert relay.stats.acked == 2
    relay.on_ack({"db_epoch": db.epoch, "ranges": [[4, 4]], "upto": None})
    await relay._flush_acks()
    assert relay.stats.acked == 3
    relay.on_ack({"db_epoch": "another-epoch", "upto": 4, "ranges": [[3, 3]]})
    await relay._flush_acks()
    assert relay.stats.acked == 3
    assert await db.read(pending_count) == 1
    await relay._flush_acks()  # nothing received: nothing written
    assert relay.stats.acked == 3


# -- resend requests ---------------------------------------------------------------------------------


async def test_reopen_from_undelivers_only_main_rows_of_the_epoch_from_seq(db: Database, clock: Clock) -> None:
    await record(db, 4)
    tele = await record(db, 1, Priority.TELEMETRY)
    await db.write(lambda s: apply_ack(s, db.epoch, 4, [], [tele[0].event_id]))
    assert await db.write(lambda s: reopen_from(s, "another-epoch", 1)) == 0
    assert await db.write(lambda s: reopen_from(s, db.epoch, 3)) == 2
    rows = await delivered(db)
    assert [rows[(MAIN, q)] is None for q in range(1, 5)] == [False, False, True, True]
    assert rows[(TELEMETRY, 1)] is not None
    assert await db.write(lambda s: reopen_from(s, db.epoch, 3)) == 0  # already open


async def test_a_resend_request_rewinds_the_relay(db: Database, clock: Clock) -> None:
    await record(db, 3)
    relay = Relay(db, TOPICS, "st-a")
    relay.on_ack({"db_epoch": db.epoch, "upto": 3})
    await relay._flush_acks()
    generation = relay._generation
    relay.on_ack({"db_epoch": db.epoch, "resend_from": 2})
    await relay._flush_acks()
    assert relay._generation == generation + 1
    assert await db.read(pending_count) == 2
    relay.on_ack({"db_epoch": "another-epoch", "resend_from": 1})  # not ours: ignored
    await relay._flush_acks()
    assert relay._generation == generation + 1 and await db.read(pending_count) == 2


# -- telemetry expiry, written and read back ---------------------------------------------------------


async def test_telemetry_expiry_is_stored_and_read_back(db: Database, clock: Clock) -> None:
    expires = T0 + timedelta(minutes=10)
    await record(db, 1, Priority.TELEMETRY, expires_at=expires)
    await record(db, 1)
    rows = await db.read(lambda s: {e.stream: (e.expires_at, e.created_at) for e in s.scalars(select(OutboxEvent))})
    assert rows[TELEMETRY] == (expires, T0)
    assert rows[MAIN] == (None, T0)


async def test_fetch_pending_sends_the_remaining_lifetime_and_skips_expired(db: Database, clock: Clock) -> None:
    await record(db, 1, Priority.TELEMETRY, expires_at=T0 + timedelta(seconds=100))
    await record(db, 1, Priority.TELEMETRY, expires_at=T0 + timedelta(seconds=30, milliseconds=500))
    await record(db, 1, Priority.TELEMETRY, expires_at=T0 + timedelta(milliseconds=200))
    await record(db, 1, Priority.TELEMETRY, expires_at=T0 - timedelta(seconds=1))  # already expired
    await record(db, 1, Priority.TELEMETRY)  # never expires
    await record(db, 1)
    pending = await db.read(lambda s: fetch_pending(s, TOPICS, "st-a", {}, 100))
    assert [(p.stream, p.seq, p.expiry_s) for p in pending] == [
        (MAIN, 1, None),
        (TELEMETRY, 1, 100),
        (TELEMETRY, 2, 30),
        (TELEMETRY, 3, 1),  # less than a second left: still sent with the smallest expiry MQTT knows
        (TELEMETRY, 5, None),
    ]
    envelope = json.loads(pending[1].data)
    assert envelope["expires_at"] == "2026-03-01T12:01:40.000000+00:00"
    assert "expires_at" not in json.loads(pending[0].data)
    clock.advance(31)
    pending = await db.read(lambda s: fetch_pending(s, TOPICS, "st-a", {}, 100))
    assert [(p.seq, p.expiry_s) for p in pending if p.stream == TELEMETRY] == [(1, 69), (5, None)]


async def test_fetch_pending_envelope_and_order(db: Database, clock: Clock) -> None:
    await record(db, 2, Priority.STOCK)
    await record(db, 1, Priority.ALARM)
    await record(db, 1, Priority.MONEY)
    pending = await db.read(lambda s: fetch_pending(s, TOPICS, "st-a", {}, 3))
    assert [(p.priority, p.seq) for p in pending] == [(0, 4), (1, 3), (2, 1)]  # money, alarms, stock
    envelope = json.loads(pending[0].data)
    assert envelope == {
        "schema": "event/1",
        "station_id": "st-a",
        "event_id": pending[0].event_id,
        "db_epoch": db.epoch,
        "stream": "main",
        "seq": 4,
        "type": "t.e0",
        "type_version": 1,
        "priority": "money",
        "created_at": "2026-03-01T12:00:00.000000+00:00",
        "payload": {"i": 0},
    }
    assert pending[0].topic == "station/st-a/evt/t/e0"
    after = await db.read(lambda s: fetch_pending(s, TOPICS, "st-a", {0: 4, 1: 3, 2: 1}, 3))
    assert [(p.priority, p.seq) for p in after] == [(2, 2)]


async def test_shrink_telemetry_drops_expired_then_the_oldest(db: Database, clock: Clock) -> None:
    await record(db, 1, Priority.TELEMETRY, expires_at=T0 + timedelta(seconds=10))
    await record(db, 3, Priority.TELEMETRY, expires_at=T0 + timedelta(hours=1))
    await record(db, 2)
    clock.advance(10)  # the first has expired exactly now
    assert await db.write(lambda s: shrink_telemetry(s, 2)) == 2  # the expired one and the oldest beyond 2
    rows = await delivered(db)
    assert sorted(k for k in rows if k[0] == TELEMETRY) == [(TELEMETRY, 3), (TELEMETRY, 4)]
    assert (MAIN, 1) in rows and (MAIN, 2) in rows  # never money


async def test_outbox_stats_and_pending_queries(db: Database, clock: Clock) -> None:
    assert await db.read(outbox_stats) == OutboxStats(0, 0, None)
    assert await db.read(oldest_pending_at) is None
    await record(db, 2)
    clock.advance(5)
    await record(db, 3, Priority.TELEMETRY)
    await db.write(lambda s: apply_ack(s, db.epoch, 1, [], []))
    assert await db.read(outbox_stats) == OutboxStats(4, 3, T0)
    assert await db.read(oldest_pending_at) == T0
    assert await db.read(pending_count) == 4
    assert await db.read(last_seq) == 2
    assert await db.read(lambda s: last_seq(s, TELEMETRY)) == 3


async def test_only_telemetry_may_expire(db: Database, clock: Clock) -> None:
    for priority in (Priority.MONEY, Priority.ALARM, Priority.STOCK):
        with pytest.raises(ValueError):
            await record(db, 1, priority, expires_at=T0)
    assert await db.read(pending_count) == 0
    event = (await record(db, 1, Priority.STOCK, schema_version=3))[0]
    row = await db.read(lambda s: s.scalars(select(OutboxEvent)).one())
    assert (row.event_id, row.stream, row.seq, row.type, row.schema_version) == (event.event_id, MAIN, 1, "t.e0", 3)
    assert (event.stream, event.seq, event.type) == (MAIN, 1, "t.e0")
    assert row.payload == {"i": 0} and row.priority == Priority.STOCK and row.db_epoch == db.epoch
