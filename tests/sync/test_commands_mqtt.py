"""Signed commands end to end through Mosquitto, and the `station ops` console as a real subprocess."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from central.console import BrokerAccess, list_stations, send_command
from station.config.mqtt import BrokerConfig
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


def station(db, port: int, opener: RecordingOpener, protocol: str = "auto", **cfg) -> SyncComponent:
    config = mqtt_config(port, operator_keys={"ops": public_key_text(KEY)}, **cfg)
    config = config.model_copy(update={"brokers": [BrokerConfig(host="127.0.0.1", port=port, protocol=protocol)]})
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


class Ops:
    """A platform operator that (wrongly) publishes with retain=1, and reads every answer."""

    def __init__(self, port: int, protocol: str = "5") -> None:
        self.port, self.protocol, self.seq = port, protocol, 0
        self.answers: Observer | None = None

    async def start(self) -> Ops:
        self.answers = await Observer(self.port, [(f"station/{STATION}/cmd-resp", 1)], client_id="answers").start()
        return self

    async def publish(self, action: str, params: dict, *, retain: bool) -> str:
        """Publish one signed command on a fresh connection; returns its cmd_id."""
        self.seq += 1
        body = command_body(station_id=STATION, action=action, issuer="ops", issuer_seq=self.seq, params=params)
        planter = await Observer(self.port, [], client_id=f"ops-{self.seq}").start()
        assert planter.conn is not None
        mid = planter.conn.publish(f"station/{STATION}/cmd/{action}", sign_command(body, KEY), qos=1, retain=retain)
        assert mid > 0
        await planter.stop()  # DISCONNECT after the PUBLISH: the broker has it
        return body["cmd_id"]

    async def clear_retained(self, action: str) -> None:
        cleaner = await Observer(self.port, [], client_id="cleaner").start()
        assert cleaner.conn is not None
        cleaner.conn.publish(f"station/{STATION}/cmd/{action}", b"", qos=1, retain=True)
        await cleaner.stop()

    def answers_for(self, cmd_id: str) -> list[dict]:
        assert self.answers is not None
        return [a for a in self.answers.decoded() if a.get("cmd_id") == cmd_id]

    async def wait_answer(self, cmd_id: str, count: int = 1) -> list[dict]:
        assert self.answers is not None
        assert await self.answers.wait_for(lambda: len(self.answers_for(cmd_id)) >= count, 10), cmd_id
        return self.answers_for(cmd_id)

    async def stop(self) -> None:
        if self.answers is not None:
            await self.answers.stop()


async def reconnect(sync: SyncComponent) -> None:
    """Drop the link (no DISCONNECT) and wait for the next session to be up."""
    session = sync.session
    assert sync.connection is not None
    sync.connection.abort()
    for _ in range(250):
        if sync.connection is not None and sync.session > session:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the station did not reconnect")


OPEN_12 = {"compartment_id": 12, "reference": "INC-2"}
BLOCK_11 = {"compartment_id": 11, "reason": "probe"}


async def test_mqtt5_a_command_published_retained_to_a_connected_station_never_opens(seeded, mosquitto):
    """Retain-as-published: the live delivery keeps retain=1, the station refuses it; so does the replay."""
    await seeded.write(lambda s: s.add(Compartment(id=11, bus="wall", board=0, lock=11, updated_at=utcnow())))
    opener, ops = RecordingOpener(), await Ops(mosquitto.port).start()
    sync = station(seeded, mosquitto.port, opener, protocol="5")
    await sync.start()
    await wait_connected(sync)
    try:
        retained = await ops.publish("open_compartment", OPEN_12, retain=True)
        (live,) = await ops.wait_answer(retained)
        probe = await ops.publish("block_compartment", BLOCK_11, retain=False)  # answered after the retained one
        (probed,) = await ops.wait_answer(probe)
        await reconnect(sync)  # the broker replays the retained command at subscribe
        replayed = (await ops.wait_answer(retained, 2))[1]
    finally:
        await sync.stop()
        await ops.clear_retained("open_compartment")
        await ops.stop()
    assert (live["status"], live["reason"]) == ("rejected", "retained")
    assert (replayed["status"], replayed["reason"]) == ("rejected", "retained")
    assert probed["status"] == "done"  # the station was live and obeying
    assert opener.calls == []


async def test_mqtt5_a_command_published_retained_while_the_station_is_offline_never_opens(seeded, mosquitto):
    """Queued in the persistent session (retain flag kept) and replayed at subscribe: both refused."""
    opener, ops = RecordingOpener(), await Ops(mosquitto.port).start()
    sync = station(seeded, mosquitto.port, opener, protocol="5")
    await sync.start()
    await wait_connected(sync)
    await sync.stop()  # the broker keeps the session and its subscription (retain-as-published)
    try:
        retained = await ops.publish("open_compartment", OPEN_12, retain=True)
        sync = station(seeded, mosquitto.port, opener, protocol="5")
        await sync.start()
        await wait_connected(sync)
        answers = await ops.wait_answer(retained, 2)  # the queued copy and the replay at subscribe
        probe = await ops.publish("block_compartment", {"compartment_id": 12, "reason": "probe"}, retain=False)
        (probed,) = await ops.wait_answer(probe)
    finally:
        await sync.stop()
        await ops.clear_retained("open_compartment")
        await ops.stop()
    assert [(a["status"], a["reason"]) for a in ops.answers_for(retained)] == [("rejected", "retained")] * 2
    assert len(answers) == 2 and probed["status"] == "done"
    assert opener.calls == []


async def test_mqtt311_what_holds_for_a_retained_command(seeded, mosquitto):
    """MQTT 3.1.1 has no retain-as-published: a live delivery arrives with retain=0 and cannot be told from
    a normal command (it runs, once); every broker replay arrives with retain=1 and is refused. This is why
    docs/mqtt.md makes the broker forbid retained publishes on cmd topics."""
    opener, ops = RecordingOpener(), await Ops(mosquitto.port).start()
    sync = station(seeded, mosquitto.port, opener, protocol="3.1.1")
    await sync.start()
    await wait_connected(sync)
    try:
        assert sync.protocol == "3.1.1"
        retained = await ops.publish("open_compartment", OPEN_12, retain=True)
        (live,) = await ops.wait_answer(retained)
        await reconnect(sync)
        replayed = (await ops.wait_answer(retained, 2))[1]
    finally:
        await sync.stop()
        await ops.clear_retained("open_compartment")
        await ops.stop()
    assert live["status"] == "done"
    assert (replayed["status"], replayed["reason"]) == ("rejected", "retained")
    assert opener.calls == [(12, "remote", "INC-2")]  # once, never again


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
        assert json.loads(sent.stdout)["result"] == {
            "compartment_id": 12, "status": "empty", "blocked_reason": "operator:glass broken", "changed": True
        }
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
    first = views[STATION].snapshot["compartments"][0]
    assert (first["status"], first["blocked_reason"]) == ("empty", "operator:glass broken")
