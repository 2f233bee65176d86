"""The whole daemon on simulators for a short day: every event it really sends matches its own schema.

Lock wall, card terminal and a fridge controller are simulators on TCP, the broker is a private
Mosquitto, the platform is the reference consumer. The day: goods loaded (before the start), a card
purchase (door opened and closed), cold-chain readings of a fridge that is too warm (the compartment
in it is blocked), an operator's remote unblock, a command published with retain=1 (refused, no door
opens). Every outbox event the station wrote must arrive at the platform, and every event and every
other message on the wire must validate against docs/schemas, each event against the payload schema
its type has in the registry: no event passes as "any object".
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from central.console import BrokerAccess, send_command
from central.consumer import Platform
from drivers.fridge import load_map
from simulators.fridge import FridgeBusSimulator, ThermalParams
from simulators.locks import LockBusSimulator
from simulators.mqtt.localbroker import Mosquitto
from simulators.zvt import SimConfig, ZvtSimulator
from station.compartments.contents import load as load_compartment
from station.compartments.owner import sync_configured as sync_compartments
from station.config import parse_config
from station.db import migrate
from station.db.engine import Database
from station.db.models import Product
from station.db.types import utcnow
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import command_body, generate_key, sign_command
from tests.conftest import REPO, free_port, minimal_config
from tests.station.daemon_helpers import mqtt_section
from tests.sync.schema_check import errors, event_problems, rule_for
from tests.sync.sync_helpers import Observer

STATION = "test-01"
SOLD, COLD, SPARE = 1, 18, 2  # compartments: the one bought from, the one in the warm fridge, an untouched one


def station_config(db_path: Path, http_port: int, lock_url: str, terminal_url: str, fridge_url: str, key: Any) -> str:
    compartments = "".join(
        f'[[compartments]]\nid = {c}\nbus = "wall"\nboard = {c // 17}\nlock = {1 + (c - 1) % 16}\n'
        + ('zone = "kuehl"\n' if c == COLD else "")
        for c in (SOLD, SPARE, COLD)
    )
    return (
        minimal_config(db_path, http_port)
        + f"""
[lock_buses.wall]
port = "{lock_url}"
protocol = "cu16"
timeout_ms = 150
poll_hz = 10
[[lock_buses.wall.boards]]
address = 0
[[lock_buses.wall.boards]]
address = 1

[doors]
open_detect_s = 0.6

[payment]
port = "{terminal_url}"

[modbus_lines.kalt]
port = "{fridge_url}"
timeout_ms = 200
reconnect_min_s = 0.05

[fridges.k1]
line = "kalt"
unit = 1
zone = "kuehl"
poll_s = 0.5

[zones.kuehl]
temperature_class = "chilled"
alarm_delay_s = 0

{compartments}"""
        + mqtt_section(0, key).replace("port = 0", "port = PORT")
    )


def stock(session: Any) -> None:
    """Milk (chilled) in the warm fridge's compartment, bread to buy; loading emits `stock.loaded`."""
    for gtin, name, cls in (("4006381333931", "Hofmilch 1 l", "chilled"), ("4001234567890", "Bauernbrot", "ambient")):
        session.add(
            Product(gtin=gtin, name=name, price_cents=420, vat_rate_bp=700, temperature_class=cls, updated_at=utcnow())
        )
    session.flush()
    load_compartment(session, SOLD, "4001234567890", 1, best_before=date(2030, 1, 1), actor="volunteer:1")
    load_compartment(session, COLD, "4006381333931", 2, best_before=date(2030, 1, 1), actor="volunteer:1")


def _last_outbox_id(db_path: Path) -> int:
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as con:
        return int(con.execute("SELECT coalesce(max(id), 0) FROM outbox").fetchone()[0])


async def test_every_event_of_a_whole_daemon_run_matches_its_own_schema(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    locks = LockBusSimulator("cu16", [0, 1], open_delay_s=0.05, close_after_s=0.3)
    terminal = ZvtSimulator(SimConfig(seed=3, step_s=0.01, card_wait_s=0.3, resend_s=0.2, ack_timeout_s=2.0))
    fridges = FridgeBusSimulator(load_map("dixell-xr"), {1: ThermalParams(initial_c=12.0)}, seed=5)  # too warm
    lock_url = await locks.start_tcp()
    terminal_url = (await terminal.start_tcp()).replace("socket://", "tcp://")
    fridge_url = await fridges.start_tcp()
    key = generate_key()
    db_path, http_port = tmp_path / "station.db", free_port()
    config_path = tmp_path / "station.toml"
    text = station_config(db_path, http_port, lock_url, terminal_url, fridge_url, key)
    config_path.write_text(text.replace("port = PORT", f"port = {broker.port}"))
    migrate.upgrade(db_path)
    db = Database(db_path)
    db.open_sync()
    epoch = db.epoch
    db.run_sync(lambda s: (sync_compartments(s, parse_config(config_path.read_text()).compartments), stock(s)))
    db.close_sync()

    received: list[dict[str, Any]] = []
    platform = Platform([Endpoint("127.0.0.1", broker.port)], tmp_path / "platform.db", on_event=received.append)
    await platform.start()
    wire = await Observer(broker.port, [("station/#", 1)], client_id="wire").start()
    ops = BrokerAccess([Endpoint("127.0.0.1", broker.port)], ConnectOptions(client_id="ops", clean=True))
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "station.cli",
            "run",
            "--config",
            str(config_path),
            "--log-format",
            "text",
            cwd=REPO,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=5) as http:
            await _wait_ready(http, proc, log)
            sale_id = (await http.post("/api/purchases", json={"compartments": [SOLD]})).json()["sale_id"]
            assert await platform.wait_for(lambda: {"sale.done", "door.closed"} <= _types(received), 30), _tail(log)
            assert await platform.wait_for(lambda: "coldchain.compartment_blocked" in _types(received), 30), _tail(log)
            unblock = await send_command(
                ops,
                key,
                issuer="county-ops",
                issuer_seq=1,
                station_id=STATION,
                action="unblock_compartment",
                params={"compartment_id": COLD, "reference": "INC-7"},
                wait_s=20,
            )
            assert unblock and unblock[0]["status"] == "done", unblock
            retained = await _publish_retained_open(broker.port, key, SPARE)
            assert await wire.wait_for(lambda: bool(_answers(wire, retained)), 10)
            assert await platform.wait_for(lambda: "coldchain.compartment_released" in _types(received), 10)
            # The daemon goes on writing (temperatures, the stop's own events): what it had written when
            # nothing was pending must all have reached the platform; later events may still be pending.
            drained_at = None
            for _ in range(300):
                written_so_far = _last_outbox_id(db_path)
                if (await http.get("/api/health")).json()["outbox"]["pending"] == 0:
                    drained_at = written_so_far
                    break
                await asyncio.sleep(0.1)
            assert drained_at is not None, "the outbox never drained"
            sale = (await http.get(f"/api/purchases/{sale_id}")).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0, _tail(log)
        await _clear_retained(broker.port, SPARE)
        await wire.stop()
        await platform.stop()
        await terminal.stop()
        await locks.stop()
        await fridges.stop()
        broker.stop()

    assert sale["state"] == "done"
    (answer,) = _answers(wire, retained)
    assert (answer["status"], answer["reason"]) == ("rejected", "retained")
    assert locks.lock(0, SPARE).pulses == 0  # the retained open never reached the door
    with sqlite3.connect(db_path) as con:
        query = "SELECT id, event_id, type, delivered_at FROM outbox WHERE db_epoch = ?"
        rows = con.execute(query, (epoch,)).fetchall()
    by_id = {e["event_id"]: e for e in received}
    # Every event written before the drain, and every event acknowledged after it, was received.
    due = {event_id: kind for row_id, event_id, kind, delivered in rows if row_id <= drained_at or delivered}
    missing = sorted(f"{kind} {event_id}" for event_id, kind in due.items() if event_id not in by_id)
    assert missing == [], "outbox events the platform never received"
    problems = [f"{e['type']} {e['event_id']}: {p}" for e in by_id.values() for p in event_problems(e)]
    assert problems == [], "\n".join(problems)
    seen = _types(received)
    assert seen >= {
        "stock.loaded",
        "audit",
        "sale.authorised",
        "sale.done",
        "door.opened",
        "door.closed",
        "coldchain.temperatures",
        "coldchain.compartment_blocked",
        "coldchain.compartment_released",
        "alarm.raised",
        "alarm.cleared",
        "haccp.anchor",
    }, seen
    assert all(rule_for(t) is not None for t in seen)
    print(f"{len(by_id)} events of {len(seen)} types validated: {sorted(seen)}")
    wire_problems = []
    for msg in wire.messages:
        if msg.payload and not msg.topic.endswith("/cmd/open_compartment"):
            obj = json.loads(msg.payload)
            check = event_problems if obj.get("schema") == "event/1" else errors
            wire_problems += [f"{msg.topic}: {p}" for p in check(obj)]
    assert wire_problems == [], "\n".join(wire_problems)


def _types(events: list[dict[str, Any]]) -> set[str]:
    return {e["type"] for e in events}


def _answers(wire: Observer, cmd_id: str) -> list[dict[str, Any]]:
    return [a for a in wire.decoded("/cmd-resp") if a.get("cmd_id") == cmd_id]


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _publish_retained_open(port: int, key: Any, compartment: int) -> str:
    """A signed, valid open published with retain=1 (what a misconfigured platform did); returns its cmd_id."""
    body = command_body(
        station_id=STATION,
        action="open_compartment",
        issuer="county-ops",
        issuer_seq=2,
        params={"compartment_id": compartment, "reference": "INC-8"},
    )
    planter = await Observer(port, [], client_id="planter").start()
    assert planter.conn is not None
    planter.conn.publish(f"station/{STATION}/cmd/open_compartment", sign_command(body, key), qos=1, retain=True)
    await planter.stop()
    return str(body["cmd_id"])


async def _clear_retained(port: int, compartment: int) -> None:
    cleaner = await Observer(port, [], client_id="cleaner").start()
    assert cleaner.conn is not None
    cleaner.conn.publish(f"station/{STATION}/cmd/open_compartment", b"", qos=1, retain=True)
    await cleaner.stop()


async def _wait_ready(http: httpx.AsyncClient, proc: asyncio.subprocess.Process, log: Path) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise AssertionError(f"daemon exited early:\n{_tail(log)}")
        try:
            health = (await http.get("/api/health")).json()
            purchases = health["components"].get("purchases", {}).get("detail", {})
            sync_up = health["components"].get("sync", {}).get("status") == "up"
            if purchases.get("recovering") == [] and health["components"]["terminal"]["detail"]["ready"] and sync_up:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"daemon not ready:\n{_tail(log)}")
