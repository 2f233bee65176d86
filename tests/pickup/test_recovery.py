"""Recovery of orders left in a door step (loading, collecting, returning) without a kill: the rows are
put there directly, the station starts, and the order's recovery decides from the door operations."""

from __future__ import annotations

from sqlalchemy import select

from station.db.engine import Database
from station.db.models import Order
from station.db.types import utcnow
from station.flows.engine import transition
from station.lockwall import doors
from station.orders import steps
from station.orders.flow import ORDER, OrderState, subject
from station.orders.service import NewOrder, announce
from tests.volunteers.conftest import Site, wait_for


def _setup(site: Site, fn) -> None:  # type: ignore[no-untyped-def]
    db = Database(site.db_path)
    db.open_sync()
    try:
        db.run_sync(fn)
    finally:
        db.close_sync()


def _loaded(session, name: str) -> int:  # type: ignore[no-untyped-def]
    order_id = int(announce(session, NewOrder(name, size="M"), actor="operator:platform")["order_id"])
    steps.start_loading(session, order_id, actor="courier:2")
    steps.loading_done(session, order_id, opened=True, actor="courier:2")
    return order_id


def _left(session) -> None:  # type: ignore[no-untyped-def]
    loading = int(announce(session, NewOrder("L-1", size="M"), actor="operator:platform")["order_id"])
    steps.start_loading(session, loading, actor="courier:2")  # crash before the door intent: nothing pulsed
    faulty = _loaded(session, "F-1")
    comp = steps.start_collecting(session, faulty, actor="customer:code", via="code", now=utcnow())
    op = doors.create(session, comp, "pickup", subject(faulty), "customer:code")
    doors.move(session, op, doors.DoorState.PULSE_SENT)
    doors.move(session, op, doors.DoorState.NOT_DETECTED)
    doors.move(session, op, doors.DoorState.PULSE_SENT)
    doors.move(session, op, doors.DoorState.NOT_DETECTED)
    doors.move(session, op, doors.DoorState.FAILED)  # pulsed twice, never seen open: a door fault
    back = _loaded(session, "R-1")
    transition(session, ORDER, back, OrderState.EXPIRED)
    steps.start_returning(session, back, actor="volunteer:3")


async def test_orders_left_in_a_door_step_are_settled_at_start(pickup_site: Site) -> None:
    _setup(pickup_site, _left)
    async with pickup_site.run() as k:
        await wait_for(lambda: k.station.component("pickup").recovered.is_set(), what="pick-up recovery")
        states = dict(k.read(lambda s: s.execute(select(Order.external_id, Order.state)).all()))
        assert states == {"L-1": "assigned", "F-1": "loaded", "R-1": "expired"}
        compartments = dict(k.read(lambda s: s.execute(select(Order.external_id, Order.compartment_id)).all()))
        assert k.status(compartments["L-1"]) == "assigned"
        assert k.status(compartments["F-1"]) == "needs_check"  # a pulse went out unseen: a person checks
        assert k.status(compartments["R-1"]) == "holding"
        fresh = await k.station.db.write(lambda s: announce(s, NewOrder("N-1", size="M"), actor="operator:platform"))
        assert fresh["state"] == "assigned"
        new_comp = k.read(lambda s: s.scalar(select(Order.compartment_id).where(Order.external_id == "N-1")))
        assert new_comp not in compartments.values()
        assert k.contract_problems()[0] == []
