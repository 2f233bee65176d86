"""Fail-over across a 3-node NATS cluster with the MQTT listener (MQTT 3.1.1 only, state in JetStream):
the node the station is connected to is SIGKILLed mid-drain; nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from central.consumer import Platform
from common.backoff import Backoff
from simulators.mqtt.localbroker import NatsCluster
from station.outbox import pending_count
from sync.component import SyncComponent
from sync.connector import Endpoint
from tests.sync.sync_helpers import STATION, mqtt_config, record_sales, wait_connected


@pytest.fixture
def cluster(tmp_path: Path):
    nats = NatsCluster(tmp_path / "nats", size=3).start()
    yield nats
    nats.stop()


SCENARIOS = [
    pytest.param(1500, False, id="platform-elsewhere"),
    pytest.param(1500, True, marks=pytest.mark.slow, id="platform-on-victim"),
    pytest.param(20_000, False, marks=pytest.mark.slow, id="platform-elsewhere-20k"),
]


@pytest.mark.parametrize(("total", "platform_on_victim"), SCENARIOS)
async def test_station_fails_over_when_its_nats_node_dies_mid_drain(db, cluster, tmp_path, total, platform_on_victim):
    """The platform connects once the station has: to the station's node (both lose it) or to another one."""
    await record_sales(db, total)
    ports = [node.mqtt_port for node in cluster.nodes]
    sync = SyncComponent(
        mqtt_config(*ports, inflight=100, ack_window=500, connect_timeout_s=5.0, ack_timeout_s=10.0), STATION, db
    )
    started = time.monotonic()
    await sync.start()
    platform = None
    try:
        await wait_connected(sync, 30)  # JetStream elects its leaders first
        t_connected = time.monotonic() - started
        assert sync.protocol == "3.1.1"  # NATS refused MQTT 5; the station fell back
        victim = sync.connector.current
        assert victim is not None
        others = [port for port in ports if port != victim.port]
        # elsewhere: the victim is not even on the platform's list, so it cannot end up there by fail-over
        order = [victim.port, *others] if platform_on_victim else others
        endpoints = [Endpoint("127.0.0.1", port) for port in order]
        platform = Platform(endpoints, tmp_path / "p.db", backoff=Backoff(0.1, 1.0))
        await platform.start()
        assert await platform.wait_for(lambda: platform.stats.received >= total // 5, 60)
        assert (platform.connector.current == victim) is platform_on_victim
        t_kill = time.monotonic() - started
        cluster.kill(ports.index(victim.port))
        # JetStream re-elects the killed node's leaders before sessions work again: tens of seconds
        # on a loaded two-core machine, hence the generous bound; what is asserted is that nothing is lost.
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == total, 180)
        assert sync.connector.current not in (None, victim)
        assert await platform.wait_for(lambda: sync.relay.stats.acked >= total, 30)
        events = await platform.call(platform.store.events, STATION)
    finally:
        await sync.stop()
        if platform is not None:
            await platform.stop()
    assert sorted(e["seq"] for e in events) == list(range(1, total + 1))
    assert platform.stats.conflicts == 0
    assert await db.read(pending_count) == 0
    print(
        f"\nNATS fail-over ({victim} killed at {t_kill:.1f} s, first connect {t_connected:.1f} s, platform on victim: "
        f"{platform_on_victim}): {total} events in {time.monotonic() - started:.1f} s, "
        f"wire duplicates {platform.stats.wire_duplicates}, re-sent {sync.relay.stats.resent}, "
        f"rewinds {sync.relay.stats.rewinds}"
    )
