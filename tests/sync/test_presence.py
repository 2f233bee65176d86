"""Presence and telemetry on a real Mosquitto: birth, Last Will, graceful offline, heartbeat,
offline summaries, snapshots on change only."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from simulators.mqtt.faultproxy import FaultProxy
from station import __version__
from station.db.models import Compartment, OutboxEvent, Priority
from station.db.types import utcnow
from station.journal import raise_alarm
from station.outbox import record_event
from sync.component import SyncComponent
from sync.contract import parse_time
from tests.sync.sync_helpers import STATION, Observer, mqtt_config

STATE = f"station/{STATION}/state"
MARKER = "test/marker"


async def mark(watcher: Observer) -> None:
    """Publish a marker through the broker and wait until it comes back: whatever the broker was
    sent before the marker has been delivered (to this subscriber, in order) by then."""
    assert watcher.conn is not None
    before = len(watcher.decoded(MARKER))
    watcher.conn.publish(MARKER, b'{"marker": true}', qos=1)
    assert await watcher.wait_for(lambda: len(watcher.decoded(MARKER)) > before)


async def seed_compartments(db, *ids: int) -> None:
    def _seed(session):
        for cid in ids:
            session.add(Compartment(id=cid, bus="wall", board=0, lock=cid, updated_at=utcnow()))

    await db.write(_seed)


async def test_birth_will_and_session_counter(db, mosquitto):
    await seed_compartments(db, 1, 2, 3)
    proxy = await FaultProxy(mosquitto.port).start()
    watcher = await Observer(mosquitto.port, [(STATE, 1)]).start()
    sync = SyncComponent(mqtt_config(proxy.port), STATION, db, config_hash="abc123", config_version="7")
    await sync.start()
    try:
        assert await watcher.wait_for(lambda: len(watcher.decoded()) >= 1)
        birth = watcher.decoded()[0]
        assert birth["state"] == "online" and birth["session"] == 1
        assert birth["software_version"] == __version__
        assert (birth["config_hash"], birth["config_version"]) == ("abc123", "7")
        assert birth["db_epoch"] == db.epoch
        assert birth["compartments"] == {"total": 3, "by_status": {"empty": 3}, "blocked": 0}
        proxy.cut()  # no DISCONNECT: the broker publishes the Last Will
        assert await watcher.wait_for(lambda: any(m["session"] == 2 for m in watcher.decoded()))
        states = [(m["state"], m["session"], m.get("reason")) for m in watcher.decoded()]
        assert ("offline", 1, "connection_lost") in states
        will = next(m for m in watcher.decoded() if m["state"] == "offline")
        assert "at" not in will  # composed at connect time: it cannot know when the link would be lost
        assert parse_time(will["connected_at"]) <= parse_time(birth["at"])  # the Will's connection, not later
        assert states[-1] == ("online", 2, None)
        late = await Observer(mosquitto.port, [(STATE, 1)], client_id="late").start()
        assert await late.wait_for(lambda: len(late.messages) == 1)
        assert late.messages[0].retain and late.decoded()[0]["session"] == 2
        await late.stop()
    finally:
        await sync.stop()
        await proxy.stop()
        await watcher.stop()


async def test_graceful_stop_publishes_offline_and_no_will(db, mosquitto):
    sync = SyncComponent(mqtt_config(mosquitto.port), STATION, db)
    await sync.start()
    watcher = await Observer(mosquitto.port, [(STATE, 1), (MARKER, 1)]).start()
    assert await watcher.wait_for(lambda: len(watcher.decoded(STATE)) == 1)
    await sync.stop()
    assert await watcher.wait_for(lambda: len(watcher.decoded(STATE)) == 2)
    # a Will would be published when the broker handles the station's disconnect, which is before it
    # handles a message published after stop() returned: once that marker is here, a Will would be too
    await mark(watcher)
    await watcher.stop()
    states = [(m["state"], m.get("reason")) for m in watcher.decoded(STATE)]
    assert states == [("online", None), ("offline", "shutdown")]


async def test_heartbeat_reports_backlog_devices_and_temperatures(db, mosquitto):
    await db.write(lambda s: [record_event(s, "sale.captured", {"i": i}, priority=Priority.MONEY) for i in range(3)])
    provider_calls = []

    def status() -> dict:
        provider_calls.append(1)
        return {
            "devices": {"lock-bus": {"available": True}, "fridge-1": {"available": False, "last_error": "timeout"}},
            "temperatures": {"chiller": 4.5, "freezer": -18.0, "broken": float("nan")},
        }

    watcher = await Observer(mosquitto.port, [(f"station/{STATION}/tele/heartbeat", 0)]).start()
    sync = SyncComponent(mqtt_config(mosquitto.port, heartbeat_s=0.2), STATION, db, status_provider=status)
    await sync.start()
    try:
        assert await watcher.wait_for(lambda: len(watcher.messages) >= 2)
    finally:
        await sync.stop()
        await watcher.stop()
    beat = watcher.decoded()[-1]
    assert beat["outbox"]["pending"] == 3  # nobody acknowledged them
    assert beat["outbox"]["oldest_pending_age_s"] >= 0
    assert beat["devices"]["fridge-1"]["available"] is False
    assert beat["temperatures"] == {"chiller": 4.5, "freezer": -18.0}
    assert beat["relay"]["sent"] == 3 and beat["relay"]["acked"] == 0
    assert not watcher.messages[-1].retain


async def test_offline_heartbeats_become_expiring_summary_events(db, mosquitto, platform):
    proxy = await FaultProxy(mosquitto.port).start()
    proxy.refuse = True  # the uplink is down from the start
    temps = iter([3.0, 5.0, 4.0, 6.0, 2.0] + [4.0] * 100)

    def status() -> dict:
        return {"devices": {"fridge-1": {"available": False}}, "temperatures": {"chiller": next(temps)}}

    cfg = mqtt_config(proxy.port, heartbeat_s=0.05, offline_summary_s=0.22, telemetry_ttl_s=3600)
    sync = SyncComponent(cfg, STATION, db, status_provider=status)
    await sync.start()
    try:
        for _ in range(100):
            rows = await db.read(lambda s: list(s.scalars(select(OutboxEvent).where(OutboxEvent.type == "summary"))))
            if rows:
                break
            await asyncio.sleep(0.05)
        assert rows and rows[0].stream == "telemetry" and rows[0].expires_at is not None
        first = rows[0].payload
        assert first["temperatures"]["chiller"]["min"] == 2.0 and first["temperatures"]["chiller"]["max"] == 6.0
        assert first["devices_down_samples"]["fridge-1"] == first["samples"] >= 4
        proxy.refuse = False
        assert await platform.wait_for(lambda: platform.stats.applied >= 1, 10)
    finally:
        await sync.stop()
        await proxy.stop()
    delivered = await platform.call(platform.store.events, STATION, "telemetry")
    assert delivered[0]["type"] == "summary" and delivered[0]["payload"] == first


async def test_snapshot_is_sent_on_change_not_on_a_timer(db, mosquitto):
    await seed_compartments(db, 5)
    watcher = await Observer(mosquitto.port, [(f"station/{STATION}/tele/snapshot", 1)]).start()
    sync = SyncComponent(mqtt_config(mosquitto.port, heartbeat_s=0.1), STATION, db)
    await sync.start()
    try:
        assert await watcher.wait_for(lambda: len(watcher.messages) == 1)
        checked = asyncio.Event()
        armed = False
        publish_snapshot = sync.telemetry.publish_snapshot

        async def watched(*, force: bool) -> dict:
            """The snapshot check: `checked` is set once a check that saw the sale has finished."""
            saw_the_sale = armed
            result = await publish_snapshot(force=force)
            if saw_the_sale:
                checked.set()
            return result

        sync.telemetry.publish_snapshot = watched  # type: ignore[method-assign]
        await db.write(lambda s: record_event(s, "sale.captured", {"x": 1}, priority=Priority.MONEY))
        armed = True
        await asyncio.wait_for(checked.wait(), 5)  # the event that changes no state was looked at
        await db.write(lambda s: raise_alarm(s, "door.left_open", "compartment:5", severity="warning"))
        # a snapshot for the sale would have been published before the alarm's, on the same topic
        assert await watcher.wait_for(lambda: any(m["alarms"] for m in watcher.decoded()), 4)
        assert len(watcher.messages) == 2
    finally:
        await sync.stop()
        await watcher.stop()
    first, second = watcher.decoded()
    assert first["alarms"] == [] and [a["kind"] for a in second["alarms"]] == ["door.left_open"]
    assert first["sha256"] != second["sha256"]
    assert watcher.messages[1].retain is False  # live delivery; the broker keeps it retained for newcomers
