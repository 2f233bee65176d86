"""The whole daemon syncing through a real Mosquitto: events acknowledged, a signed remote open runs, and
/api/health reports the outbox depth the database has at the moment it is asked."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx

from central.console import BrokerAccess, send_command
from central.consumer import Platform
from simulators.locks import LockBusSimulator
from simulators.mqtt.localbroker import Mosquitto
from station.db import migrate
from station.db.engine import Database
from station.journal import audit
from station.outbox import oldest_pending_at, pending_count
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import generate_key
from tests.conftest import REPO, free_port, minimal_config
from tests.station.daemon_helpers import mqtt_section


async def test_daemon_drains_its_outbox_and_obeys_a_signed_open(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    locks = LockBusSimulator("cu16", [0], open_delay_s=0.05, close_after_s=0.3)
    lock_url = await locks.start_tcp()
    key = generate_key()
    db_path, http_port = tmp_path / "station.db", free_port()
    config = tmp_path / "station.toml"
    config.write_text(
        minimal_config(db_path, http_port)
        + f"""
[lock_buses.wall]
port = "{lock_url}"
protocol = "cu16"
[[lock_buses.wall.boards]]
address = 0

[[compartments]]
id = 5
bus = "wall"
board = 0
lock = 5
"""
        + mqtt_section(broker.port, key)
    )
    migrate.upgrade(db_path)
    db = Database(db_path)
    db.open_sync()
    epoch = db.epoch
    for i in range(3):  # written while the station was offline
        db.run_sync(lambda s, i=i: audit(s, "restock", f"compartment:{i}", actor="volunteer:1"))
    db.close_sync()

    platform = Platform([Endpoint("127.0.0.1", broker.port)], tmp_path / "platform.db")
    await platform.start()
    platform_stopped = False
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "station.cli",
        "run",
        "--config",
        str(config),
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert await platform.wait_for(lambda: platform.hwm("test-01", epoch) >= 3, 30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as http:
            for _ in range(600):  # the platform acknowledges in batches; a loaded machine can take a while
                health = (await http.get("/api/health")).json()
                if health["outbox"]["pending"] == 0:
                    break
                await asyncio.sleep(0.05)
            assert health["outbox"]["pending"] == 0, health["outbox"]  # acknowledged by the platform
            assert health["components"]["sync"]["status"] == "up"

            access = BrokerAccess([Endpoint("127.0.0.1", broker.port)], ConnectOptions(client_id="ops-test"))
            results = await send_command(
                access,
                key,
                issuer="county-ops",
                issuer_seq=1,
                station_id="test-01",
                action="open_compartment",
                params={"compartment_id": 5, "reference": "INC-42"},
                wait_s=20,
                repeat=2,
            )
            await platform.stop()  # nobody acknowledges from here on: the outbox depth holds still
            platform_stopped = True
            await _until_still(db_path)  # acks the platform sent before it stopped may still arrive
            await asyncio.to_thread(_write_audits, db_path, 7)
            health = (await http.get("/api/health")).json()  # at once: no refresh interval to wait for
            pending, oldest = await asyncio.to_thread(_outbox_depth, db_path)
            assert pending >= 7
            assert health["outbox"] == {"pending": pending, "oldest_pending_at": oldest}
            assert health["components"]["database"]["detail"]["outbox"]["pending"] == pending
        first, second = results  # delivered twice: answered twice with the same stored result
        assert (first["duplicate"], second["duplicate"]) == (False, True)
        assert {k: v for k, v in first.items() if k != "duplicate"} == {
            k: v for k, v in second.items() if k != "duplicate"
        }
        assert first["status"] == "done", first
        assert first["result"]["outcome"]["outcome"] == "opened"
        assert locks.lock(0, 5).pulses == 1  # executed once
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        if not platform_stopped:
            await platform.stop()
        await locks.stop()
        broker.stop()


async def _until_still(db_path: Path, quiet_s: float = 0.5, within_s: float = 10.0) -> None:
    """Until the outbox depth has not changed for `quiet_s`."""
    deadline = asyncio.get_running_loop().time() + within_s
    last = await asyncio.to_thread(_outbox_depth, db_path)
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(quiet_s)
        now = await asyncio.to_thread(_outbox_depth, db_path)
        if now == last:
            return
        last = now
    raise AssertionError(f"the outbox depth never held still: {last}")


def _write_audits(db_path: Path, count: int) -> None:
    """Outbox events written by another process's connection while the daemon runs (WAL: no waiting)."""
    db = Database(db_path)
    db.open_sync()
    try:
        db.run_sync(lambda s: [audit(s, "inspect", f"compartment:{i}", actor="volunteer:2") for i in range(count)])
    finally:
        db.close_sync()


def _outbox_depth(db_path: Path) -> tuple[int, str | None]:
    db = Database(db_path)
    db.open_sync()
    try:
        pending, oldest = db.run_sync(lambda s: (pending_count(s), oldest_pending_at(s)), write=False)
    finally:
        db.close_sync()
    return pending, oldest.isoformat() if oldest else None
