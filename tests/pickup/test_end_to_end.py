"""Pick-up end to end through the HTTP API against the simulated lock wall: order in, compartment
assigned, loaded by a courier, collected by code (and by QR token, by card); refusals open nothing."""

from __future__ import annotations

from sqlalchemy import select

from station.compartments import owner
from station.db.models import Compartment, Order
from station.db.returns_models import Receipt
from station.orders import cancel
from tests.pickup.conftest import CODE, QR, announce, courier, load, pulses
from tests.volunteers.conftest import Site


async def test_order_assigned_loaded_by_courier_and_collected_by_code(pickup_site: Site) -> None:
    async with pickup_site.run() as k:
        seen = pulses(k)
        operator = await k.operator()
        order = await announce(k, operator, "B-1001", customer_ref="K-77", items=[{"gtin": "4001234567890"}])
        assert order["state"] == "assigned"
        compartment = order["compartment"]
        assert k.status(compartment) == "assigned"

        loaded = await load(k, "B-1001", await courier(k))
        assert loaded | {"message": ""} == {"external_id": "B-1001", "kind": "order", "compartment": compartment,
                                                   "outcome": "opened", "state": "loaded", "message": ""}
        assert k.status(compartment) == "holding"
        assert k.read(lambda s: s.get_one(Compartment, compartment).door_state) == "closed"

        got = await k.http.post("/api/pickup/collect", json={"code": CODE})
        assert got.status_code == 200, got.text
        assert got.json()["outcome"] == "opened" and got.json()["state"] == "collected"
        assert got.json()["message"].startswith(f"Fach {compartment} ist offen")
        assert seen == [compartment, compartment]  # loading, then collection: the right door both times
        assert k.status(compartment) == "empty"

        again = await k.http.post("/api/pickup/collect", json={"code": CODE})
        assert again.status_code == 409 and again.json()["error"] == "order_state"
        assert "nur einmal" in again.json()["message"]
        assert seen == [compartment, compartment]  # a used code opens nothing
        query = select(Receipt.kind, Receipt.id).where(Receipt.reference == "B-1001")
        receipts = k.read(lambda s: s.execute(query).all())
        assert [kind for kind, _id in receipts] == ["pickup"]  # the confirmation, written with the collection
        page = await k.http.get(f"/api/receipts/{receipts[0][1]}")
        assert page.status_code == 200 and "B-1001" in page.text and f"{compartment}" in page.text

        types = [e["state"] for e in k.events("order.created") + k.events("order.assigned") + k.events("order.loaded")
                 + k.events("order.collected")]
        assert types == ["announced", "assigned", "loaded", "collected"]
        collected = k.events("order.collected")[0]
        assert collected["via"] == "code" and collected["actor"] == "customer:code"
        assert collected["compartment_id"] == compartment
        problems, _types = k.contract_problems()
        assert problems == []
        stored = k.read(lambda s: s.scalar(select(Order.code_hmac).where(Order.external_id == "B-1001")))
        assert stored is not None and CODE not in stored and len(stored) == 64  # a keyed hash, never the code


async def test_qr_token_and_wrong_codes(pickup_site: Site) -> None:
    async with pickup_site.run() as k:
        seen = pulses(k)
        operator = await k.operator()
        order = await announce(k, operator, "B-2", pickup_code=None, qr_token=QR)
        await load(k, "B-2", await courier(k))
        wrong = await k.http.post("/api/pickup/collect", json={"code": "0000000000"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "wrong_code"
        short = await k.http.post("/api/pickup/collect", json={"code": "12345"})
        assert short.status_code == 401
        assert seen == [order["compartment"]]  # only the loading opened a door
        got = await k.http.post("/api/pickup/collect", json={"code": QR})
        assert got.status_code == 200, got.text
        assert got.json()["state"] == "collected" and k.events("order.collected")[0]["via"] == "qr"
        assert seen == [order["compartment"]] * 2


async def test_chilled_order_not_handed_out_from_a_blocked_compartment(pickup_site: Site) -> None:
    async with pickup_site.run() as k:
        seen = pulses(k)
        operator = await k.operator()
        order = await announce(k, operator, "B-3")
        await load(k, "B-3", await courier(k))
        comp = order["compartment"]
        await k.station.db.write(lambda s: owner.hold(s, comp, "cold_chain", actor="system", reason="zu warm"))
        refused = await k.http.post("/api/pickup/collect", json={"code": CODE})
        assert refused.status_code == 409 and refused.json()["error"] == "blocked"
        assert "gesperrt" in refused.json()["message"]
        assert seen == [comp]
        assert k.read(lambda s: s.scalar(select(Order.state).where(Order.external_id == "B-3"))) == "loaded"
        assert k.status(comp) == "holding"


async def test_assignment_skips_blocked_and_unchecked_compartments_and_takes_the_named_one(pickup_site: Site) -> None:
    async with pickup_site.run() as k:
        operator = await k.operator()
        await k.station.db.write(lambda s: (owner.hold(s, 1, "cold_chain", actor="system"),
                                            owner.needs_check(s, 2, "door opened without an unlock command")))
        first = await announce(k, operator, "C-1")
        assert first["compartment"] == 3
        named = await announce(k, operator, "C-2", compartment=6)
        assert named["compartment"] == 6 and named["state"] == "assigned"
        too_big = await announce(k, operator, "C-3", size="XL")
        assert too_big["state"] == "announced" and too_big["compartment"] is None
        cancelled = await k.station.db.write(lambda s: cancel(s, "C-1", actor="operator:platform"))
        assert cancelled["state"] == "cancelled" and k.status(3) == "empty"
