"""Expiry and return, parcels dropped by a courier, the customer's NFC card, and the order's recovery."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from station.db.models import Order
from station.tasks import TaskContext, open_tasks
from tests.pickup.conftest import CODE, add_courier, announce, courier, load, pulses
from tests.volunteers.conftest import Site, make_site, wait_for

CARD = "04A1B2C3D4E5F6"


def _state(k, external_id: str) -> str:  # type: ignore[no-untyped-def]
    return str(k.read(lambda s: s.scalar(select(Order.state).where(Order.external_id == external_id))))


async def test_uncollected_order_expires_becomes_a_task_and_goes_back_when_a_volunteer_empties_it(
    pickup_site: Site,
) -> None:
    async with pickup_site.run() as k:
        seen = pulses(k)
        operator = await k.operator()
        order = await announce(k, operator, "E-1", expires_in=3600)
        await load(k, "E-1", await courier(k))
        k.clock.advance(3601)
        await k.station.component("pickup").tick()
        assert _state(k, "E-1") == "expired"
        operator = await k.operator()  # the first session ran idle meanwhile
        late = await k.http.post("/api/pickup/collect", json={"code": CODE})
        assert late.status_code == 409 and "abgelaufen" in late.json()["message"]
        reply = await k.http.get("/api/staff/tasks", headers=k.auth(operator))
        assert reply.status_code == 200, reply.text
        tasks = reply.json()
        task = next(t for t in tasks if t["code"] == "order.expired")
        assert task["compartment"] == order["compartment"] and "E-1" in task["what"]

        refused = await k.http.post("/api/staff/orders/E-1/return", headers=await courier(k))
        assert refused.status_code == 403  # couriers load; volunteers take back
        back = await k.http.post("/api/staff/orders/E-1/return", headers=k.auth(operator))
        assert back.status_code == 200, back.text
        assert back.json()["state"] == "returned" and back.json()["outcome"] == "opened"
        assert seen == [order["compartment"]] * 2 and k.status(order["compartment"]) == "empty"
        tasks = (await k.http.get("/api/staff/tasks", headers=k.auth(operator))).json()
        assert not [t for t in tasks if t["code"] == "order.expired"]
        assert [e["state"] for e in k.events("order.expired") + k.events("order.returned")] == ["expired", "returned"]
        assert k.contract_problems()[0] == []


async def test_an_order_never_loaded_by_its_valid_until_ends_cancelled_and_frees_its_compartment(
    pickup_site: Site,
) -> None:
    async with pickup_site.run() as k:
        seen = pulses(k)
        operator = await k.operator()
        order = await announce(k, operator, "N-1", expires_in=600)
        assert _state(k, "N-1") == "assigned" and k.status(order["compartment"]) == "assigned"
        await k.station.component("pickup").tick()
        assert _state(k, "N-1") == "assigned"  # not yet due
        k.clock.advance(601)
        await k.station.component("pickup").tick()
        assert _state(k, "N-1") == "cancelled" and k.status(order["compartment"]) == "empty"
        assert [e["state"] for e in k.events("order.cancelled")] == ["cancelled"]
        assert seen == []  # nothing was opened for it
        assert k.contract_problems()[0] == []


async def test_courier_drops_a_parcel_into_a_free_compartment_of_its_size_and_the_platform_is_told(
    pickup_site: Site,
) -> None:
    async with pickup_site.run() as k:
        seen = pulses(k)
        headers = await courier(k)
        dropped = await k.http.post("/api/staff/parcels", json={"external_id": "DHL-123", "size": "S"}, headers=headers)
        assert dropped.status_code == 200, dropped.text
        assert dropped.json()["kind"] == "parcel" and dropped.json()["state"] == "loaded"
        assert seen == [dropped.json()["compartment"]]
        loaded = k.events("order.loaded")
        assert [(e["external_id"], e["kind"], e["actor"]) for e in loaded] == [("DHL-123", "parcel", "courier:2")]
        big = await k.http.post("/api/staff/parcels", json={"external_id": "DHL-9", "size": "XL"}, headers=headers)
        assert big.status_code == 409 and big.json()["error"] == "not_available"
        assert len(seen) == 1
        k.http.cookies.clear()  # the log-in set the session cookie too
        anonymous = await k.http.post("/api/staff/parcels", json={"external_id": "X-1", "size": "S"})
        assert anonymous.status_code == 401


async def test_customer_card_on_the_tag_simulator_collects_the_order(pickup_site: Site) -> None:
    async with pickup_site.run() as k:
        seen = pulses(k)
        operator = await k.operator()
        order = await announce(k, operator, "N-1", pickup_code=None, card_uid=CARD)
        await load(k, "N-1", await courier(k))
        none = await k.http.post("/api/pickup/card", json={})
        assert none.status_code == 409 and none.json()["error"] == "no_badge"
        await k.tap("04FFFFFFFFFF01")
        stranger = await k.http.post("/api/pickup/card", json={})
        assert stranger.status_code == 401 and stranger.json()["error"] == "wrong_code"
        await k.tap(CARD)
        got = await k.http.post("/api/pickup/card", json={})
        assert got.status_code == 200, got.text
        assert got.json()["state"] == "collected" and seen == [order["compartment"]] * 2
        assert k.events("order.collected")[0]["via"] == "card"


async def test_expired_task_text_names_the_order(tmp_path: Path) -> None:
    async with make_site(tmp_path) as site:
        add_courier(site)
        async with site.run() as k:
            operator = await k.operator()
            await announce(k, operator, "T-1", kind="parcel", expires_in=60)
            await load(k, "T-1", await courier(k))
            k.clock.advance(61)
            await k.station.component("pickup").tick()
            ctx = TaskContext(now=k.clock.now(), today=k.clock.today(), tz=k.clock.now().tzinfo)  # type: ignore[arg-type]
            tasks = k.read(lambda s: open_tasks(s, ctx))
            task = next(t for t in tasks if t.code == "order.expired")
            assert task.what.startswith("Paket T-1 wurde nicht abgeholt") and task.where.startswith("Fach ")
            await wait_for(lambda: True)
