"""Outbox relay against a real Mosquitto: delivery on platform ack, outages, cut links, priorities."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from central.consumer import Platform
from simulators.mqtt.faultproxy import FaultProxy
from station.db.engine import Database
from station.db.models import Priority
from station.db.types import utcnow
from station.journal import raise_alarm
from station.outbox import last_seq, pending_count, record_event
from sync.component import SyncComponent
from sync.connector import Endpoint
from tests.sync.sync_helpers import STATION, mqtt_config, record_sales


async def pending(db: Database) -> int:
    return await db.read(pending_count)


async def wait_pending(db: Database, expected: int, within_s: float = 5.0) -> bool:
    """Until the outbox holds `expected` undelivered rows (acks are written asynchronously)."""
    for _ in range(int(within_s / 0.02)):
        if await pending(db) == expected:
            return True
        await asyncio.sleep(0.02)
    return await pending(db) == expected


async def first_arrivals(platform: Platform, stream: str = "main") -> list[dict[str, Any]]:
    """Events as the platform applied them (each once), in arrival order."""
    return await platform.call(platform.store.events, STATION, stream)


async def assert_exactly_once(platform: Platform, db: Database, total: int) -> None:
    """Every seq 1..total applied once at the platform, nothing else."""
    events = await first_arrivals(platform)
    seqs = [e["seq"] for e in events if e["db_epoch"] == db.epoch]
    assert sorted(seqs) == list(range(1, total + 1))
    assert platform.stats.conflicts == 0
    assert platform.hwm(STATION, db.epoch) == total


async def test_events_flow_and_are_marked_delivered_only_on_platform_ack(db, mosquitto, platform):
    await record_sales(db, 300)
    sync = SyncComponent(mqtt_config(mosquitto.port), STATION, db)
    await sync.start()
    try:
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == 300, 10)
        assert await wait_pending(db, 0)
        assert sync.relay.stats.acked == 300
        # a new write wakes the relay at once (engine hook), long before the 0.5 s poll
        await record_sales(db, 1, start=300)
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == 301, 0.4)
    finally:
        await sync.stop()
    await assert_exactly_once(platform, db, 301)


async def test_puback_alone_never_marks_delivered(db, mosquitto):
    """No platform listening: the broker PUBACKs everything, the outbox keeps every row."""
    await record_sales(db, 50)
    sync = SyncComponent(mqtt_config(mosquitto.port), STATION, db)
    await sync.start()
    try:
        for _ in range(200):
            if sync.relay.stats.pubacks >= 50:
                break
            await asyncio.sleep(0.02)
        assert sync.relay.stats.pubacks >= 50
        assert await pending(db) == 50
    finally:
        await sync.stop()


async def test_broker_down_during_sales_then_back_nothing_lost_in_order(db, mosquitto, platform):
    sync = SyncComponent(mqtt_config(mosquitto.port), STATION, db)
    await sync.start()
    try:
        await record_sales(db, 100)
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == 100, 10)
        mosquitto.stop()
        await record_sales(db, 400, start=100)  # sales go on while the broker is down
        for _ in range(250):  # until the station has noticed the broker is gone
            if sync.connection is None:
                break
            await asyncio.sleep(0.02)
        assert sync.connection is None
        assert await pending(db) >= 400
        mosquitto.start()
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == 500, 20)
        assert await wait_pending(db, 0)
    finally:
        await sync.stop()
    await assert_exactly_once(platform, db, 500)
    seqs = [e["seq"] for e in await first_arrivals(platform)]
    assert seqs == sorted(seqs), "first arrivals must follow the station sequence"


@pytest.mark.parametrize(("wanted_cuts", "total"), [(20, 4000), pytest.param(60, 12_000, marks=pytest.mark.slow)])
async def test_cuts_mid_drain_zero_missing_zero_double_applied(db, mosquitto, platform, wanted_cuts, total):
    await record_sales(db, total)
    proxy = await FaultProxy(mosquitto.port).start()
    sync = SyncComponent(mqtt_config(proxy.port, inflight=50, ack_window=400), STATION, db)
    await sync.start()
    cuts = 0
    try:
        while cuts < wanted_cuts:  # cut after every further 150 messages reach the platform: always mid-drain
            threshold = 150 * (cuts + 1)
            assert await platform.wait_for(lambda t=threshold: platform.stats.received >= t, 10)
            if proxy.cut():
                cuts += 1
            else:
                await asyncio.sleep(0.01)  # reconnecting: cut the next live link
        assert platform.hwm(STATION, db.epoch) < total, "the drain must still be running during the cuts"
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == total, 30)
    finally:
        await sync.stop()
        await proxy.stop()
    await assert_exactly_once(platform, db, total)
    stats = platform.stats
    print(
        f"\n{cuts} cuts: applied {stats.applied}, wire duplicates {stats.wire_duplicates}, "
        f"re-sent by relay {sync.relay.stats.resent}, connections {proxy.stats.connections}"
    )
    assert proxy.stats.connections >= wanted_cuts + 1
    assert stats.applied == total


async def test_money_and_alarms_go_before_the_stock_backlog(db, mosquitto, tmp_path: Path):
    def _backlog(session):
        for i in range(200):
            record_event(session, "audit", {"i": i}, priority=Priority.STOCK)
        raise_alarm(session, "fridge.too_warm", "fridge:chiller-1", severity="critical")
        record_event(session, "sale.captured", {"sale_id": "late-money"}, priority=Priority.MONEY)

    await db.write(_backlog)
    consumer = Platform([Endpoint("127.0.0.1", mosquitto.port)], tmp_path / "p.db")
    await consumer.start()
    sync = SyncComponent(mqtt_config(mosquitto.port), STATION, db)
    await sync.start()
    try:
        assert await consumer.wait_for(lambda: consumer.hwm(STATION, db.epoch) == 202, 10)
        order = [e["type"] for e in await first_arrivals(consumer)]
    finally:
        await sync.stop()
        await consumer.stop()
    assert order[:2] == ["sale.captured", "alarm.raised"]
    assert set(order[2:]) == {"audit"}


async def test_telemetry_expires_and_money_never_does(db, mosquitto, platform):
    def _write(session):
        past, future = utcnow() - timedelta(seconds=1), utcnow() + timedelta(hours=1)
        record_event(session, "fridge.temperature", {"c": 4.1}, priority=Priority.TELEMETRY, expires_at=past)
        record_event(session, "fridge.temperature", {"c": 4.2}, priority=Priority.TELEMETRY, expires_at=future)
        record_event(session, "sale.captured", {"sale_id": "x"}, priority=Priority.MONEY)

    await db.write(_write)
    sync = SyncComponent(mqtt_config(mosquitto.port), STATION, db)
    await sync.start()
    try:
        assert await platform.wait_for(lambda: platform.stats.applied == 2, 10)
        assert await wait_pending(db, 1)
    finally:
        await sync.stop()
    tele = await first_arrivals(platform, "telemetry")
    assert [e["payload"]["c"] for e in tele] == [4.2]
    assert await pending(db) == 1  # the expired reading is never sent, never acked
    assert await db.read(last_seq) == 1


async def test_silent_platform_gets_everything_again_after_the_ack_timeout(db, mosquitto, tmp_path: Path):
    """Messages the platform never acknowledged are re-sent on the same connection (rewind)."""
    await record_sales(db, 20)
    sync = SyncComponent(mqtt_config(mosquitto.port, ack_timeout_s=0.5), STATION, db)
    await sync.start()
    try:
        for _ in range(100):
            if sync.relay.stats.sent >= 20:
                break
            await asyncio.sleep(0.02)
        # joins late: saw none of the first sends, and does not announce itself (see the next test)
        consumer = Platform([Endpoint("127.0.0.1", mosquitto.port)], tmp_path / "late.db", announce=False)
        await consumer.start()
        try:
            assert await consumer.wait_for(lambda: consumer.hwm(STATION, db.epoch) == 20, 10)
        finally:
            await consumer.stop()
        assert sync.relay.stats.rewinds >= 1
        assert sync.relay.stats.platform_rewinds == 0
    finally:
        await sync.stop()


async def test_platform_resend_request_reopens_delivered_rows(db, mosquitto, platform):
    await record_sales(db, 10)
    sync = SyncComponent(mqtt_config(mosquitto.port), STATION, db)
    await sync.start()
    try:
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == 10, 10)
        assert await wait_pending(db, 0)
        before = platform.stats.wire_duplicates
        platform.send_ack(STATION, db.epoch, 10, [], resend_from=7)
        assert await platform.wait_for(lambda: platform.stats.wire_duplicates >= before + 4, 10)
    finally:
        await sync.stop()
    await assert_exactly_once(platform, db, 10)


async def test_an_event_the_platform_cannot_apply_does_not_block_the_stream(db, mosquitto, platform):
    await record_sales(db, 5)
    await db.write(lambda s: record_event(s, "alarm.raised", {"kind": "no ids here"}, priority=Priority.ALARM))
    await record_sales(db, 5, start=5)
    sync = SyncComponent(mqtt_config(mosquitto.port), STATION, db)
    await sync.start()
    try:
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == 11, 10)
        assert await wait_pending(db, 0)
    finally:
        await sync.stop()
    assert platform.store.unapplied == 1


async def test_a_half_open_link_is_noticed_by_the_keepalive_and_nothing_is_lost(db, mosquitto, platform):
    """The link dies without a reset (LTE gone): no error, no FIN; only the MQTT keepalive can tell."""
    await record_sales(db, 300)
    proxy = await FaultProxy(mosquitto.port).start()
    sync = SyncComponent(mqtt_config(proxy.port, keepalive_s=5, inflight=20, ack_window=60), STATION, db)
    await sync.start()
    try:
        assert await platform.wait_for(lambda: platform.stats.received >= 60, 10)
        proxy.blackhole = True
        went_dead = asyncio.get_running_loop().time()
        await record_sales(db, 50, start=300)  # sales go on while the link is dead
        link = sync.connector.availability
        assert await platform.wait_for(lambda: link.available is False, 3 * 5)  # keepalive 5 s: ping, then 5 s more
        noticed_after = asyncio.get_running_loop().time() - went_dead
        assert platform.hwm(STATION, db.epoch) < 350
        proxy.blackhole = False  # the link comes back
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == 350, 20)
    finally:
        await sync.stop()
        await proxy.stop()
    await assert_exactly_once(platform, db, 350)
    assert proxy.stats.bytes_swallowed > 0
    assert proxy.stats.connections >= 2  # a new connection after the dead one, not the old one revived
    assert 5 <= noticed_after <= 15, noticed_after
    print(f"\nhalf-open link noticed after {noticed_after:.1f} s (keepalive 5 s)")


async def test_a_new_platform_session_gets_the_outstanding_events_at_once(db, mosquitto, tmp_path: Path):
    """The ingest comes back under another client id (its old broker session and queue are of no use):
    its `online` presence makes the station re-send now, not after its 120 s ack timeout."""
    endpoint = [Endpoint("127.0.0.1", mosquitto.port)]
    first = Platform(endpoint, tmp_path / "p.db", client_id="ingest-a")
    await first.start()
    sync = SyncComponent(mqtt_config(mosquitto.port, ack_timeout_s=120.0), STATION, db)
    await sync.start()
    try:
        await record_sales(db, 100)
        assert await first.wait_for(lambda: first.hwm(STATION, db.epoch) == 100, 30)
        # Its acks must have reached the station too: an ack still on the way when the ingest stops leaves
        # more than the 200 events below in flight.
        assert await first.wait_for(lambda: len(sync.relay.tracker) == 0, 30)
        await first.stop()
        await record_sales(db, 200, start=100)  # sent, queued by the broker for ingest-a, never read
        assert await first.wait_for(lambda: sync.relay.stats.sent >= 300 and len(sync.relay.tracker) == 200, 30)
        second = Platform(endpoint, tmp_path / "p.db", client_id="ingest-b")
        await second.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await second.wait_for(lambda: second.hwm(STATION, db.epoch) == 300, 10)
        took = loop.time() - started
        assert await second.wait_for(lambda: sync.relay.stats.acked >= 300, 5)
        await second.stop()
    finally:
        await sync.stop()
    assert (sync.relay.stats.platform_rewinds, sync.relay.stats.rewinds) == (1, 0)  # not the ack timeout
    assert await db.read(pending_count) == 0
    print(f"\nnew platform session: 200 outstanding events delivered {took:.2f} s after it started")
