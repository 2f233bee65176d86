"""Signed commands end to end through Mosquitto, and the `station ops` console as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from central.console import BrokerAccess, list_stations, send_command
from station.db.models import Compartment
from station.db.types import utcnow
from sync.component import SyncComponent
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import command_body, generate_key, public_key_text, sign_command
from tests.sync.sync_helpers import STATION, Observer, mqtt_config, wait_connected

KEY = generate_key()
REPO = Path(__file__).resolve().parents[2]


class RecordingOpener:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str, str | None]] = []

    async def open(self, compartment_id: int, reason: str, reference: str | None) -> dict:
        self.calls.append((compartment_id, reason, reference))
        return {"state": "opened"}


@pytest.fixture
async def seeded(db):
    await db.write(lambda s: s.add(Compartment(id=12, bus="wall", board=0, lock=12, updated_at=utcnow())))
    return db


def access(port: int, protocol: str = "auto", client_id: str = "ops-test") -> BrokerAccess:
    return BrokerAccess([Endpoint("127.0.0.1", port, protocol)], ConnectOptions(client_id=client_id, clean=True))


def station(db, port: int, opener: RecordingOpener, **cfg) -> SyncComponent:
    config = mqtt_config(port, operator_keys={"ops": public_key_text(KEY)}, **cfg)
    return SyncComponent(config, STATION, db, door_opener=opener)


async def test_a_command_delivered_twice_opens_once_and_is_answered_twice(seeded, mosquitto):
    opener = RecordingOpener()
    sync = station(seeded, mosquitto.port, opener)
    await sync.start()
    await wait_connected(sync)
    try:
        results = await send_command(
            access(mosquitto.port),
            KEY,
            issuer="ops",
            issuer_seq=1,
            station_id=STATION,
            action="open_compartment",
            params={"compartment_id": 12, "reference": "INC-1"},
            repeat=2,
        )
    finally:
        await sync.stop()
    assert [(r["status"], r["duplicate"]) for r in results] == [("done", False), ("done", True)]
    assert results[0]["result"] == results[1]["result"]
    assert opener.calls == [(12, "remote", "INC-1")]


async def test_a_retained_command_is_refused_and_never_opens(seeded, mosquitto):
    body = command_body(
        station_id=STATION,
        action="open_compartment",
        issuer="ops",
        issuer_seq=1,
        params={"compartment_id": 12, "reference": "INC-2"},
    )
    planter = await Observer(mosquitto.port, [], client_id="planter").start()
    assert planter.conn is not None
    planter.conn.publish(f"station/{STATION}/cmd/open_compartment", sign_command(body, KEY), qos=1, retain=True)
    await asyncio.sleep(0.2)
    results = await Observer(mosquitto.port, [(f"station/{STATION}/cmd-resp", 1)], client_id="results").start()
    opener = RecordingOpener()
    sync = station(seeded, mosquitto.port, opener)
    await sync.start()
    try:
        assert await results.wait_for(lambda: len(results.messages) >= 1)
    finally:
        await sync.stop()
        planter.conn.publish(f"station/{STATION}/cmd/open_compartment", b"", qos=1, retain=True)  # clear it
        await planter.stop()
        await results.stop()
    answer = results.decoded()[0]
    assert (answer["cmd_id"], answer["status"], answer["reason"]) == (body["cmd_id"], "rejected", "retained")
    assert opener.calls == []


async def test_commands_queued_while_offline_run_only_if_still_valid(seeded, mosquitto):
    """Persistent session: the broker keeps commands for the offline station; the stale unlock is refused."""
    opener = RecordingOpener()
    sync = station(seeded, mosquitto.port, opener)
    await sync.start()
    await wait_connected(sync)
    await sync.stop()  # the broker now holds the station's session and subscriptions
    ops = access(mosquitto.port, protocol="3.1.1")  # no MQTT 5 expiry: the station's own check must hold
    unlock = asyncio.create_task(
        send_command(
            ops,
            KEY,
            issuer="ops",
            issuer_seq=10,
            station_id=STATION,
            action="open_compartment",
            params={"compartment_id": 12, "reference": "INC-3"},
            lifetime_s=1,
            wait_s=6,
        )
    )
    await asyncio.sleep(0.3)
    block = asyncio.create_task(
        send_command(
            access(mosquitto.port, client_id="ops-2"),
            KEY,
            issuer="ops",
            issuer_seq=11,
            station_id=STATION,
            action="block_compartment",
            params={"compartment_id": 12, "reason": "vandalism"},
            wait_s=6,
        )
    )
    await asyncio.sleep(1.5)  # the unlock expires while the station is away
    sync = station(seeded, mosquitto.port, opener)
    await sync.start()
    try:
        unlock_results, block_results = await unlock, await block
    finally:
        await sync.stop()
    assert (unlock_results[0]["status"], unlock_results[0]["reason"]) == ("rejected", "expired")
    assert block_results[0]["status"] == "done"
    assert opener.calls == []


def ops_cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "station.cli", "ops", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


async def test_ops_console_keygen_send_and_list(seeded, mosquitto, tmp_path: Path):
    keyfile = tmp_path / "ops.pem"
    out = await asyncio.to_thread(ops_cli, "keygen", "--out", str(keyfile), "--issuer", "hq")
    assert out.returncode == 0, out.stderr
    pinned = out.stdout.strip().splitlines()[-1]
    issuer, _, quoted = pinned.partition(" = ")
    assert issuer == "hq" and oct(keyfile.stat().st_mode & 0o777) == "0o600"
    again = await asyncio.to_thread(ops_cli, "keygen", "--out", str(keyfile))
    assert again.returncode == 2  # never overwrites a key

    config = mqtt_config(mosquitto.port, operator_keys={"hq": json.loads(quoted)})
    sync = SyncComponent(config, STATION, seeded)
    await sync.start()
    await wait_connected(sync)
    broker = f"127.0.0.1:{mosquitto.port}"
    try:
        sent = await asyncio.to_thread(
            ops_cli,
            "send",
            "--broker",
            broker,
            "--key",
            str(keyfile),
            "--issuer",
            "hq",
            "--station",
            STATION,
            "block-compartment",
            "--compartment",
            "12",
            "--reason",
            "glass broken",
            "--reference",
            "INC-9",
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert json.loads(sent.stdout)["result"] == {"compartment_id": 12, "status": "blocked", "changed": True}
        second = await asyncio.to_thread(
            ops_cli,
            "send",
            "--broker",
            broker,
            "--key",
            str(keyfile),
            "--issuer",
            "hq",
            "--station",
            STATION,
            "open-compartment",
            "--compartment",
            "12",
            "--reference",
            "INC-9",
        )
        assert second.returncode == 1 and json.loads(second.stdout)["reason"] == "no_door_opener"
        await asyncio.sleep(1.2)  # the snapshot after the block is debounced
        listed = await asyncio.to_thread(ops_cli, "stations", "--broker", broker, "--listen", "0.8")
        views = await list_stations(access(mosquitto.port), 0.5)
    finally:
        await sync.stop()
    assert listed.returncode == 0 and STATION in listed.stdout and "online" in listed.stdout
    assert views[STATION].state["state"] == "online"
    assert views[STATION].snapshot["compartments"][0]["status"] == "blocked"
