"""Signed offline codes (issued while the station is offline, delegated to a neighbour, refused when
expired, reused, for another station, revoked or for another order) and typed-code brute force."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from station.pickup import offline
from tests.pickup.conftest import CODE, add_courier, announce, courier, load, pulses
from tests.volunteers.conftest import Kiosk, Site, make_site

PLATFORM = Ed25519PrivateKey.generate()
PUBLIC = PLATFORM.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
STATION_ID = "test-01"


def mint(claims: dict[str, Any], key: Ed25519PrivateKey = PLATFORM) -> str:
    body = json.dumps(claims, separators=(",", ":")).encode()
    return f"PU1.{offline.b64(body)}.{offline.b64(key.sign(body))}"


def claims(k: Kiosk, order: str, jti: str, **more: Any) -> dict[str, Any]:
    exp = int((k.clock.now() + timedelta(days=3)).timestamp())
    return {"iss": "platform", "st": STATION_ID, "o": order, "jti": jti, "exp": exp, **more}


@pytest.fixture
async def signed_site(tmp_path: Path) -> AsyncIterator[Site]:
    async with make_site(tmp_path, extra=f'\n[pickup]\nplatform_keys = {{platform = "{PUBLIC}"}}\n') as ready:
        add_courier(ready)
        yield ready


async def test_signed_offline_code_collects_and_every_bad_one_is_refused(signed_site: Site) -> None:
    async with signed_site.run() as k:
        assert k.station.config.station.id == STATION_ID
        seen = pulses(k)
        operator = await k.operator()
        order = await announce(k, operator, "O-1", pickup_code=None)  # the station learns no code at all
        other = await announce(k, operator, "O-2", pickup_code=None)
        headers = await courier(k)
        for name in ("O-1", "O-2"):
            await load(k, name, headers)
        assert len(seen) == 2
        await k.station.db.write(lambda s: offline.revoke(s, ["gone"], actor="operator:platform", reference=None,
                                                          now=k.clock.now()))

        async def refused(token: str, error: str, words: str) -> None:
            before = len(seen)
            reply = await k.http.post("/api/pickup/collect", json={"code": token})
            assert reply.status_code >= 400 and reply.json()["error"] == error, reply.text
            assert words in reply.json()["message"]
            assert len(seen) == before, (error, reply.text)  # nothing opened

        past = claims(k, "O-1", "t0") | {"exp": int((k.clock.now() - timedelta(minutes=1)).timestamp())}
        await refused(mint(past), "expired", "abgelaufen")
        await refused(mint(claims(k, "O-1", "t1") | {"st": "elsewhere-07"}), "wrong_station", "anderen Station")
        await refused(mint(claims(k, "O-1", "gone")), "revoked", "zurückgezogen")
        await refused(mint(claims(k, "O-9", "t2")), "unknown_order", "nicht bereit")
        await refused(mint(claims(k, "O-1", "t3"), key=Ed25519PrivateKey.generate()), "wrong_code", "gilt hier nicht")
        good = mint(claims(k, "O-1", "t4")).split(".")
        other_claims = offline.b64(json.dumps(claims(k, "O-2", "t4"), separators=(",", ":")).encode())
        await refused(f"PU1.{other_claims}.{good[2]}", "wrong_code", "gilt hier nicht")  # O-1's signature, O-2 named

        holder = Ed25519PrivateKey.generate()
        holder_pub = offline.b64(holder.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
        token = mint(claims(k, "O-1", "t5", hk=holder_pub))
        grant = json.dumps({"jti": "t5", "to": "Nachbarin Erna", "exp": int(k.clock.now().timestamp()) + 3600}).encode()
        delegated = f"{token}.D.{offline.b64(grant)}.{offline.b64(holder.sign(grant))}"
        got = await k.http.post("/api/pickup/collect", json={"code": delegated})
        assert got.status_code == 200, got.text
        assert got.json()["state"] == "collected" and seen[-1] == order["compartment"]
        event = k.events("order.collected")[0]
        assert event["via"] == "offline" and event["delegation"]["to"] == "Nachbarin Erna"
        await refused(delegated, "order_state", "nur einmal")
        await refused(token, "order_state", "nur einmal")  # the same code without the grant: used
        own = await k.http.post("/api/pickup/collect", json={"code": mint(claims(k, "O-2", "t6"))})
        assert own.status_code == 200 and seen[-1] == other["compartment"]
        assert k.contract_problems()[0] == []


async def test_typed_code_guessing_at_full_speed_stays_within_the_policy(signed_site: Site) -> None:
    """24 simulated hours of wrong codes at the fastest the station allows; QR stays open; survives a restart."""
    async with signed_site.run() as k:
        operator = await k.operator()
        await announce(k, operator, "G-1")
        await load(k, "G-1", await courier(k))
        end, checked, refusals, guess = k.clock.now() + timedelta(hours=24), 0, [], 0
        while k.clock.now() < end:
            guess += 1
            reply = await k.http.post("/api/pickup/collect", json={"code": f"{guess:010d}"})
            if reply.status_code == 401:
                checked += 1
                continue
            assert reply.status_code == 429, reply.text
            refusals.append(reply.json()["message"])
            if reply.json()["error"] == "locked":
                break
            k.clock.advance(int(reply.headers["Retry-After"]))
        assert checked == 20  # 5, pause 1 min, 5, pause 15 min, ... 20 in 24 hours: locked
        assert refusals[0] == "Zu viele falsche Abholcodes. Bitte in 1 Minute erneut versuchen."
        assert "15 Minuten" in refusals[2]
        assert k.alarms("pickup.locked") == [("pickup-keypad:kiosk", "raised"), ("pickup-station:all", "raised")]
    async with signed_site.run() as k:  # the lock survives a restart
        locked = await k.http.post("/api/pickup/collect", json={"code": CODE})
        assert locked.status_code == 429 and locked.json()["error"] == "locked"
        assert "QR-Code" in locked.json()["message"]
        scanned = await k.http.post("/api/pickup/collect", json={"code": mint(claims(k, "G-1", "g1"))})
        assert scanned.status_code == 200, scanned.text  # a vandal typing codes does not lock the scanner out
        operator = await k.operator()
        for scope in ("pickup-keypad:kiosk", "pickup-station:all"):
            lifted = await k.http.post("/api/staff/locks/unlock", json={"scope": scope}, headers=k.auth(operator))
            assert lifted.status_code == 200 and lifted.json()["changed"] is True, lifted.text
        assert [state for _subject, state in k.alarms("pickup.locked")] == ["cleared", "cleared"]
        typed = await k.http.post("/api/pickup/collect", json={"code": CODE})
        assert typed.status_code == 409 and typed.json()["error"] == "order_state"  # checked again: used
    live_codes, space, per_day = 50, 10**10, checked
    expected = per_day * 365 * live_codes / space
    print(f"typed-code guesses checked in 24 h: {checked}; expected successful guesses per station-year "
          f"with {live_codes} live 10-digit codes, lock lifted daily: {expected:.2e} (target < 1e-3)")
    assert expected < 1e-3
