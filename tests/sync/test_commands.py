"""Signed commands: every rejection case with its reason, exactly-once execution, idempotent handlers."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from station.db.models import AuditEntry, Compartment, InboxCommand, IssuerState, Order, OutboxEvent, Product
from station.db.types import utcnow
from sync import handlers, inbox
from sync.contract import MAX_COMMAND_BYTES
from sync.handlers import CommandServices, register_handlers
from sync.mqttio import Incoming
from sync.router import CommandRouter
from sync.signing import command_body, generate_key, public_key_text, sign_command
from tests.sync.sync_helpers import STATION

OPS_KEY = generate_key()
OTHER_KEY = generate_key()


class RecordingOpener:
    """Stands in for the lock-wall service: records calls, answers like a door service would."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, str | None]] = []

    async def open(self, compartment_id: int, reason: str, reference: str | None) -> dict[str, Any]:
        self.calls.append((compartment_id, reason, reference))
        return {"operation_id": len(self.calls), "state": "opened", "door": "open"}


@pytest.fixture
async def seeded(db):
    def _seed(session):
        for cid in (11, 12):
            session.add(Compartment(id=cid, bus="wall", board=0, lock=cid, updated_at=utcnow()))

    await db.write(_seed)
    return db


@pytest.fixture
def opener() -> RecordingOpener:
    return RecordingOpener()


@pytest.fixture
def router(seeded, opener) -> CommandRouter:
    async def snapshot() -> dict[str, Any]:
        return {"compartments": [11, 12]}

    r = CommandRouter(
        seeded,
        STATION,
        {"ops": public_key_text(OPS_KEY), "other-ops": public_key_text(OTHER_KEY)},
        services=CommandServices(door_opener=opener, snapshot=snapshot),
    )
    register_handlers(r)
    return r


_seq = iter(range(1, 1_000_000))


def command(action: str, params: dict[str, Any], *, key=OPS_KEY, retain=False, **body: Any) -> Incoming:
    fields: dict[str, Any] = {"station_id": STATION, "issuer": "ops", "issuer_seq": next(_seq), "lifetime_s": 120}
    fields.update(body)
    data = sign_command(command_body(action=action, params=params, **fields), key)
    return Incoming(f"station/{STATION}/cmd/{action}", data, 1, retain)


def raw(payload: bytes, action: str = "open_compartment", retain: bool = False) -> Incoming:
    return Incoming(f"station/{STATION}/cmd/{action}", payload, 1, retain)


OPEN = ("open_compartment", {"compartment_id": 12, "reference": "INC-1"})


def _tampered() -> Incoming:
    msg = command(*OPEN)
    envelope = json.loads(msg.payload)
    envelope["body"] = envelope["body"].replace('"compartment_id":12', '"compartment_id":11')
    return raw(json.dumps(envelope).encode())


def _unsigned() -> Incoming:
    envelope = json.loads(command(*OPEN).payload)
    del envelope["sig"]
    return raw(json.dumps(envelope).encode())


REJECTIONS = {
    "retained": lambda: command(*OPEN, retain=True),
    "unsigned": _unsigned,
    "bad_signature": lambda: command(*OPEN, key=OTHER_KEY),  # claims "ops", signed by another key
    "bad_signature ": _tampered,  # body changed after signing
    "unknown_issuer": lambda: command(*OPEN, issuer="mallory"),
    "wrong_station": lambda: command(*OPEN, station_id="st-b"),
    "expired": lambda: command(*OPEN, now=datetime.now(UTC) - timedelta(minutes=10)),
    "not_yet_valid": lambda: command(*OPEN, now=datetime.now(UTC) + timedelta(hours=1)),
    "lifetime_too_long": lambda: command(*OPEN, lifetime_s=3600),
    "unknown_action": lambda: command("self_destruct", {}),
    "invalid_params": lambda: command("open_compartment", {"compartment_id": 12}),  # no incident reference
    "malformed": lambda: raw(b"{not json"),
    "topic_mismatch": lambda: Incoming(f"station/{STATION}/cmd/block_compartment", command(*OPEN).payload, 1, False),
}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
async def test_every_rejection_is_answered_with_its_reason_and_never_opens(case, router, opener, seeded):
    msg = REJECTIONS[case]()
    result = await router.handle(msg, topic_action=msg.topic.rsplit("/", 1)[1])
    assert result["status"] == "rejected"
    assert result["reason"] == case.strip()
    assert result["detail"]
    assert opener.calls == []
    audits = await seeded.read(lambda s: s.scalar(select(func.count()).select_from(AuditEntry)))
    assert audits == 0


def _padded(size: int) -> Incoming:
    """A valid signed open, padded with spaces (still valid JSON) to exactly `size` bytes."""
    payload = command(*OPEN).payload
    return raw(payload[:-1] + b" " * (size - len(payload)) + b"}")


WIRE_REFUSALS = {  # a validly signed open, in the wrong encoding or too big
    "utf-16 with BOM": (lambda: raw(command(*OPEN).payload.decode().encode("utf-16")), "not_utf8", "UTF-16"),
    "utf-16-le, no BOM": (lambda: raw(command(*OPEN).payload.decode().encode("utf-16-le")), "not_utf8", "UTF-16"),
    "utf-16-be with BOM": (
        lambda: raw(b"\xfe\xff" + command(*OPEN).payload.decode().encode("utf-16-be")),
        "not_utf8",
        "UTF-16",
    ),
    "utf-32": (lambda: raw(command(*OPEN).payload.decode().encode("utf-32")), "not_utf8", "UTF-32"),
    "utf-8 BOM": (lambda: raw(b"\xef\xbb\xbf" + command(*OPEN).payload), "not_utf8", "byte-order mark"),
    "invalid utf-8": (lambda: raw(command(*OPEN).payload.replace(b"INC-1", b"INC-\xff")), "not_utf8", "byte"),
    "latin-1": (
        lambda: raw(
            command("open_compartment", {"compartment_id": 12, "reference": "Tür"}).payload.decode().encode("latin-1")
        ),
        "not_utf8",
        "not valid UTF-8",
    ),
    "256 KiB + 1": (lambda: _padded(MAX_COMMAND_BYTES + 1), "too_large", "at most 262144 bytes"),
    "1 MiB retained": (lambda: raw(b"{" + b" " * 2**20 + b"}", retain=True), "retained", "retain"),
}


@pytest.mark.parametrize("case", sorted(WIRE_REFUSALS))
async def test_commands_not_in_utf8_or_too_big_are_refused_by_name_and_never_run(case, router, opener, seeded):
    make, reason, says = WIRE_REFUSALS[case]
    result = await router.handle(make(), topic_action="open_compartment")
    assert (result["status"], result["reason"]) == ("rejected", reason)
    assert says in result["detail"], result["detail"]
    assert opener.calls == []
    assert await seeded.read(lambda s: s.scalar(select(func.count()).select_from(InboxCommand))) == 0


async def test_a_command_of_exactly_the_size_limit_runs(router, opener):
    msg = _padded(MAX_COMMAND_BYTES)
    assert len(msg.payload) == MAX_COMMAND_BYTES
    result = await router.handle(msg, topic_action="open_compartment")
    assert result["status"] == "done", result
    assert opener.calls == [(12, "remote", "INC-1")]


async def test_out_of_order_sequence_is_refused_after_a_newer_command(router, opener, seeded):
    newer = await router.handle(command("block_compartment", {"compartment_id": 11, "reason": "glass"}, issuer_seq=50))
    older = await router.handle(command(*OPEN, issuer_seq=49))
    same = await router.handle(command(*OPEN, issuer_seq=50))
    assert newer["status"] == "done"
    assert (older["status"], older["reason"]) == ("rejected", "out_of_order")
    assert (same["status"], same["reason"]) == ("rejected", "out_of_order")
    assert opener.calls == []
    assert await seeded.read(lambda s: s.get(IssuerState, "ops").last_seq) == 50


async def test_unsigned_and_bad_signatures_are_not_stored(router, seeded):
    await router.handle(_unsigned())
    await router.handle(command(*OPEN, key=OTHER_KEY))
    assert await seeded.read(lambda s: s.scalar(select(func.count()).select_from(InboxCommand))) == 0


async def test_valid_open_delivered_twice_opens_once_and_answers_the_same_result(router, opener, seeded):
    msg = command(*OPEN)
    first = await router.handle(msg)
    second = await router.handle(msg)
    assert first["status"] == "done"
    assert first["result"]["outcome"] == {"operation_id": 1, "state": "opened", "door": "open"}
    assert opener.calls == [(12, "remote", "INC-1")]
    assert second["duplicate"] is True and first["duplicate"] is False
    assert {k: v for k, v in second.items() if k != "duplicate"} == {k: v for k, v in first.items() if k != "duplicate"}
    actions = await seeded.read(lambda s: list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))))
    assert actions == ["remote_open.requested", "remote_open.result"]


async def test_a_replay_after_expiry_answers_the_stored_result_and_never_reopens(router, opener, seeded):
    msg = command(*OPEN, lifetime_s=60)
    await router.handle(msg)
    router.clock = lambda: utcnow() + timedelta(minutes=5)
    again = await router.handle(msg)
    assert again["status"] == "done" and again["duplicate"] is True
    assert len(opener.calls) == 1


async def test_interrupted_open_is_failed_at_start_and_never_reopened(router, opener, seeded):
    msg = command(*OPEN)
    cmd = router._verify(msg, None)
    await seeded.write(lambda s: inbox.record(s, cmd, inbox.ACCEPTED, {"status": "accepted"}))
    recovered = await router.recover()
    assert [(r["cmd_id"], r["status"], r["reason"]) for r in recovered] == [(cmd.cmd_id, "failed", "interrupted")]
    again = await router.handle(msg)
    assert again["reason"] == "interrupted" and again["duplicate"] is True
    assert opener.calls == []


async def test_open_without_a_door_service_fails_clearly(seeded):
    r = CommandRouter(seeded, STATION, {"ops": public_key_text(OPS_KEY)})
    register_handlers(r)
    result = await r.handle(command(*OPEN))
    assert (result["status"], result["reason"]) == ("failed", "no_door_opener")


async def test_door_service_silence_is_reported_as_unknown_outcome(router, monkeypatch):
    class Hanging(RecordingOpener):
        async def open(self, compartment_id, reason, reference):
            import asyncio

            await asyncio.sleep(10)

    router.services.door_opener = Hanging()
    monkeypatch.setattr(handlers, "OPEN_TIMEOUT_S", 0.05)
    result = await router.handle(command(*OPEN))
    assert (result["status"], result["reason"]) == ("failed", "door_outcome_unknown")


async def test_block_and_unblock_update_the_compartment_with_audit_and_events(router, seeded):
    blocked = await router.handle(command("block_compartment", {"compartment_id": 11, "reason": "broken glass"}))
    again = await router.handle(command("block_compartment", {"compartment_id": 11, "reason": "broken glass"}))
    row = await seeded.read(lambda s: s.get(Compartment, 11))
    # A block is a hold on top of the compartment's status: it stays "empty", and nothing is sold or handed out.
    assert (row.status, row.blocked_reason) == ("empty", "operator:broken glass")
    assert blocked["result"]["changed"] is True and again["result"]["changed"] is False
    unblocked = await router.handle(command("unblock_compartment", {"compartment_id": 11, "reference": "INC-7"}))
    row = await seeded.read(lambda s: s.get(Compartment, 11))
    assert unblocked["result"] == {"compartment_id": 11, "status": "empty", "blocked_reason": None, "changed": True}
    assert (row.status, row.blocked_reason) == ("empty", None)
    types = await seeded.read(lambda s: list(s.scalars(select(OutboxEvent.type).order_by(OutboxEvent.id))))
    assert types == ["compartment.blocked", "compartment.unblocked"]  # each carries its audit id
    unknown = await router.handle(command("block_compartment", {"compartment_id": 99, "reason": "x"}))
    assert (unknown["status"], unknown["reason"]) == ("failed", "unknown_compartment")


PRODUCTS = [
    {"gtin": "4006381333931", "name": "Milch 1 l", "price_cents": 129, "temperature_class": "chilled"},
    {"gtin": "40084930", "name": "Brot", "price_cents": 349},
]


async def test_catalogue_is_applied_idempotently_by_gtin(router, seeded):
    first = await router.handle(command("set_catalogue", {"products": PRODUCTS}))
    second = await router.handle(command("set_catalogue", {"products": PRODUCTS}))
    assert first["result"] == {"created": 2, "updated": 0, "unchanged": 0, "deactivated": 0}
    assert second["result"] == {"created": 0, "updated": 0, "unchanged": 2, "deactivated": 0}
    replaced = await router.handle(command("set_catalogue", {"products": PRODUCTS[:1], "replace": True}))
    assert replaced["result"]["deactivated"] == 1
    prices = await router.handle(command("set_prices", {"prices": [{"gtin": "4006381333931", "price_cents": 139}]}))
    assert prices["result"] == {"updated": 1, "unchanged": 0}
    refused = await router.handle(
        command(
            "set_prices", {"prices": [{"gtin": "40084930", "price_cents": 1}, {"gtin": "12345670", "price_cents": 1}]}
        )
    )
    assert (refused["status"], refused["reason"]) == ("failed", "unknown_gtin")
    rows = await seeded.read(lambda s: {p.gtin: (p.price_cents, p.active) for p in s.scalars(select(Product))})
    assert rows == {"4006381333931": (139, True), "40084930": (349, False)}


async def test_orders_are_created_once_per_external_id_and_cancelled(router, seeded):
    params = {"external_id": "ORD-17", "compartment_id": 12, "amount_due_cents": 1250}
    first = await router.handle(command("create_order", params))
    second = await router.handle(command("create_order", params))  # new command id, same business key
    assert first["result"]["created"] is True and second["result"]["created"] is False
    assert first["result"]["order_id"] == second["result"]["order_id"]
    cancelled = await router.handle(command("cancel_order", {"external_id": "ORD-17", "reason": "customer"}))
    again = await router.handle(command("cancel_order", {"external_id": "ORD-17"}))
    assert cancelled["result"]["changed"] is True and again["result"]["changed"] is False
    count = await seeded.read(lambda s: s.scalar(select(func.count()).select_from(Order)))
    assert count == 1
    missing = await router.handle(command("cancel_order", {"external_id": "nope"}))
    assert missing["reason"] == "unknown_order"


async def test_config_overlay_is_stored_and_acknowledged_with_its_sha256(router, seeded):
    overlay = {"zones": {"chiller": {"target_c": 4.0}}, "http": {"port": 8081}}
    result = await router.handle(command("apply_config_overlay", {"overlay": overlay, "version": "2026-11-22.1"}))
    canonical = json.dumps(overlay, sort_keys=True, separators=(",", ":")).encode()
    assert result["result"] == {
        "sha256": hashlib.sha256(canonical).hexdigest(),
        "changed": True,
        "effective": "next_start",
    }
    again = await router.handle(command("apply_config_overlay", {"overlay": overlay}))
    assert again["result"]["changed"] is False


async def test_invalid_overlay_is_refused_by_the_injected_validator(router):
    def validate(overlay: dict[str, Any]) -> None:
        raise ValueError("http.port: must be below 65536")

    router.services.validate_overlay = validate
    result = await router.handle(command("apply_config_overlay", {"overlay": {"http": {"port": 70000}}}))
    assert (result["status"], result["reason"]) == ("failed", "invalid_overlay")


async def test_snapshot_command_returns_the_snapshot(router):
    result = await router.handle(command("request_snapshot", {}))
    assert result["result"] == {"snapshot": {"compartments": [11, 12]}}


async def test_remote_unblock_of_a_cold_chain_block_goes_through_the_cold_chain_service(router, seeded):
    from station.coldchain import transitions

    await seeded.write(lambda s: transitions.block(s, 12, "chilled", 7.0, {"cause": "compressor"}, utcnow()))
    refused = await router.handle(command("unblock_compartment", {"compartment_id": 12, "reference": "INC-9"}))
    assert (refused["status"], refused["reason"]) == ("failed", "cold_chain_block")
    assert await seeded.read(lambda s: transitions.sale_blocked(s, 12))

    released: list[tuple[int, str, str]] = []

    async def release(compartment: int, operator: str, reference: str) -> dict[str, Any]:
        released.append((compartment, operator, reference))
        return await seeded.write(
            lambda s: transitions.release(
                s, compartment, "operator_release", actor=f"operator:{operator}", at=utcnow(), reference=reference
            )
        )

    router.services.cold_chain_release = release
    done = await router.handle(command("unblock_compartment", {"compartment_id": 12, "reference": "INC-10"}))
    assert done["status"] == "done", done
    assert released == [(12, "ops", "INC-10")]
    assert not await seeded.read(lambda s: transitions.sale_blocked(s, 12))
