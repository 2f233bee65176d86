"""A door fault during a pick-up leaves the order loaded and its compartment needs_check. Opening that
compartment to restock or clean would record it empty under the order: it is refused, nothing opens."""

from __future__ import annotations

from sqlalchemy import select

from station.db.models import Order
from tests.pickup.conftest import CODE, announce, courier, load, pulses
from tests.volunteers.conftest import Site


async def test_restocking_a_compartment_a_live_order_names_is_refused_after_a_door_fault(pickup_site: Site) -> None:
    async with pickup_site.run() as k:
        seen = pulses(k)
        operator = await k.operator()
        order = await announce(k, operator, "F-1")
        comp = order["compartment"]
        await load(k, "F-1", await courier(k))
        assert k.locks is not None
        k.locks.lock(0, comp).jammed = True  # the latch swallows the pulse: opening never seen
        fault = await k.http.post("/api/pickup/collect", json={"code": CODE})
        assert fault.json()["outcome"] == "door_fault" and fault.json()["state"] == "loaded", fault.text
        assert k.status(comp) == "needs_check"
        assert len(seen) > 1 and set(seen) == {comp}  # the door flow pulsed it (and retried)
        pulsed = list(seen)

        for purpose in ("restock", "clean"):
            refused = await k.http.post("/api/staff/restocks", json={"compartment": comp, "purpose": purpose},
                                        headers=k.auth(operator))
            assert refused.status_code == 409 and refused.json()["error"] == "not_available", refused.text
            assert f"In Fach {comp} liegt noch die Bestellung F-1" in refused.json()["message"]
        assert seen == pulsed  # nothing opened
        assert k.status(comp) == "needs_check"
        assert k.read(lambda s: s.scalar(select(Order.state).where(Order.external_id == "F-1"))) == "loaded"

        other = await k.http.post("/api/staff/restocks", json={"compartment": comp + 1}, headers=k.auth(operator))
        assert other.status_code == 200, other.text  # a compartment no order names still opens
        assert seen == [*pulsed, comp + 1]
