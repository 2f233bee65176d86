"""Signed-command verification at its edges, each check both ways: signature, lifetime, expiry, clock skew,
issuer sequence, envelope shape. A manual clock and a plain test action keep the handlers out of it."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel

from station.db.engine import Database
from sync.contract import MAX_COMMAND_BYTES
from sync.mqttio import Incoming
from sync.router import CommandContext, CommandRouter
from sync.signing import (
    command_body,
    generate_key,
    load_private_key,
    parse_public_key,
    public_key_text,
    save_private_key,
    sign_command,
    verify,
)
from tests.sync.sync_helpers import STATION

KEY = generate_key()
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
RAW_PUBLIC = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class Clock:
    now = T0

    def __call__(self) -> datetime:
        return self.now


class Ping:
    """The test action: records what it ran."""

    def __init__(self) -> None:
        self.ran: list[Any] = []

    async def __call__(self, params: Any, ctx: CommandContext) -> dict[str, Any]:
        self.ran.append(params)
        return {"pong": True}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ping() -> Ping:
    return Ping()


@pytest.fixture
def router(db: Database, clock: Clock, ping: Ping) -> CommandRouter:
    r = CommandRouter(db, STATION, {"ops": public_key_text(KEY), "hex-ops": RAW_PUBLIC.hex()}, clock=clock,
                      clock_skew_s=300, max_lifetime_s=3600)
    r.register("ping", ping, max_lifetime_s=120)
    r.register("long_ping", ping)  # the router's limit
    return r


def body(seq: int, *, action: str = "ping", issued: datetime = T0, lifetime_s: float = 60, **changes: Any) -> dict:
    out = command_body(station_id=STATION, action=action, params={"n": seq}, issuer="ops", issuer_seq=seq,
                       lifetime_s=lifetime_s, now=issued, cmd_id=f"cmd-{seq}-{action}")
    out.update(changes)
    return out


def message(payload: bytes | dict, action: str = "ping", retain: bool = False) -> Incoming:
    data = sign_command(payload, KEY) if isinstance(payload, dict) else payload
    return Incoming(f"station/{STATION}/cmd/{action}", data, 1, retain)


async def handle(router: CommandRouter, msg: Incoming, action: str | None = "ping") -> dict[str, Any]:
    return await router.handle(msg, topic_action=action)


def envelope_with(text: str, sig: str | None = None, **extra: Any) -> bytes:
    signature = base64.b64encode(KEY.sign(text.encode())).decode() if sig is None else sig
    return json.dumps({"schema": "signed-command/1", "body": text, "sig": signature, **extra}).encode()


# -- expiry, clock skew and lifetime --------------------------------------------------------------------------


async def test_a_command_expiring_exactly_now_runs_one_a_millisecond_older_does_not(router, clock, ping) -> None:
    clock.now = T0 + timedelta(seconds=60)
    assert (await handle(router, message(body(1))))["status"] == "done"
    late = await handle(router, message(body(2, issued=T0 - timedelta(milliseconds=1))))
    assert (late["status"], late["reason"]) == ("rejected", "expired")
    assert ping.ran == [{"n": 1}]


async def test_issued_up_to_the_clock_skew_in_the_future(router, clock) -> None:
    ahead = await handle(router, message(body(1, issued=T0 + timedelta(seconds=300))))
    assert ahead["status"] == "done"
    too_far = await handle(router, message(body(2, issued=T0 + timedelta(seconds=300, milliseconds=1))))
    assert too_far["reason"] == "not_yet_valid"


async def test_lifetime_limit_of_the_action_and_of_the_router(router) -> None:
    assert (await handle(router, message(body(1, lifetime_s=120))))["status"] == "done"
    refused = await handle(router, message(body(2, lifetime_s=120.001)))
    assert refused["reason"] == "lifetime_too_long"
    assert (await handle(router, message(body(3, action="long_ping", lifetime_s=3600), "long_ping"),
                         "long_ping"))["status"] == "done"
    refused = await handle(router, message(body(4, action="long_ping", lifetime_s=3601), "long_ping"), "long_ping")
    assert refused["reason"] == "lifetime_too_long"
    # an unknown action is measured against the router's limit, then refused as unknown
    unknown = await handle(router, message(body(5, action="nope", lifetime_s=3600), "nope"), "nope")
    assert unknown["reason"] == "unknown_action"
    unknown = await handle(router, message(body(6, action="nope", lifetime_s=3601), "nope"), "nope")
    assert unknown["reason"] == "lifetime_too_long"


# -- issuer sequence ------------------------------------------------------------------------------------------


async def test_issuer_sequence_must_grow(router, ping) -> None:
    assert (await handle(router, message(body(5))))["status"] == "done"
    same = await handle(router, message(body(5, cmd_id="another-5")))
    lower = await handle(router, message(body(4)))
    assert (same["reason"], lower["reason"]) == ("out_of_order", "out_of_order")
    assert (await handle(router, message(body(6))))["status"] == "done"
    assert ping.ran == [{"n": 5}, {"n": 6}]


async def test_a_repeated_command_id_gets_the_stored_answer_not_a_second_run(router, ping) -> None:
    first = await handle(router, message(body(1)))
    again = await handle(router, message(body(1)))
    assert again == {**first, "duplicate": True} and first["duplicate"] is False
    refused = await handle(router, message(body(1, cmd_id="x", station_id="st-b")))
    assert refused["reason"] == "wrong_station"
    assert await handle(router, message(body(1, cmd_id="x", station_id="st-b"))) == {**refused, "duplicate": True}
    assert len(ping.ran) == 1


@pytest.mark.parametrize("seq", [0, -1, True, 1.5, "7"])
async def test_issuer_sequence_must_be_a_positive_integer(router, seq) -> None:
    result = await handle(router, message(body(1, issuer_seq=seq)))
    assert (result["status"], result["reason"]) == ("rejected", "malformed")


# -- signatures -----------------------------------------------------------------------------------------------


async def test_a_key_pinned_as_hex_verifies_the_same_signature(router) -> None:
    hex_body = body(1, issuer="hex-ops")
    assert (await handle(router, message(hex_body)))["status"] == "done"


async def test_signature_checks(router, ping) -> None:
    text = json.dumps(body(1), separators=(",", ":"))
    assert (await handle(router, message(envelope_with(text))))["status"] == "done"
    cases = {
        "unsigned": [envelope_with(text, sig=""), json.dumps({"schema": "signed-command/1", "body": text}).encode(),
                     json.dumps({"schema": "signed-command/1", "body": text, "sig": 5}).encode()],
        "bad_signature": [
            envelope_with(text, sig="not base64!"),
            envelope_with(text, sig=base64.b64encode(b"x").decode()),
            envelope_with(text.replace('"n":1', '"n":2'), sig=json.loads(envelope_with(text))["sig"]),
        ],
    }
    for reason, payloads in cases.items():
        for payload in payloads:
            result = await handle(router, message(payload))
            assert (result["status"], result["reason"]) == ("rejected", reason), payload
    assert len(ping.ran) == 1


# -- envelope and body shape -------------------------------------------------------------------------------------


async def test_envelope_shape(router) -> None:
    text = json.dumps(body(1))
    cases = [
        (json.dumps({"schema": "signed-command/2", "body": text, "sig": "x"}).encode(), "malformed"),
        (json.dumps({"schema": "signed-command/1", "body": json.loads(text), "sig": "x"}).encode(), "malformed"),
        (json.dumps({"schema": "signed-command/1", "body": "[1]", "sig": "x"}).encode(), "malformed"),
        (b"[1, 2]", "malformed"),
        (b"\xef\xbb\xbf{}", "not_utf8"),
        (b"\xff\xfe{\x00}\x00", "not_utf8"),
    ]
    for payload, reason in cases:
        result = await handle(router, message(payload))
        assert (result["status"], result["reason"]) == ("rejected", reason), payload


async def test_size_limit_is_checked_before_decoding(router) -> None:
    oversized = b"\xff" * (MAX_COMMAND_BYTES + 1)  # not even UTF-8: the size is what counts
    result = await handle(router, message(oversized))
    assert result["reason"] == "too_large"
    exact = b"\xff" * MAX_COMMAND_BYTES
    assert (await handle(router, message(exact)))["reason"] == "not_utf8"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"schema": "command/2"}, "malformed"),
        ({"cmd_id": ""}, "malformed"),
        ({"cmd_id": 7}, "malformed"),
        ({"station_id": None}, "malformed"),
        ({"action": ""}, "malformed"),
        ({"issued_at": "2026-03-01T12:00:00"}, "malformed"),  # no offset
        ({"expires_at": "soon"}, "malformed"),
        ({"issuer": "mallory"}, "unknown_issuer"),
    ],
)
async def test_body_fields(router, changes: dict[str, Any], reason: str) -> None:
    result = await handle(router, message(body(1, **changes)))
    assert (result["status"], result["reason"]) == ("rejected", reason)


async def test_missing_body_field_and_params_that_are_not_an_object(router, ping) -> None:
    missing = body(1)
    del missing["expires_at"]
    assert (await handle(router, message(missing)))["reason"] == "malformed"
    assert (await handle(router, message(body(2, params=[1, 2]))))["status"] == "done"
    assert ping.ran == [{}]


async def test_topic_must_name_the_action(router) -> None:
    result = await handle(router, message(body(1)), "long_ping")
    assert result["reason"] == "topic_mismatch"
    assert (await handle(router, message(body(2)), None))["status"] == "done"  # no topic to compare with


async def test_rejections_before_verification_carry_the_unverified_ids_cut_to_64_characters(router) -> None:
    retained = await handle(router, message(body(1, cmd_id="c" * 70), retain=True))
    assert (retained["reason"], retained["cmd_id"], retained["action"]) == ("retained", "c" * 64, "ping")
    odd = await handle(router, message(body(1, cmd_id=12, action=["x"]), retain=True))
    assert (odd["cmd_id"], odd["action"]) == (None, None)
    garbage = await handle(router, message(b"{not json"), "long_ping")
    assert (garbage["reason"], garbage["cmd_id"], garbage["action"]) == ("malformed", None, "long_ping")
    assert garbage["station_id"] == STATION and garbage["detail"]


# -- keys -------------------------------------------------------------------------------------------------------


def test_public_keys_as_hex_or_base64() -> None:
    text = public_key_text(KEY)
    assert base64.b64decode(text) == RAW_PUBLIC and public_key_text(KEY.public_key()) == text
    raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    for form in (text, f"  {text}\n", RAW_PUBLIC.hex(), RAW_PUBLIC.hex().upper()):
        assert parse_public_key(form).public_bytes(*raw) == RAW_PUBLIC
    for bad in (RAW_PUBLIC.hex()[:-1], base64.b64encode(RAW_PUBLIC[:31]).decode(), "not a key", ""):
        with pytest.raises(ValueError):
            parse_public_key(bad)
    with pytest.raises(ValueError, match="32 bytes, not 31"):
        parse_public_key(base64.b64encode(RAW_PUBLIC[:31]).decode())


def test_verify_is_a_plain_yes_or_no() -> None:
    public = KEY.public_key()
    signature = base64.b64encode(KEY.sign(b"body")).decode()
    assert verify(public, "body", signature) is True
    assert verify(public, "body!", signature) is False
    assert verify(generate_key().public_key(), "body", signature) is False
    assert verify(public, "body", signature[:-4]) is False
    assert verify(public, "body", "***") is False


def test_command_body_and_wire_form() -> None:
    cmd = command_body(station_id="st-a", action="ping", params={"text": "Fach ü"}, issuer="ops", issuer_seq=3,
                       lifetime_s=90, now=T0, cmd_id="c-1")
    assert cmd == {
        "schema": "command/1",
        "cmd_id": "c-1",
        "station_id": "st-a",
        "issuer": "ops",
        "issuer_seq": 3,
        "issued_at": "2026-03-01T12:00:00.000+00:00",
        "expires_at": "2026-03-01T12:01:30.000+00:00",
        "action": "ping",
        "params": {"text": "Fach ü"},
    }
    wire = json.loads(sign_command(cmd, KEY))
    assert set(wire) == {"schema", "body", "sig"} and wire["schema"] == "signed-command/1"
    assert wire["body"] == '{"schema":"command/1","cmd_id":"c-1","station_id":"st-a","issuer":"ops","issuer_seq":3,' \
        '"issued_at":"2026-03-01T12:00:00.000+00:00","expires_at":"2026-03-01T12:01:30.000+00:00","action":"ping",' \
        '"params":{"text":"Fach ü"}}'
    assert verify(KEY.public_key(), wire["body"], wire["sig"])
    fresh = command_body(station_id="st-a", action="ping", params={}, issuer="ops", issuer_seq=1)
    again = command_body(station_id="st-a", action="ping", params={}, issuer="ops", issuer_seq=1)
    assert fresh["cmd_id"] != again["cmd_id"]
    issued = datetime.fromisoformat(fresh["issued_at"])
    assert abs((issued - datetime.now(UTC)).total_seconds()) < 60
    assert datetime.fromisoformat(fresh["expires_at"]) - issued == timedelta(seconds=120)


def test_private_keys_are_saved_for_the_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "ops.key"
    save_private_key(KEY, path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert public_key_text(load_private_key(path)) == public_key_text(KEY)
    with pytest.raises(FileExistsError):
        save_private_key(generate_key(), path)
    other = tmp_path / "ec.key"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError, match="is not an Ed25519 private key"):
        load_private_key(other)


# -- what a rejection carries ------------------------------------------------------------------------------------


class Params(BaseModel):
    a: int
    b: str


@pytest.mark.parametrize(
    ("make", "topic", "reason"),
    [
        (lambda: body(1, issued=T0 - timedelta(minutes=5)), "ping", "expired"),
        (lambda: body(1, issued=T0 + timedelta(minutes=6)), "ping", "not_yet_valid"),
        (lambda: body(1, lifetime_s=121), "ping", "lifetime_too_long"),
        (lambda: body(1), "long_ping", "topic_mismatch"),
        (lambda: body(1, action="nope"), "nope", "unknown_action"),
        (lambda: body(1, action="typed", params={"a": "x"}), "typed", "invalid_params"),
    ],
)
async def test_a_verified_rejection_names_the_command_and_is_remembered(router, make, topic: str, reason: str) -> None:
    router.register("typed", Ping(), params=Params)
    cmd = make()
    first = await handle(router, message(cmd, topic), topic)
    assert (first["status"], first["reason"], first["cmd_id"], first["action"]) == (
        "rejected", reason, cmd["cmd_id"], cmd["action"]
    )
    assert first["detail"]
    assert await handle(router, message(cmd, topic), topic) == {**first, "duplicate": True}


async def test_an_out_of_order_rejection_names_the_command(router) -> None:
    await handle(router, message(body(5)))
    stale = body(4)
    result = await handle(router, message(stale))
    assert (result["reason"], result["cmd_id"], result["action"]) == ("out_of_order", stale["cmd_id"], "ping")
    assert result["detail"] == "issuer_seq 4 <= last accepted 5"


async def test_invalid_params_list_every_problem(router) -> None:
    router.register("typed", Ping(), params=Params)
    result = await handle(router, message(body(1, action="typed", params={"a": "x"}), "typed"), "typed")
    assert result["detail"] == (
        "a: Input should be a valid integer, unable to parse string as an integer; b: Field required"
    )


@pytest.mark.parametrize(
    ("payload", "reason", "detail"),
    [
        (lambda t: envelope_with(t, schema="signed-command/2"), "malformed", "schema must be 'signed-command/1'"),
        (lambda t: envelope_with(t, sig=""), "unsigned", "no signature"),
        (lambda t: envelope_with(t.replace('"issuer":"ops"', '"issuer":"eve"')), "unknown_issuer",
         "no pinned key for issuer 'eve'"),
        (lambda t: envelope_with(t, sig=base64.b64encode(b"x" * 64).decode()), "bad_signature",
         "signature does not verify with 'ops''s key"),
        (lambda t: envelope_with(t.replace('"issuer_seq":1', '"issuer_seq":0')), "malformed",
         "issuer_seq must be a positive integer"),
    ],
)
async def test_an_unverified_rejection_names_the_command_it_claims_to_be(router, payload, reason, detail) -> None:
    text = json.dumps(body(1), separators=(",", ":"))
    result = await handle(router, message(payload(text)))
    assert (result["reason"], result["detail"]) == (reason, detail)
    assert (result["cmd_id"], result["action"]) == ("cmd-1-ping", "ping")


async def test_a_body_that_is_not_a_string_names_nothing(router) -> None:
    envelope = json.dumps({"schema": "signed-command/1", "body": body(1), "sig": "x"}).encode()
    result = await handle(router, message(envelope))
    assert (result["reason"], result["detail"]) == ("malformed", "body must be the command JSON object as a string")
    assert (result["cmd_id"], result["action"]) == (None, "ping")
