"""The real daemon (`station run`) against the lock simulator, a private Mosquitto and the reference
platform consumer: the platform announces three orders with signed `create_order` commands, a courier
loads them through the HTTP API, and the customers collect them by typed code, by QR token and by a
signed offline code minted and used while the station is cut off from the broker. The right doors
open, every order ends collected, and every `order.*` event reaches the platform, in order, valid
against its schema in docs/schemas.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from central.console import BrokerAccess, send_command
from central.consumer import Platform
from common.backoff import Backoff
from simulators.locks import LockBusSimulator
from simulators.mqtt.localbroker import Mosquitto
from station.config import parse_config
from station.pickup import offline
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import generate_key
from tests.conftest import free_port
from tests.pickup.conftest import CODE, COURIER_PIN, QR
from tests.station.daemon_helpers import mqtt_section
from tests.sync.schema_check import event_problems
from tests.volunteers.conftest import cli, prepare, station_text
from tests.volunteers.test_crash import _daemon

STATION = "test-01"
PLATFORM_KEY = Ed25519PrivateKey.generate()  # signs offline pick-up codes (not the operator commands)
ORDER_STATES = ["announced", "assigned", "loaded", "collected"]


def _config(db_path: Path, http_port: int, lock_url: str, broker_port: int, operator_key: Any) -> str:
    public = PLATFORM_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    mqtt = mqtt_section(broker_port, operator_key).replace("heartbeat_s = 1", "heartbeat_s = 1\nreconnect_max_s = 0.5")
    text = station_text(db_path, lock_url, extra=f'\n[pickup]\nplatform_keys = {{platform = "{public}"}}\n' + mqtt)
    return text.replace("port = 0", f"port = {http_port}", 1)


def _offline_code(order: str, jti: str) -> str:
    """A code the platform mints on its own: the station never hears of it before it is typed in."""
    claims = {"iss": "platform", "st": STATION, "o": order, "jti": jti,
              "exp": int((datetime.now(UTC) + timedelta(days=2)).timestamp())}  # fmt: skip
    body = json.dumps(claims, separators=(",", ":")).encode()
    return f"PU1.{offline.b64(body)}.{offline.b64(PLATFORM_KEY.sign(body))}"


async def _until(check: Callable[[], Any], what: str, within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.03)
    return result


def _door_closed(db_path: Path, name: str) -> bool:
    """The station tracked the last door operation for order `name` to its close."""
    with sqlite3.connect(db_path) as con:
        row = con.execute("SELECT d.state FROM door_operations d JOIN orders o ON d.reference = 'order:' || o.id "
                          "WHERE o.external_id = ? ORDER BY d.id DESC LIMIT 1", (name,)).fetchone()
    return row == ("closed",)


async def _components(http: httpx.AsyncClient) -> dict[str, Any]:
    try:
        return dict((await http.get("/api/health")).json()["components"])
    except httpx.HTTPError:
        return {}


async def _wait_status(http: httpx.AsyncClient, proc: asyncio.subprocess.Process, log: Path,
                       wanted: dict[str, str], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        if proc.returncode is not None:
            raise AssertionError(f"daemon exited early:\n{log.read_text()[-3000:]}")
        components = await _components(http)
        if all(components.get(name, {}).get("status") == status for name, status in wanted.items()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not {wanted}: {components}\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.1)


async def test_platform_orders_are_collected_by_code_qr_and_offline_code_and_every_order_event_reaches_it(
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    locks = LockBusSimulator("cu16", [0], open_delay_s=0.05, close_after_s=0.3)
    pulses: list[int] = []
    locks.on_pulse = lambda _board, lock: pulses.append(lock)  # lock n is compartment n on this wall
    lock_url = await locks.start_tcp()
    operator_key = generate_key()
    db_path, http_port = tmp_path / "station.db", free_port()
    config_path = tmp_path / "station.toml"
    config_path.write_text(_config(db_path, http_port, lock_url, broker.port, operator_key))
    prepare(db_path, parse_config(config_path.read_text()))
    args = ["users", "add", "--config", str(config_path), "--role", "courier", "--name", "Kurt Kurier", "--pin-stdin"]
    assert cli(args, COURIER_PIN + "\n") == 0
    with sqlite3.connect(db_path) as con:
        (courier_id,) = con.execute("SELECT id FROM volunteers WHERE role = 'courier'").fetchone()

    received: list[dict[str, Any]] = []
    endpoints = [Endpoint("127.0.0.1", broker.port)]
    platform = Platform(endpoints, tmp_path / "platform.db", on_event=received.append, backoff=Backoff(0.1, 0.5))
    await platform.start()
    ops = BrokerAccess(endpoints, ConnectOptions(client_id="ops", clean=True))
    log = tmp_path / "daemon.log"
    proc = await _daemon(config_path, log, None)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as http:
            await _wait_status(http, proc, log, {"lockwall": "up", "pickup": "up", "sync": "up"})
            for seq, (name, credentials) in enumerate(
                    [("W-1", {"pickup_code": CODE}), ("W-2", {"qr_token": QR}), ("W-3", {})], start=1):
                answer = await send_command(ops, operator_key, issuer="county-ops", issuer_seq=seq, station_id=STATION,
                                            action="create_order", params={"external_id": name, "size": "S",
                                            "customer_ref": f"K-{seq}", "card_uid": f"04A1B2C3D4E5F{seq}",
                                            **credentials}, wait_s=10)  # fmt: skip
                assert answer and answer[0]["status"] == "done", answer
                assert answer[0]["result"]["state"] == "assigned", answer
            with sqlite3.connect(db_path) as con:
                compartments = dict(con.execute("SELECT external_id, compartment_id FROM orders ORDER BY id"))
            assert sorted(compartments.values()) == [1, 2, 3], compartments  # three different doors

            login = await http.post("/api/staff/login/pin", json={"account_id": courier_id, "pin": COURIER_PIN})
            assert login.status_code == 200, login.text
            courier = {"X-Staff-Session": login.json()["token"]}
            for name, compartment in compartments.items():
                loaded = await http.post(f"/api/staff/orders/{name}/load", headers=courier)
                assert loaded.status_code == 200 and loaded.json()["state"] == "loaded", loaded.text
                await _until(lambda n=name: _door_closed(db_path, n), f"compartment {compartment} shut after loading")
            assert pulses == [compartments["W-1"], compartments["W-2"], compartments["W-3"]]

            for name, code in (("W-1", CODE), ("W-2", QR)):
                got = await http.post("/api/pickup/collect", json={"code": code})
                assert got.status_code == 200, got.text
                assert got.json()["state"] == "collected" and got.json()["compartment"] == compartments[name]
                assert pulses[-1] == compartments[name]  # the right door, and only it

            broker.stop()  # the station is cut off; the platform mints a code it never sends
            await _wait_status(http, proc, log, {"sync": "degraded"}, within=10)  # no broker link
            got = await http.post("/api/pickup/collect", json={"code": _offline_code("W-3", "jti-w3")})
            assert got.status_code == 200, got.text
            assert got.json()["state"] == "collected" and pulses[-1] == compartments["W-3"]
            assert len(pulses) == 6
            with sqlite3.connect(db_path) as con:
                (offline_collected,) = con.execute("SELECT event_id FROM outbox WHERE type = 'order.collected' "
                                                   "ORDER BY id DESC LIMIT 1").fetchone()
            assert offline_collected not in {e["event_id"] for e in received}  # nothing got through meanwhile
            broker.start()  # back online: what happened meanwhile reaches the platform

            with sqlite3.connect(db_path) as con:
                written = dict(con.execute("SELECT event_id, type FROM outbox WHERE type LIKE 'order.%'"))
                orders = dict(con.execute("SELECT external_id, state FROM orders"))
            assert len(written) == 12 and orders == {"W-1": "collected", "W-2": "collected", "W-3": "collected"}
            arrived = await platform.wait_for(lambda: set(written) <= {e["event_id"] for e in received}, 20)
            missing = set(written) - {e["event_id"] for e in received}
            assert arrived, f"order events the platform never received: {missing}"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0, log.read_text()[-3000:]
        await platform.stop()
        await locks.stop()
        broker.stop()

    firsts: dict[str, dict[str, Any]] = {}
    for event in received:  # a re-send after the reconnect may arrive twice; the first copy counts
        firsts.setdefault(event["event_id"], event)
    order_events = [e for e in firsts.values() if e["type"].startswith("order.")]
    assert [e["seq"] for e in order_events] == sorted(e["seq"] for e in order_events)  # arrived in order
    for name, compartment in compartments.items():
        mine = [e for e in order_events if e["payload"]["external_id"] == name]
        assert [e["payload"]["state"] for e in mine] == ORDER_STATES, (name, mine)
        assert [e["type"] for e in mine] == [f"order.{s}" for s in ["created", "assigned", "loaded", "collected"]]
        assert mine[-1]["payload"]["compartment_id"] == compartment
    vias = {e["payload"]["external_id"]: e["payload"]["via"] for e in order_events if e["type"] == "order.collected"}
    assert vias == {"W-1": "code", "W-2": "qr", "W-3": "offline"}
    problems = [f"{e['type']} {e['event_id']}: {p}" for e in firsts.values() for p in event_problems(e)]
    assert problems == [], "\n".join(problems)
