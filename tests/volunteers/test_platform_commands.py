"""The platform adds, disables and re-badges volunteers with signed commands; no PIN ever travels.

The commands go through the station's real command router (signature, order, inbox) into the
running station's staff service; the volunteer then turns the one-time enrolment code into her own
PIN at the kiosk. Neither the code nor the badge UID is left in clear in the database.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

from sync.handlers import CommandServices, register_handlers
from sync.mqtttypes import Incoming
from sync.router import CommandRouter
from sync.signing import command_body, generate_key, public_key_text, sign_command
from tests.volunteers.conftest import Kiosk, make_site

KEY = generate_key()
STATION = "test-01"
CODE, PIN = "4820193746", "305817"
BADGE, NEW_BADGE = "04AA11BB22CC33", "04DD44EE55FF66"
_seq = itertools.count(1)


def _router(kiosk: Kiosk) -> CommandRouter:
    router = CommandRouter(kiosk.station.db, STATION, {"county-ops": public_key_text(KEY)},
                           services=CommandServices(staff=kiosk.station.component("staff")))
    register_handlers(router)
    return router


async def _send(router: CommandRouter, action: str, params: dict[str, Any]) -> dict[str, Any]:
    body = command_body(station_id=STATION, action=action, params=params, issuer="county-ops",
                        issuer_seq=next(_seq))
    message = Incoming(f"station/{STATION}/cmd/{action}", sign_command(body, KEY), 1, False)
    return await router.handle(message, topic_action=action)


async def _enrol(kiosk: Kiosk, code: str, pin: str) -> Any:
    return await kiosk.http.post("/api/staff/enrol", json={"code": code, "pin": pin})


async def test_add_enrol_rebadge_and_disable_a_volunteer_from_the_platform(tmp_path: Path) -> None:
    async with make_site(tmp_path, walls=False, nfc=False, extra="\n[simulation]\nenabled = true\n") as site:
        async with site.run() as kiosk:
            router = _router(kiosk)
            added = await _send(router, "add_volunteer", {"external_id": "P-17", "name": "Paula Pflück",
                                                          "enrolment_code": CODE, "badge_uid": BADGE})
            assert added["status"] == "done", added
            paula = added["result"]["account_id"]
            assert added["result"] | {"account_id": 0} == {
                "account_id": 0, "external_id": "P-17", "role": "volunteer", "active": True, "has_pin": False,
                "has_badge": True, "enrolment_pending": True, "created": True}

            # Wrong code, weak PIN, then her own PIN: the code is used up and she is logged in.
            assert (await _enrol(kiosk, "4820193747", PIN)).json()["error"] == "wrong_code"
            weak = await _enrol(kiosk, CODE, "123456")
            assert weak.status_code == 422 and weak.json()["error"] == "weak_pin"
            enrolled = await _enrol(kiosk, CODE, PIN)
            assert enrolled.status_code == 200, enrolled.text
            assert (enrolled.json()["person"]["id"], enrolled.json()["method"]) == (paula, "enrolment")
            assert (await _enrol(kiosk, CODE, PIN)).json()["error"] == "wrong_code"
            assert (await kiosk.login_pin(paula, PIN)).status_code == 200
            assert (await kiosk.http.post("/api/staff/login/badge", json={"uid": BADGE})).status_code == 200

            # A new badge: the old one stops working at once.
            rebadged = await _send(router, "set_volunteer_badge", {"external_id": "P-17", "badge_uid": NEW_BADGE})
            assert rebadged["status"] == "done" and rebadged["result"]["has_badge"] is True
            old = await kiosk.http.post("/api/staff/login/badge", json={"uid": BADGE})
            assert old.status_code == 401 and old.json()["error"] == "unknown_badge"
            new = await kiosk.http.post("/api/staff/login/badge", json={"uid": NEW_BADGE})
            assert new.status_code == 200
            token = new.json()["token"]

            disabled = await _send(router, "disable_volunteer", {"external_id": "P-17", "reason": "moved away"})
            assert disabled["status"] == "done" and disabled["result"]["active"] is False
            assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(token))).status_code == 401
            assert (await kiosk.login_pin(paula, PIN)).status_code == 401

            # Added again (same external_id): enabled, the same account.
            again = await _send(router, "add_volunteer", {"external_id": "P-17", "name": "Paula Pflück"})
            assert (again["result"]["account_id"], again["result"]["created"], again["result"]["active"]) == (
                paula, False, True)
            assert (await kiosk.login_pin(paula, PIN)).status_code == 200

            too_long = kiosk.clock.now() + timedelta(days=45)
            refused = await _send(router, "add_volunteer", {"external_id": "P-18", "name": "Piet",
                                                            "enrolment_code": "99887766554",
                                                            "enrolment_expires_at": too_long.isoformat()})
            assert (refused["status"], refused["reason"]) == ("failed", "invalid_expiry"), refused
            nobody = await _send(router, "disable_volunteer", {"external_id": "nobody"})
            assert (nobody["status"], nobody["reason"]) == ("failed", "not_found")

        # Nothing of the code or the UIDs is in the database in clear.
        stored = b"".join(p.read_bytes() for p in tmp_path.glob("station.db*"))
        for secret in (CODE, PIN, BADGE, NEW_BADGE, BADGE.lower(), NEW_BADGE.lower()):
            assert secret.encode() not in stored, secret
        assert bytes.fromhex(BADGE) not in stored and bytes.fromhex(NEW_BADGE) not in stored
        actions = [a.action for a in kiosk.read(lambda s: kiosk_audit(s))]
        assert {"account.added", "account.pin_set", "account.badge_set", "account.disabled",
                "account.enabled"} <= set(actions)


def kiosk_audit(session: Any) -> list[Any]:
    from sqlalchemy import select

    from station.db.models import AuditEntry

    return list(session.scalars(select(AuditEntry).where(AuditEntry.action.like("account.%"))))
