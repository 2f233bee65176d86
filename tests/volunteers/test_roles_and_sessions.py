"""Who may do what, and how long a log-in lasts: roles refused per route, idle expiry, disable, restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from station.api.app import create_app
from station.db.staff_models import VolunteerSession
from tests.volunteers.conftest import Kiosk, Site, cli, make_site, wait_for

VOLUNTEER_PIN, COURIER_PIN = "615243", "902718"

# One valid call per operator route (the test below checks that this list covers every one of them).
OPERATOR_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/staff/users", None),
    ("POST", "/api/staff/users", {"name": "Mallory", "role": "operator", "pin": "583920", "badge": "none"}),
    ("POST", "/api/staff/users/{account_id}/disable", {"reason": "test"}),
    ("POST", "/api/staff/users/{account_id}/pin", {"pin": "583920"}),
    ("POST", "/api/staff/users/{account_id}/badge", {"remove": True}),
    ("GET", "/api/staff/locks", None),
    ("POST", "/api/staff/locks/unlock", {"scope": "keypad:kiosk"}),
]


def _operator_routes() -> set[tuple[str, str]]:
    paths = create_app(None).openapi()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method, op in item.items()
            if "staff: operators" in op.get("tags", [])}


async def _people(site: Site) -> None:
    """Account 2: a volunteer; account 3: a courier (account 1 is the operator)."""
    config = str(site.config_path)
    assert cli(["users", "add", "--config", config, "--name", "Vera", "--pin-stdin"], VOLUNTEER_PIN + "\n") == 0
    assert cli(["users", "add", "--config", config, "--name", "Kurt Kurier", "--role", "courier", "--pin-stdin"],
               COURIER_PIN + "\n") == 0


async def _token(kiosk: Kiosk, account: int, pin: str) -> str:
    reply = await kiosk.login_pin(account, pin)
    assert reply.status_code == 200, reply.text
    return str(reply.json()["token"])


async def test_a_volunteer_gets_403_on_every_operator_route(site: Site) -> None:
    assert {(m, p) for m, p, _ in OPERATOR_CALLS} == _operator_routes(), "one refused call per operator route"
    await _people(site)
    async with site.run() as kiosk:
        token = await _token(kiosk, 2, VOLUNTEER_PIN)
        for method, path, body in OPERATOR_CALLS:
            reply = await kiosk.http.request(method, path.format(account_id=1), json=body, headers=kiosk.auth(token))
            assert reply.status_code == 403, (method, path, reply.text)
            assert reply.json() == {"error": "forbidden", "message": "Das dürfen nur Betreiber"}
        # Nothing happened: no account added, the operator still active, and the volunteer's session still works.
        users = kiosk.read(lambda s: [(a.id, a.active, a.pin_hash is not None) for a in _accounts(s)])
        assert users == [(1, True, True), (2, True, True), (3, True, True)]
        assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(token))).status_code == 200
        assert not [e for e in kiosk.audit("account.disabled")] and not kiosk.audit("staff.unlocked")


async def test_a_courier_may_not_restock_and_operators_cannot_log_in_by_pin_alone(site: Site) -> None:
    await _people(site)
    async with site.run() as kiosk:
        token = await _token(kiosk, 3, COURIER_PIN)
        for method, path, body in [("GET", "/api/staff/tasks", None), ("POST", "/api/staff/restocks",
                                   {"compartment": 1}), ("GET", "/api/staff/users", None)]:  # fmt: skip
            reply = await kiosk.http.request(method, path, json=body, headers=kiosk.auth(token))
            assert reply.status_code == 403, (path, reply.text)
        assert kiosk.status(1) == "empty"
        from tests.volunteers.conftest import OPERATOR_PIN

        by_pin = await kiosk.login_pin(1, OPERATOR_PIN)
        assert by_pin.status_code == 401 and by_pin.json()["error"] == "badge_required"
        wrong = await kiosk.login_pin(1, "111111")
        assert wrong.json()["error"] == "badge_required"  # decided before the PIN: says nothing about it


def _accounts(session: Any) -> list[Any]:
    from station.db.models import Volunteer

    return list(session.scalars(select(Volunteer).order_by(Volunteer.id)))


async def test_a_session_ends_after_5_minutes_idle(site: Site) -> None:
    await _people(site)
    async with site.run() as kiosk:
        token = await _token(kiosk, 2, VOLUNTEER_PIN)
        for _ in range(3):  # any request keeps it alive
            kiosk.clock.advance(299)
            me = await kiosk.http.get("/api/staff/me", headers=kiosk.auth(token))
            assert me.status_code == 200, me.text
        assert me.json()["idle_timeout_s"] == 300
        kiosk.clock.advance(301)
        expired = await kiosk.http.get("/api/staff/me", headers=kiosk.auth(token))
        assert expired.status_code == 401 and expired.json()["error"] == "session_expired"
        assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(token))).json()["error"] == "not_logged_in"

        # Without any request the station ends it by itself, too.
        other = await _token(kiosk, 3, COURIER_PIN)
        kiosk.clock.advance(301)
        await wait_for(lambda: not kiosk.station.component("staff").sessions(), within=5, what="the idle sweep")
        assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(other))).json()["error"] == "not_logged_in"
    rows = kiosk.read(lambda s: [(r.volunteer_id, r.state) for r in s.scalars(select(VolunteerSession))])
    assert rows == [(2, "expired"), (3, "expired")]
    assert [e["why"] for e in kiosk.events("staff.session_ended")] == ["idle", "idle"]


async def test_disabling_an_account_ends_its_session_and_a_restart_ends_every_session(site: Site) -> None:
    await _people(site)
    async with site.run() as kiosk:
        vera = await _token(kiosk, 2, VOLUNTEER_PIN)
        kurt = await _token(kiosk, 3, COURIER_PIN)
        operator = await kiosk.operator()
        reply = await kiosk.http.post("/api/staff/users/2/disable", headers=kiosk.auth(operator), json={})
        assert reply.status_code == 200 and reply.json()["active"] is False
        assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(vera))).status_code == 401
        assert (await kiosk.login_pin(2, VOLUNTEER_PIN)).status_code == 401  # the right PIN, a disabled account
        own = await kiosk.http.post("/api/staff/users/1/disable", headers=kiosk.auth(operator), json={})
        assert own.status_code == 422
        assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(kurt))).status_code == 200
        # The CLI disables too, with the daemon running: the session ends at its next request.
        assert cli(["users", "disable", "--config", str(kiosk.config_path), "--id", "3"]) == 0
        assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(kurt))).json()["error"] == "session_expired"
    async with site.run() as kiosk:
        assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(operator))).status_code == 401
    ended = {e["session_id"]: e["why"] for e in kiosk.events("staff.session_ended")}
    assert sorted(ended.values()) == ["account disabled", "account disabled", "station stopped"]
    disabled = kiosk.audit("account.disabled")
    assert [(a.subject, a.actor) for a in disabled] == [("account:2", "operator:1"), ("account:3", f"cli:{_user()}")]


def _user() -> str:
    import getpass

    return getpass.getuser()


async def test_an_unfinished_restock_is_abandoned_when_the_session_ends(tmp_path: Path) -> None:
    async with make_site(tmp_path) as site:
        await _people(site)
        async with site.run() as kiosk:
            token = await _token(kiosk, 2, VOLUNTEER_PIN)
            opened = await kiosk.http.post("/api/staff/restocks", headers=kiosk.auth(token), json={"compartment": 4})
            assert opened.json()["state"] == "opened"
            await kiosk.http.post(f"/api/staff/restocks/{opened.json()['id']}/load", headers=kiosk.auth(token),
                                  json={"gtin": "4001234567890", "quantity": 3})
            listed = (await kiosk.http.get("/api/staff/restocks", headers=kiosk.auth(token))).json()
            assert [(r["compartment"], r["state"], r["contents"][0]["quantity"]) for r in listed] == [(4, "opened", 3)]
            await kiosk.http.post("/api/staff/logout", headers=kiosk.auth(token))
            assert kiosk.status(4) == "needs_check"
            assert 4 not in {o["compartment"] for o in (await kiosk.http.get("/api/offers")).json()}
            operator = await kiosk.operator()
            tasks = (await kiosk.http.get("/api/staff/tasks", headers=kiosk.auth(operator))).json()
            check = [t for t in tasks if t["code"] == "compartment.needs_check"]
            assert [(t["where"], t["what"]) for t in check] == [
                ("Fach 4", "Auffüllen wurde nicht abgeschlossen (Abmeldung) – Inhalt nicht bestätigt")]
            # Checking it is a restock: open, look, close. The task and the alarm go.
            again = await kiosk.http.post("/api/staff/restocks", headers=kiosk.auth(operator), json={"compartment": 4})
            closed = await kiosk.http.post(f"/api/staff/restocks/{again.json()['id']}/close",
                                           headers=kiosk.auth(operator))
            assert closed.json()["compartment_status"] == "loaded"
            tasks = (await kiosk.http.get("/api/staff/tasks", headers=kiosk.auth(operator))).json()
            assert not [t for t in tasks if t["code"] == "compartment.needs_check"]
        assert kiosk.alarms("compartment.needs_check") == [("compartment:4", "cleared")]
        assert [e["state"] for e in kiosk.events("restock.abandoned")] == ["abandoned"]
        problems, types = kiosk.contract_problems()
        assert problems == [] and {"restock.abandoned", "compartment.needs_check", "alarm.cleared"} <= types, problems


async def test_a_door_left_open_by_an_abandoned_restock_is_checked_without_a_second_pulse(tmp_path: Path) -> None:
    async with make_site(tmp_path) as site:
        await _people(site)
        async with site.run() as kiosk:
            assert kiosk.locks is not None
            pulses: list[int] = []
            kiosk.locks.on_pulse = lambda _board, lock: pulses.append(lock)
            kiosk.locks.set_lock_faults(0, 4, auto_close=False)  # nobody shuts it
            token = await _token(kiosk, 2, VOLUNTEER_PIN)
            opened = await kiosk.http.post("/api/staff/restocks", headers=kiosk.auth(token), json={"compartment": 4})
            assert opened.json()["state"] == "opened" and pulses == [4]
            await kiosk.http.post("/api/staff/logout", headers=kiosk.auth(token))
            assert kiosk.status(4) == "needs_check" and kiosk.station.lockwall.is_open(4)
            operator = await kiosk.operator()
            again = await kiosk.http.post("/api/staff/restocks", headers=kiosk.auth(operator), json={"compartment": 4})
            assert again.status_code == 200 and again.json()["state"] == "opened", again.text
            assert pulses == [4]  # it was open: no pulse
            closed = await kiosk.http.post(f"/api/staff/restocks/{again.json()['id']}/close",
                                           headers=kiosk.auth(operator))
            assert closed.json()["compartment_status"] in ("loaded", "empty")
