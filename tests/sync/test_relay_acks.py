"""The relay's ack handling without a broker: the tracker forgets exactly what an ack covers, acks are
coalesced, written once, and merged back when the database write fails."""

from __future__ import annotations

from typing import Any

import pytest

from station.db.engine import Database
from station.db.models import Priority
from station.outbox import pending_count, record_event
from sync.contract import Topics
from sync.outboxio import Pending
from sync.relay import AckTracker, Relay, _AckBacklog

TOPICS = Topics("station", "st-a")


def event(seq: int, stream: str = "main") -> Pending:
    return Pending(0, stream, seq, f"id-{stream}-{seq}", "t", b"{}", None)


def tracker_with(*seqs: int, telemetry: tuple[int, ...] = ()) -> AckTracker:
    tracker = AckTracker()
    for seq in seqs:
        tracker.add(event(seq))
    for seq in telemetry:
        tracker.add(event(seq, "telemetry"))
    return tracker


def test_a_wide_range_settles_both_of_its_ends() -> None:
    tracker = tracker_with(10, 20, 30)
    assert tracker.ack(None, [(10, 20)], []) == 2  # wider than what is tracked: scanned, ends included
    assert len(tracker) == 1
    assert tracker.ack(None, [(25, 1000)], []) == 1
    assert len(tracker) == 0 and tracker._main == {}


def test_a_narrow_range_over_untracked_sequences() -> None:
    tracker = tracker_with(1, 2, 3, 4, 5)
    assert tracker.ack(None, [(4, 8)], []) == 2  # 6..8 were never sent on this connection
    assert tracker.ack(None, [(1, 1)], []) == 1
    assert len(tracker) == 2


def test_ids_settle_main_and_telemetry_events_and_unknown_ids_are_ignored() -> None:
    tracker = tracker_with(7, telemetry=(1,))
    assert tracker.ack(None, [], ["id-main-7", "id-telemetry-1", "unknown", "id-main-7"]) == 2
    assert len(tracker) == 0
    assert tracker._main == {}  # nothing kept for a later cumulative ack to trip over
    assert tracker.ack(10, [], []) == 0


def test_clear_forgets_everything() -> None:
    tracker = tracker_with(1, 2, telemetry=(1,))
    tracker.clear()
    assert len(tracker) == 0 and tracker._main == {} and tracker._heap == []
    tracker.add(event(1))
    assert tracker.ack(1, [], []) == 1


def test_backlog_take_and_empty() -> None:
    backlog = _AckBacklog(None, [], ["id-1"], None)
    assert not backlog.empty()
    taken = backlog.take()
    assert (taken.upto, taken.ranges, taken.ids, taken.resend_from) == (None, [], ["id-1"], None)
    assert backlog.empty()
    for filled in (_AckBacklog(upto=1), _AckBacklog(ranges=[(1, 2)]), _AckBacklog(resend_from=3)):
        assert not filled.empty()


# -- on_ack --------------------------------------------------------------------------------------------------


async def test_an_ack_that_settles_resets_the_timeout_and_the_deadline(db: Database) -> None:
    relay = Relay(db, TOPICS, "st-a", ack_timeout_s=30.0)
    for seq in (1, 2):
        relay.tracker.add(event(seq))
    relay.ack_timeout = 240.0  # doubled by earlier rewinds
    relay.on_ack({"db_epoch": db.epoch, "upto": 1})
    assert relay.ack_timeout == 30.0
    assert relay._ack_deadline is not None and relay.stats.last_ack_at is not None
    assert 29.0 < relay._ack_deadline - relay.stats.last_ack_at < 31.0  # one event still outstanding
    assert relay._wake.is_set() and relay._ack_wake.is_set()
    relay.on_ack({"db_epoch": db.epoch, "upto": 2})
    assert relay._ack_deadline is None  # nothing outstanding


async def test_an_ack_that_settles_nothing_keeps_the_timeout(db: Database) -> None:
    relay = Relay(db, TOPICS, "st-a", ack_timeout_s=30.0)
    relay.ack_timeout = 240.0
    relay.on_ack({"db_epoch": db.epoch, "upto": 5})
    assert relay.ack_timeout == 240.0 and not relay._wake.is_set()
    assert relay._acks.upto == 5 and relay._ack_wake.is_set()


async def test_acks_are_coalesced_until_written(db: Database) -> None:
    relay = Relay(db, TOPICS, "st-a")
    relay.on_ack({"db_epoch": db.epoch, "upto": 4, "ranges": [[7, 8]], "event_ids": ["a", 5]})
    relay.on_ack({"db_epoch": db.epoch, "upto": 4, "ranges": [[10, 10]], "event_ids": ["b"]})
    relay.on_ack({"db_epoch": "old-epoch", "upto": 9, "ranges": [[20, 21]], "event_ids": ["c"], "resend_from": 1})
    assert relay._acks.upto == 4
    assert relay._acks.ranges == [(7, 8), (10, 10)]
    assert relay._acks.ids == ["a", "b", "c"]  # ids need no epoch (telemetry)
    assert relay._acks.resend_from is None


# -- writing acks -----------------------------------------------------------------------------------------------


async def test_id_acks_are_written(db: Database) -> None:
    recorded = await db.write(lambda s: record_event(s, "t.x", {}, priority=Priority.TELEMETRY))
    relay = Relay(db, TOPICS, "st-a")
    relay.on_ack({"db_epoch": db.epoch, "event_ids": [recorded.event_id]})
    await relay._flush_acks()
    assert relay.stats.acked == 1 and await db.read(pending_count) == 0


async def test_a_failed_write_keeps_the_acks_and_merges_newer_ones(db: Database, monkeypatch) -> None:
    await db.write(lambda s: [record_event(s, "t.x", {}, priority=Priority.MONEY) for _ in range(6)])
    relay = Relay(db, TOPICS, "st-a")
    relay.on_ack({"db_epoch": db.epoch, "upto": 2, "ranges": [[4, 4]], "event_ids": ["a"], "resend_from": 2})
    real_write = db.write

    async def failing_write(fn: Any) -> Any:
        # acks that arrive while the write is on its way
        relay.on_ack({"db_epoch": db.epoch, "upto": 1, "ranges": [[6, 6]], "event_ids": ["b"], "resend_from": 5})
        raise OSError("disk I/O error")

    monkeypatch.setattr(db, "write", failing_write)
    with pytest.raises(OSError):
        await relay._flush_acks()
    assert relay._acks.upto == 2  # the higher of the two
    assert relay._acks.ranges == [(4, 4), (6, 6)] and relay._acks.ids == ["a", "b"]
    assert relay._acks.resend_from == 5  # the newer request stands
    monkeypatch.setattr(db, "write", real_write)
    await relay._flush_acks()
    assert relay._acks.empty()
    assert await db.read(pending_count) == 3  # 1, 2, 4, 6 acked, then re-opened from 5: 3, 5 and 6 pending


async def test_merge_back_keeps_a_higher_newer_ack_and_the_old_resend_when_none_came(db: Database) -> None:
    relay = Relay(db, TOPICS, "st-a")
    relay._acks = _AckBacklog(upto=9, ranges=[(12, 12)], ids=["new"])
    relay._merge_back(_AckBacklog(upto=3, ranges=[(5, 5)], ids=["old"], resend_from=2))
    assert (relay._acks.upto, relay._acks.ranges, relay._acks.ids) == (9, [(5, 5), (12, 12)], ["old", "new"])
    assert relay._acks.resend_from == 2
    relay._acks = _AckBacklog()
    relay._merge_back(_AckBacklog(upto=3))
    assert relay._acks.upto == 3 and relay._acks.resend_from is None
    relay._acks = _AckBacklog(upto=3)
    relay._merge_back(_AckBacklog())
    assert relay._acks.upto == 3
