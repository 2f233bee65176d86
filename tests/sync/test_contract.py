"""Contract tests: every message on the wire validates against docs/schemas (JSON Schema 2020-12)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from central.console import BrokerAccess, send_command
from simulators.mqtt.faultproxy import FaultProxy
from station.db.models import Compartment, Priority
from station.db.types import utcnow
from station.journal import audit, clear_alarm, raise_alarm
from station.outbox import record_event
from sync import schemas
from sync.component import SyncComponent
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import generate_key, public_key_text
from tests.sync.sync_helpers import STATION, Observer, mqtt_config, wait_connected

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"
KEY = generate_key()
ROOT_IDS = {
    "event/1": "urn:station-sync:event:1",
    "state/1": "urn:station-sync:state:1",
    "heartbeat/1": "urn:station-sync:heartbeat:1",
    "snapshot/1": "urn:station-sync:snapshot:1",
    "command-result/1": "urn:station-sync:command-result:1",
    "ack/1": "urn:station-sync:ack:1",
    "platform-state/1": "urn:station-sync:platform-state:1",
    "signed-command/1": "urn:station-sync:signed-command:1",
    "command/1": "urn:station-sync:command:1",
}


def load_registry() -> tuple[Registry, dict[str, dict[str, Any]]]:
    by_id = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        by_id[schema["$id"]] = schema
    registry = Registry().with_resources((sid, Resource.from_contents(s)) for sid, s in by_id.items())
    return registry, by_id


REGISTRY, BY_ID = load_registry()


def errors(message: dict[str, Any], schema_id: str | None = None) -> list[str]:
    schema = BY_ID[schema_id or ROOT_IDS[message.get("schema")]]
    validator = Draft202012Validator(schema, registry=REGISTRY)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(message)]


def test_every_schema_file_is_valid_json_schema_2020_12():
    assert len(BY_ID) >= 20
    for schema in BY_ID.values():
        Draft202012Validator.check_schema(schema)


def test_generated_command_schemas_are_up_to_date():
    for name, schema in schemas.generated().items():
        assert (SCHEMA_DIR / name).read_text() == schemas.render(schema), (
            f"run: python -m sync.schemas docs/schemas ({name})"
        )


class Opener:
    async def open(self, compartment_id: int, reason: str, reference: str | None) -> dict[str, Any]:
        return {"state": "opened", "compartment_id": compartment_id}


async def _history(db) -> None:
    def _write(session):
        for cid in (1, 2):
            session.add(Compartment(id=cid, bus="wall", board=0, lock=cid, updated_at=utcnow()))
        session.flush()
        audit(session, "restock", "compartment:1", actor="volunteer:7", reason="restock", details={"items": 3})
        raise_alarm(session, "fridge.too_warm", "fridge:chiller", severity="critical", details={"c": 9.5})
        clear_alarm(session, "fridge.too_warm", "fridge:chiller")
        record_event(session, "sale.captured", {"sale_id": "s-1", "total_cents": 499}, priority=Priority.MONEY)

    await db.write(_write)


COMMANDS = [
    ("block_compartment", {"compartment_id": 1, "reason": "glass"}),
    ("unblock_compartment", {"compartment_id": 1}),
    ("set_catalogue", {"products": [{"gtin": "40084930", "name": "Brot", "price_cents": 349}]}),
    ("set_prices", {"prices": [{"gtin": "12345670", "price_cents": 1}]}),
    ("create_order", {"external_id": "ORD-1", "compartment_id": 2, "expires_at": "2030-01-01T00:00:00Z"}),
    ("cancel_order", {"external_id": "ORD-1"}),
    ("request_snapshot", {}),
    ("apply_config_overlay", {"overlay": {"http": {"port": 8081}}, "version": "v2"}),
    ("open_compartment", {"compartment_id": 2, "reference": "INC-4"}),
    ("open_compartment", {"compartment_id": 2}),  # invalid params: rejected
]


async def test_every_message_the_station_sends_matches_the_contract(db, mosquitto, platform):
    await _history(db)
    wire = await Observer(mosquitto.port, [("station/#", 1)], client_id="wire").start()
    proxy = await FaultProxy(mosquitto.port).start()
    proxy.refuse = True  # start offline: heartbeats become a summary event
    status = {"devices": {"database": "up", "fridge-1": {"available": True}}, "temperatures": {"chiller": 4.0}}
    cfg = mqtt_config(proxy.port, heartbeat_s=0.05, offline_summary_s=0.15, operator_keys={"ops": public_key_text(KEY)})
    sync = SyncComponent(cfg, STATION, db, status_provider=lambda: status, door_opener=Opener(), config_hash="h1")
    await sync.start()
    await asyncio.sleep(0.4)
    proxy.refuse = False
    await wait_connected(sync)
    ops = BrokerAccess([Endpoint("127.0.0.1", mosquitto.port)], ConnectOptions(client_id="ops", clean=True))
    try:
        for seq, (action, params) in enumerate(COMMANDS, start=1):
            answers = await send_command(
                ops,
                KEY,
                issuer="ops",
                issuer_seq=seq,
                station_id=STATION,
                action=action,
                params=params,
                repeat=2 if seq == 1 else 1,
            )
            assert answers, action
        await send_command(
            ops, KEY, issuer="ops", issuer_seq=1, station_id=STATION, action="request_snapshot", params={}
        )  # out of order: rejected
        await asyncio.sleep(1.3)  # a snapshot after the last change
        session = sync.session
        proxy.cut()  # the broker publishes the Last Will
        assert await wire.wait_for(lambda: sync.connection is not None and sync.session > session)
        assert await platform.wait_for(lambda: platform.stats.applied >= 18, 5)
    finally:
        await sync.stop()
        await proxy.stop()
        await asyncio.sleep(0.3)
        await wire.stop()

    seen: dict[str, set[str]] = {}
    problems: list[str] = []
    refused: list[str] = []
    for msg in wire.messages:
        if not msg.payload:
            continue
        obj = json.loads(msg.payload)
        kind = obj.get("schema")
        problems += [f"{msg.topic}: {e}" for e in errors(obj)]
        detail = {"event/1": "type", "state/1": "state", "command-result/1": "status"}.get(kind)
        seen.setdefault(kind, set()).add(str(obj.get(detail)) if detail else "")
        if kind == "state/1" and obj["state"] == "offline":
            seen[kind].add(obj["reason"])
        if kind == "signed-command/1":
            refused += errors(json.loads(obj["body"]), "urn:station-sync:command:1")
    assert problems == []
    assert refused == ["params: 'reference' is a required property"]  # the one the station rejected too
    assert set(seen) == set(ROOT_IDS) - {"command/1"}
    assert seen["event/1"] >= {
        "audit",
        "alarm.raised",
        "alarm.cleared",
        "sale.captured",
        "compartment.blocked",
        "compartment.unblocked",
        "order.created",
        "order.cancelled",
        "summary",
    }
    assert seen["state/1"] >= {"online", "offline", "connection_lost", "shutdown"}
    assert seen["command-result/1"] == {"done", "failed", "rejected"}


@pytest.mark.parametrize(
    ("schema_id", "message"),
    [
        ("event/1", {"schema": "event/1", "station_id": "st-a", "event_id": "x", "db_epoch": "y"}),
        (
            "ack/1",
            {"schema": "ack/1", "station_id": "st-a", "db_epoch": "0" * 8, "upto": -1, "event_ids": [], "at": "now"},
        ),
        (
            "state/1",
            {"schema": "state/1", "station_id": "a/b", "state": "online", "session": 1, "at": "2026-01-01T00:00:00Z"},
        ),
        (
            "state/1",
            {
                "schema": "state/1",
                "station_id": "st-a",
                "state": "offline",
                "session": 1,
                "at": "2026-01-01T00:00:00Z",
                "reason": "shutdown",
                "software_version": "x",
            },
        ),
    ],
)
def test_schemas_refuse_broken_messages(schema_id, message):
    assert errors(message, ROOT_IDS[schema_id])


def test_money_events_may_not_carry_an_expiry():
    event = {
        "schema": "event/1",
        "station_id": "st-a",
        "event_id": "8c0b6c1e-6f0a-4d52-9a55-3c9b1f0e2a11",
        "db_epoch": "8c0b6c1e-6f0a-4d52-9a55-3c9b1f0e2a12",
        "stream": "main",
        "seq": 1,
        "type": "sale.captured",
        "type_version": 1,
        "priority": "money",
        "created_at": "2026-01-01T00:00:00+00:00",
        "payload": {},
    }
    assert errors(event) == []
    assert errors({**event, "expires_at": "2026-01-02T00:00:00+00:00"})
