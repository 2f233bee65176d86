"""A broker that refuses subscriptions for a while (a clustered broker still electing its leaders)
is asked again on the same connection: no reconnect, no session takeover, nothing lost."""

from __future__ import annotations

import pytest

from simulators.mqtt.faultproxy import FaultProxy, SubackRefuser
from station.outbox import pending_count
from sync.component import SyncComponent
from tests.sync.sync_helpers import STATION, mqtt_config, record_sales, wait_connected


def _suback(packet_id: int, codes: bytes) -> bytes:
    body = packet_id.to_bytes(2, "big") + codes
    return bytes([0x90, len(body)]) + body


def test_refuser_rewrites_only_subacks_and_keeps_split_packets_whole():
    class Proxy:
        refuse_subscriptions = 1
        stats = type("S", (), {"subacks_refused": 0})()

    refuser = SubackRefuser(Proxy())  # type: ignore[arg-type]
    connack = bytes([0x20, 2, 0, 0])
    stream = connack + _suback(7, b"\x01\x01") + _suback(8, b"\x01")
    out = refuser.feed(stream[:5]) + refuser.feed(stream[5:9]) + refuser.feed(stream[9:])
    assert out == connack + _suback(7, b"\x80\x80") + _suback(8, b"\x01")  # only the first one is refused
    assert Proxy.stats.subacks_refused == 1
    assert refuser.feed(b"\x30") == b""  # half a PUBLISH waits for the rest


@pytest.mark.parametrize("refusals", [3])
async def test_station_asks_again_on_the_same_connection_until_granted(db, mosquitto, platform, refusals):
    await record_sales(db, 200)
    proxy = await FaultProxy(mosquitto.port).start()
    proxy.refuse_subscriptions = refusals
    sync = SyncComponent(mqtt_config(proxy.port), STATION, db)
    await sync.start()
    try:
        await wait_connected(sync, 20)  # connected = subscribed: after the refusals and their backoff
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == 200, 15)
        assert await platform.wait_for(lambda: sync.relay.stats.acked >= 200, 10)
    finally:
        await sync.stop()
        await proxy.stop()
    assert proxy.stats.subacks_refused == refusals
    assert proxy.stats.connections == 1, "a refused subscription must not cost the connection"
    assert sync.connector.connects == 1
    assert await db.read(pending_count) == 0
