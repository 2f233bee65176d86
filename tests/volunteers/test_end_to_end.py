"""End to end through the HTTP API only, against the lock-wall and NFC tag simulators, on a manual clock.

An operator (made with `station users add`) logs in with badge and PIN and adds a volunteer with a
PIN and a badge; the volunteer logs in by badge (tag simulator) and by PIN, restocks three
compartments with dated goods, the offers show them; the use-by date passing takes the milk off
sale at local midnight exactly; the task list shows it; removing it closes the task.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from station.receipts import render_receipt
from station.restock.report import receipt_data
from tests.volunteers.conftest import BERLIN, OPERATOR_UID, START, Kiosk, Site

ANNA_UID, ANNA_PIN = "04A1B2C3D4E5F6", "482915"
MILK, BREAD, EGGS = "4006381333931", "4001234567890", "4009876543210"


async def _add_volunteer(kiosk: Kiosk) -> int:
    """The operator adds Anna: she types her PIN and taps her new badge."""
    token = await kiosk.operator()
    await kiosk.tap(ANNA_UID)
    reply = await kiosk.http.post("/api/staff/users", headers=kiosk.auth(token),
                                  json={"name": "Anna Ehrenamt", "role": "volunteer", "pin": ANNA_PIN, "badge": "tap"})
    assert reply.status_code == 201, reply.text
    account = reply.json()
    assert (account["role"], account["has_pin"], account["has_badge"]) == ("volunteer", True, True)
    assert (await kiosk.http.post("/api/staff/logout", headers=kiosk.auth(token))).status_code == 204
    assert (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(token))).status_code == 401
    return int(account["id"])


async def _offers(kiosk: Kiosk) -> dict[int, dict]:
    return {o["compartment"]: o for o in (await kiosk.http.get("/api/offers")).json()}


async def _restock(kiosk: Kiosk, token: str, compartment: int, load: dict) -> dict:
    opened = await kiosk.http.post("/api/staff/restocks", headers=kiosk.auth(token), json={"compartment": compartment})
    assert opened.status_code == 200 and opened.json()["state"] == "opened", opened.text
    restock_id = opened.json()["id"]
    assert kiosk.status(compartment) == "restocking"
    assert compartment not in await _offers(kiosk)
    loaded = await kiosk.http.post(f"/api/staff/restocks/{restock_id}/load", headers=kiosk.auth(token), json=load)
    assert loaded.status_code == 200, loaded.text
    closed = await kiosk.http.post(f"/api/staff/restocks/{restock_id}/close", headers=kiosk.auth(token))
    assert closed.status_code == 200, closed.text
    return dict(closed.json())


async def test_volunteer_restocks_by_badge_and_pin_and_use_by_takes_goods_off_sale_at_midnight(site: Site) -> None:
    use_by = START.date() + timedelta(days=2)  # the milk leaves sale at the start of that day (Berlin)
    async with site.run() as kiosk:
        anna = await _add_volunteer(kiosk)

        # Badge on the reader: Anna is in (a volunteer needs no PIN with her badge).
        await kiosk.tap(ANNA_UID)
        by_badge = await kiosk.http.post("/api/staff/login/badge", json={})
        assert by_badge.status_code == 200, by_badge.text
        assert (by_badge.json()["person"]["id"], by_badge.json()["method"]) == (anna, "badge")
        # The tap is used once: a second log-in needs a new tap.
        again = await kiosk.http.post("/api/staff/login/badge", json={})
        assert again.status_code == 409 and again.json()["error"] == "no_badge"
        # Not a simulated station: a UID typed over HTTP is no badge.
        typed = await kiosk.http.post("/api/staff/login/badge", json={"uid": ANNA_UID})
        assert typed.status_code == 403 and typed.json()["error"] == "simulation_only"
        await kiosk.http.post("/api/staff/logout", headers=kiosk.auth(by_badge.json()["token"]))

        by_pin = await kiosk.login_pin(anna, ANNA_PIN)
        assert by_pin.status_code == 200 and by_pin.json()["method"] == "pin", by_pin.text
        token = by_pin.json()["token"]
        cookie = by_pin.cookies.get("staff_session")
        assert cookie == token  # the kiosk may rely on the HttpOnly cookie instead of the header

        listed = (await kiosk.http.get("/api/staff/products", headers=kiosk.auth(token))).json()
        products = {p["gtin"]: p for p in listed}
        assert products[MILK]["needs_date"] and not products[BREAD]["needs_date"]

        await _restock(kiosk, token, 1, {"gtin": MILK, "quantity": 2, "use_by": use_by.isoformat(), "lot": "L-4711"})
        await _restock(kiosk, token, 2, {"gtin": BREAD, "quantity": 1,
                                         "best_before": (START.date() + timedelta(days=4)).isoformat()})
        last = await _restock(kiosk, token, 3, {"gtin": EGGS, "quantity": 1,
                                                "best_before": (START.date() + timedelta(days=20)).isoformat()})
        assert (last["compartment_status"], last["contents"][0]["loaded_by"]) == ("loaded", f"volunteer:{anna}")

        offers = await _offers(kiosk)
        assert {c: (o["gtin"], o["quantity"]) for c, o in offers.items()} == {1: (MILK, 2), 2: (BREAD, 1), 3: (EGGS, 1)}
        assert offers[1]["use_by"] == use_by.isoformat() and offers[2]["best_before"] == "2026-12-26"
        loaded = kiosk.events("stock.loaded")
        assert [(e["compartment"], e["gtin"], e["by"]) for e in loaded] == [
            (1, MILK, f"volunteer:{anna}"), (2, BREAD, f"volunteer:{anna}"), (3, EGGS, f"volunteer:{anna}")]
        assert loaded[0]["use_by"] == use_by.isoformat() and loaded[0]["lot"] == "L-4711"

        # The last second before the use-by day: still on sale. Local midnight: gone.
        kiosk.clock.set(datetime(use_by.year, use_by.month, use_by.day, tzinfo=BERLIN) - timedelta(seconds=1))
        assert 1 in await _offers(kiosk)
        kiosk.clock.advance(1)
        offers = await _offers(kiosk)
        assert 1 not in offers and set(offers) == {2, 3}
        purchase = await kiosk.http.post("/api/purchases", json={"compartments": [1]})
        assert purchase.status_code in (409, 503)  # never sold (503 here: no card terminal configured)

        # The session idled out meanwhile; Anna logs in again and sees the task.
        # (Expired on this request, or already ended by the idle sweep that runs every few seconds.)
        gone = (await kiosk.http.get("/api/staff/me", headers=kiosk.auth(token))).json()["error"]
        assert gone in ("session_expired", "not_logged_in")
        token = (await kiosk.login_pin(anna, ANNA_PIN)).json()["token"]
        tasks = (await kiosk.http.get("/api/staff/tasks", headers=kiosk.auth(token))).json()
        milk = [t for t in tasks if t["compartment"] == 1]
        assert [t["code"] for t in milk] == ["goods.use_by_reached"]
        assert milk[0]["where"] == "Fach 1" and "Verbrauchsdatum" in milk[0]["what"] and "entsorgen" in milk[0]["todo"]
        assert datetime.fromisoformat(milk[0]["since"]) == datetime(use_by.year, use_by.month, use_by.day,
                                                                    tzinfo=BERLIN)

        # Removing it (reason: expired) closes the task: nothing is clicked away.
        opened = await kiosk.http.post("/api/staff/restocks", headers=kiosk.auth(token), json={"compartment": 1})
        restock_id = opened.json()["id"]
        removed = await kiosk.http.post(f"/api/staff/restocks/{restock_id}/remove", headers=kiosk.auth(token),
                                        json={"reason": "expired"})
        assert removed.status_code == 200 and removed.json()["contents"] == []
        closed = await kiosk.http.post(f"/api/staff/restocks/{restock_id}/close", headers=kiosk.auth(token))
        assert closed.json()["compartment_status"] == "empty"
        tasks = (await kiosk.http.get("/api/staff/tasks", headers=kiosk.auth(token))).json()
        assert [t for t in tasks if t["compartment"] == 1] == []
        removal = kiosk.events("stock.removed")[-1]
        assert (removal["compartment"], removal["reason"], removal["by"]) == (1, "expired", f"volunteer:{anna}")
        assert removal["items"][0]["quantity"] == 2

        report = (await kiosk.http.get(f"/api/staff/restocks/{restock_id}/report", headers=kiosk.auth(token))).json()
        assert report["volunteer"] == "Anna Ehrenamt" and report["removed_total"] == 2
        assert report["lines"][0]["reason"] == "abgelaufen"
        printed = render_receipt("restock_report", receipt_data(report, station_name="Dorfladen Musterhausen"))
        assert b"Anna Ehrenamt" in printed and b"Dorfladen Musterhausen" in printed

    # Every log-in and log-out went to the outbox, named by account, never with a PIN or UID.
    started = kiosk.events("staff.session_started")
    assert [e["method"] for e in started] == ["badge+pin", "badge", "pin", "pin"]
    assert all(ANNA_PIN not in str(e) and ANNA_UID not in str(e) and OPERATOR_UID not in str(e) for e in started)
    assert {e["why"] for e in kiosk.events("staff.session_ended")} >= {"logout", "idle"}
    problems, types = kiosk.contract_problems()  # every event written meanwhile fits its payload schema
    assert problems == [], "\n".join(problems)
    assert types >= {"staff.session_started", "staff.session_ended", "restock.requested", "restock.opened",
                     "restock.closed", "stock.loaded", "stock.removed", "door.opened", "audit"}, types


async def test_a_day_of_the_station_is_the_local_day(site: Site) -> None:
    """Best-before passed: off sale the day after; a product with a reduced price stays, marked down."""
    honey = "4012345678901"
    async with site.run() as kiosk:
        token = await kiosk.operator()  # operators restock too
        best_before = START.date() + timedelta(days=1)
        await _restock(kiosk, token, 4, {"gtin": honey, "quantity": 1, "best_before": best_before.isoformat()})
        await _restock(kiosk, token, 5, {"gtin": BREAD, "quantity": 1, "best_before": best_before.isoformat()})
        kiosk.clock.set(datetime.combine(best_before + timedelta(days=1), datetime.min.time(), BERLIN))
        offers = await _offers(kiosk)
        assert 5 not in offers
        honey_offer = (offers[4]["price_cents"], offers[4]["regular_price_cents"], offers[4]["marked_down"])
        assert honey_offer == (345, 690, True)
        token = await kiosk.operator()
        listed = (await kiosk.http.get("/api/staff/tasks", headers=kiosk.auth(token))).json()
        tasks = {t["compartment"]: t for t in listed if t["compartment"]}
        assert (tasks[4]["code"], tasks[5]["code"]) == ("goods.marked_down", "goods.best_before_passed")
        kiosk.clock.set(datetime.combine(best_before + timedelta(days=6), datetime.min.time(), BERLIN))
        assert 4 not in await _offers(kiosk)  # past its five reduced days


async def test_dates_in_the_past_and_missing_dates_are_refused_when_loading(site: Site) -> None:
    async with site.run() as kiosk:
        token = await kiosk.operator()
        opened = await kiosk.http.post("/api/staff/restocks", headers=kiosk.auth(token), json={"compartment": 6})
        path = f"/api/staff/restocks/{opened.json()['id']}/load"
        cases = [
            ({"gtin": MILK, "quantity": 1}, "Gekühlte Ware braucht"),
            ({"gtin": MILK, "quantity": 1, "use_by": START.date().isoformat()}, "Verbrauchsdatum"),
            ({"gtin": BREAD, "quantity": 1, "best_before": (START.date() - timedelta(days=1)).isoformat()}, "vorbei"),
            ({"gtin": "4000000000000", "quantity": 1}, "Sortiment"),
        ]
        for body, word in cases:
            reply = await kiosk.http.post(path, headers=kiosk.auth(token), json=body)
            assert reply.status_code == 422 and word in reply.json()["message"], (body, reply.text)
        numeric = await kiosk.http.post(path, headers=kiosk.auth(token),
                                        json={"gtin": BREAD, "quantity": 1, "best_before": 20270101})
        assert numeric.status_code == 422 and numeric.json()["error"] == "invalid_request"
        assert kiosk.status(6) == "restocking"
        await kiosk.http.post(path.replace("/load", "/close"), headers=kiosk.auth(token))
        assert kiosk.status(6) == "empty"

