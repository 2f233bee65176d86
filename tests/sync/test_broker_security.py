"""Broker security on a real Mosquitto: per-station mTLS, identity = certificate CN, ACL isolation,
anonymous and revoked clients refused (safety-and-sync.md §5.1, target T9)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from central.consumer import Platform
from common.backoff import Backoff
from simulators.mqtt.localbroker import STATION_ACL, Mosquitto
from station.config.mqtt import TlsConfig
from sync.component import SyncComponent
from sync.connector import Endpoint
from sync.mqttio import ConnectError, TlsFiles
from tests.sync.pki import Pki
from tests.sync.sync_helpers import Observer, mqtt_config, record_sales, wait_connected


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    pki = Pki(tmp_path / "pki")
    for identity in ("st-a", "st-b", "platform-ingest", "platform-ops"):
        pki.issue(identity)
    pki.issue("broker", server=True)
    return pki


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Pki):
    acl = tmp_path / "acl"
    acl.write_text(STATION_ACL)
    d = pki.directory
    broker = Mosquitto(
        tmp_path / "mosquitto",
        extra=[
            f"cafile {pki.ca_file}",
            f"certfile {d / 'broker.pem'}",
            f"keyfile {d / 'broker.key'}",
            f"crlfile {pki.crl_file}",
            "require_certificate true",
            "use_identity_as_username true",
            "tls_version tlsv1.2",
            "allow_anonymous false",
            f"acl_file {acl}",
        ],
    ).start()
    yield broker
    broker.stop()


def tls(pki: Pki, identity: str) -> TlsFiles:
    return TlsFiles(pki.ca_file, pki.directory / f"{identity}.pem", pki.directory / f"{identity}.key")


async def client(broker: Mosquitto, pki: Pki, identity: str, topics: list[tuple[str, int]]) -> Observer:
    return await Observer(broker.port, topics, client_id=identity, tls=tls(pki, identity)).start()


async def refused_within(broker: Mosquitto, pki: Pki, identity: str, seconds: float) -> bool:
    """Until the broker refuses `identity` (e.g. once it has re-read its CRL); False if it never does."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        try:
            accepted = await client(broker, pki, identity, [])
        except ConnectError:
            return True
        await accepted.stop()
        await asyncio.sleep(0.05)
    return False


async def test_station_drains_over_mtls_with_its_certificate_identity(db, tls_broker, pki, tmp_path):
    files = tls(pki, "st-a")
    cfg = mqtt_config(
        tls_broker.port, tls=TlsConfig(ca_file=files.ca_file, cert_file=files.cert_file, key_file=files.key_file)
    )
    platform = Platform(
        [Endpoint("127.0.0.1", tls_broker.port)],
        tmp_path / "p.db",
        tls=tls(pki, "platform-ingest"),
        backoff=Backoff(0.05, 0.3),
    )
    await platform.start()
    await record_sales(db, 50)
    sync = SyncComponent(cfg, "st-a", db)
    await sync.start()
    try:
        assert await platform.wait_for(lambda: platform.hwm("st-a", db.epoch) == 50, 10)
        assert await platform.wait_for(lambda: sync.relay.stats.acked == 50, 5)  # acks reach the station
    finally:
        await sync.stop()
        await platform.stop()


async def test_a_station_cannot_touch_another_stations_topics(tls_broker, pki):
    ingest = await client(tls_broker, pki, "platform-ingest", [("station/+/evt/#", 1)])
    station_b = await client(tls_broker, pki, "st-b", [("station/st-b/cmd/+", 1)])
    station_a = await client(tls_broker, pki, "st-a", [("station/st-a/cmd/#", 1)])
    ops = await client(tls_broker, pki, "platform-ops", [])
    try:
        # Mosquitto 2.0 grants the subscription and applies the read ACL per delivered message
        await station_a.conn.subscribe([("station/st-b/cmd/#", 1)])
        station_a.conn.publish("station/st-b/evt/x", b'{"forged": true}', qos=1)  # as B: dropped
        station_a.conn.publish("station/st-b/cmd/open_compartment", b"{}", qos=1)  # commanding: dropped
        station_a.conn.publish("station/st-a/evt/x", b'{"own": true}', qos=1)  # its own topic: delivered
        # The broker handles one client's messages in order and delivers to each subscriber in
        # order: what was dropped would have arrived before what was sent after it.
        assert await ingest.wait_for(lambda: len(ingest.messages) >= 1)
        ops.conn.publish("station/st-b/cmd/open_compartment", b'{"from": "ops"}', qos=1)  # ops may command
        assert await station_b.wait_for(lambda: len(station_b.messages) >= 1)
        ops.conn.publish("station/st-a/cmd/marker", b'{"marker": true}', qos=1)  # after B's command
        assert await station_a.wait_for(lambda: len(station_a.messages) >= 1)
    finally:
        for c in (ingest, station_b, station_a, ops):
            await c.stop()
    assert [m.topic for m in ingest.messages] == ["station/st-a/evt/x"]
    assert [m.payload for m in station_b.messages] == [b'{"from": "ops"}']
    assert [m.topic for m in station_a.messages] == ["station/st-a/cmd/marker"]  # never saw B's command


async def test_anonymous_and_revoked_clients_are_refused(tls_broker, pki, tmp_path):
    with pytest.raises(ConnectError):
        await Observer(tls_broker.port, [], client_id="anon", tls=TlsFiles(pki.ca_file)).start()
    with pytest.raises(ConnectError):  # plain TCP to the TLS listener
        await Observer(tls_broker.port, [], client_id="plain", username="st-a", password="x").start()
    ok = await client(tls_broker, pki, "st-b", [])
    await ok.stop()
    pki.revoke("st-b")
    tls_broker.reload()  # SIGHUP: Mosquitto re-reads the CRL, at its own pace
    assert await refused_within(tls_broker, pki, "st-b", 5.0)
    with pytest.raises(ConnectError):
        await client(tls_broker, pki, "st-b", [])
    still_ok = await client(tls_broker, pki, "st-a", [])
    await still_ok.stop()


async def test_station_id_must_match_its_certificate(db, tls_broker, pki):
    """A station configured as st-b but holding st-a's certificate publishes into a void."""
    ingest = await client(tls_broker, pki, "platform-ingest", [("station/+/state", 1)])
    files = tls(pki, "st-a")
    cfg = mqtt_config(
        tls_broker.port, tls=TlsConfig(ca_file=files.ca_file, cert_file=files.cert_file, key_file=files.key_file)
    )
    impostor = SyncComponent(cfg, "st-b", db)
    await impostor.start()
    try:
        await wait_connected(impostor)  # its birth on station/st-b/state has been sent
        assert impostor.connection is not None
        impostor.connection.publish("station/st-a/state", b'{"marker": true}', qos=1)  # allowed for st-a's CN
        assert await ingest.wait_for(lambda: len(ingest.messages) >= 1)  # so the birth was handled before it
    finally:
        await impostor.stop()
        await ingest.stop()
    assert [m.topic for m in ingest.messages] == ["station/st-a/state"]
