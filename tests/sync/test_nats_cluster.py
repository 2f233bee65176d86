"""Fail-over across a 3-node NATS cluster with the MQTT listener (MQTT 3.1.1 only, state in JetStream):
the node the station is connected to is SIGKILLed mid-drain; nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from drivers.backoff import Backoff
from station.outbox import pending_count
from sync.component import SyncComponent
from sync.connector import Endpoint
from sync.localbroker import NatsCluster
from sync.platform import Platform
from tests.sync.sync_helpers import STATION, mqtt_config, record_sales, wait_connected


@pytest.fixture
def cluster(tmp_path: Path):
    nats = NatsCluster(tmp_path / "nats", size=3).start()
    yield nats
    nats.stop()


@pytest.mark.parametrize("total", [1500, pytest.param(20_000, marks=pytest.mark.slow)])
async def test_station_fails_over_when_its_nats_node_dies_mid_drain(db, cluster, tmp_path, total):
    await record_sales(db, total)
    n1, n2, n3 = (node.mqtt_port for node in cluster.nodes)
    endpoints = [Endpoint("127.0.0.1", port) for port in (n3, n2, n1)]
    platform = Platform(endpoints, tmp_path / "p.db", backoff=Backoff(0.1, 1.0))
    await platform.start()
    sync = SyncComponent(
        mqtt_config(n1, n2, n3, inflight=100, ack_window=500, connect_timeout_s=5.0, ack_timeout_s=10.0), STATION, db
    )
    started = time.monotonic()
    await sync.start()
    try:
        await wait_connected(sync, 30)  # JetStream elects its leaders first
        t_connected = time.monotonic() - started
        assert sync.protocol == "3.1.1"  # NATS refused MQTT 5; the station fell back
        assert await platform.wait_for(lambda: platform.stats.received >= total // 5, 60)
        victim = sync.connector.current
        assert victim is not None
        t_kill = time.monotonic() - started
        cluster.kill([n1, n2, n3].index(victim.port))
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == total, 90)
        assert sync.connector.current not in (None, victim)
        assert await platform.wait_for(lambda: sync.relay.stats.acked >= total, 30)
        events = await platform.call(platform.store.events, STATION)
    finally:
        await sync.stop()
        await platform.stop()
    assert sorted(e["seq"] for e in events) == list(range(1, total + 1))
    assert platform.stats.conflicts == 0
    assert await db.read(pending_count) == 0
    print(
        f"\nNATS fail-over ({victim} killed at {t_kill:.1f} s, first connect {t_connected:.1f} s): {total} events "
        f"in {time.monotonic() - started:.1f} s, wire duplicates {platform.stats.wire_duplicates}, "
        f"re-sent {sync.relay.stats.resent}, rewinds {sync.relay.stats.rewinds}"
    )
