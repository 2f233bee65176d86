"""Contract tests: every message on the wire validates against docs/schemas (JSON Schema 2020-12)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import text

from central.console import BrokerAccess, send_command
from simulators.mqtt.faultproxy import FaultProxy
from station.db.models import Compartment
from station.db.types import utcnow
from station.journal import audit, clear_alarm, raise_alarm
from sync import schemas
from sync.component import SyncComponent
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import generate_key, public_key_text
from tests.sync.schema_check import BY_ID, ROOT_IDS, SCHEMA_DIR, errors, event_problems
from tests.sync.sync_helpers import STATION, Observer, mqtt_config, wait_connected

KEY = generate_key()


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
        written = await db.read(lambda s: s.scalar(text("SELECT COUNT(*) FROM outbox WHERE stream = 'main'")))
        assert written >= 10  # history, commands' audits, the holds, the order, summaries
        assert await platform.wait_for(lambda: platform.stats.applied >= written, 5)
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
        check = event_problems if kind == "event/1" else errors
        problems += [f"{msg.topic}: {e}" for e in check(obj)]
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


SALE_DONE = {
    "schema": "event/1",
    "station_id": "st-a",
    "event_id": "8c0b6c1e-6f0a-4d52-9a55-3c9b1f0e2a11",
    "db_epoch": "8c0b6c1e-6f0a-4d52-9a55-3c9b1f0e2a12",
    "stream": "main",
    "seq": 1,
    "type": "sale.done",
    "type_version": 1,
    "priority": "money",
    "created_at": "2026-01-01T00:00:00+00:00",
    "payload": {
        "sale_id": "0b9d5d1e-2a7c-4c1e-9d0e-6f1f7b1c2d3e",
        "state": "done",
        "from": "booked",
        "actor": "system",
        "audit_id": 17,
        "reference": "0b9d5d1e-2a7c-4c1e-9d0e-6f1f7b1c2d3e",
        "payment": {"state": "booked", "receipt_no": 42, "trace_no": 613995, "terminal_id": "52500038",
                    "amount_cents": 328},
        "total_cents": 328,
        "booked_cents": 328,
        "lines": [
            {
                "compartment": 1,
                "product_id": 1,
                "gtin": None,
                "quantity": 2,
                "unit_price_cents": 149,
                "deposit_cents": 15,
                "vat_rate_bp": 700,
                "state": "released",
            }
        ],
    },
}


def test_money_events_may_not_carry_an_expiry():
    assert errors(SALE_DONE) == []
    assert errors({**SALE_DONE, "expires_at": "2026-01-02T00:00:00+00:00"})


def test_a_sale_line_may_name_its_gtin_and_nothing_unknown():
    line = SALE_DONE["payload"]["lines"][0]
    with_gtin = {**SALE_DONE, "payload": {**SALE_DONE["payload"], "lines": [{**line, "gtin": "4006381333931"}]}}
    assert errors(with_gtin) == []
    stray = {**SALE_DONE, "payload": {**SALE_DONE["payload"], "lines": [{**line, "ean": "4006381333931"}]}}
    assert any("ean" in e for e in errors(stray))


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"priority": "stock"}, "money"),  # the registry fixes each type's priority
        ({"payload": {"sale_id": "x"}}, "required"),  # a money event is checked, not "any object"
        ({"type": "sale.done", "type_version": 2}, None),  # an unknown version: any object passes the envelope
    ],
)
def test_the_registry_checks_each_types_payload_and_priority(change, complaint):
    event = {**SALE_DONE, **change}
    if complaint is None:
        assert errors({**event, "payload": {}}) == []
        assert event_problems({**event, "payload": {}}) == ["type 'sale.done' v2 has no payload schema"]
    else:
        assert any(complaint in e for e in errors(event)), errors(event)
