"""The order's door steps and expiry (station/orders/steps.py) on a real database, without hardware.

Each step is checked for the order's state, the compartment's status, the audit row and the event,
including the refusals (codes and the words the kiosk shows) and what recovery reads from the door
operations. These are the module's own tests for mutation testing (mutation.toml): fast, one
transaction per step as the pick-up service commits them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from station.compartments import owner
from station.compartments.flow import Slot
from station.compartments.owner import sync_configured
from station.config import parse_config
from station.db import migrate
from station.db.engine import Database
from station.db.models import AuditEntry, DoorOperation, Order, OutboxEvent
from station.db.types import utcnow
from station.flows.engine import InvalidTransition
from station.lockwall.doors import DoorState
from station.orders import steps
from station.orders.flow import OrderState
from station.orders.service import NewOrder, OrderError, announce
from tests.conftest import minimal_config
from tests.helpers.dbcopy import open_copy

St = OrderState
COMPARTMENTS = {1: "S", 2: "M", 3: "L", 4: "M", 5: "M", 6: "L"}
ALL = list(COMPARTMENTS)


@pytest.fixture(scope="session")
def order_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("orderdb") / "template.db"
    migrate.upgrade(path)
    walls = "".join(f'[[compartments]]\nid = {c}\nbus = "wall"\nboard = 0\nlock = {c}\nsize = "{size}"\n'
                    for c, size in COMPARTMENTS.items())
    text = minimal_config(path) + '[lock_buses.wall]\nport = "/dev/null"\nprotocol = "cu16"\n' \
        '[[lock_buses.wall.boards]]\naddress = 0\n' + walls
    config = parse_config(text)
    database = Database(path)
    database.open_sync()
    database.run_sync(lambda s: sync_configured(s, config.compartments))
    database.close_sync()
    return path


@pytest.fixture
def odb(order_template: Path, tmp_path: Path) -> Iterator[Database]:
    yield from open_copy(order_template, tmp_path)


def _announce(db: Database, external_id: str, **fields: Any) -> int:
    reply = db.run_sync(lambda s: announce(s, NewOrder(external_id, **fields), actor="operator:ops"))
    return int(reply["order_id"])


def _order(db: Database, order_id: int) -> dict[str, Any]:
    return db.run_sync(lambda s: {c: getattr(o, c) for o in [s.get_one(Order, order_id)] for c in (
        "state", "compartment_id", "loaded_by", "loaded_at", "picked_up_at", "collected_by")})


def _slot(db: Database, compartment: int) -> Slot:
    return db.run_sync(lambda s: owner.status(s, compartment))


def _last_audit(db: Database) -> tuple[str, str, dict[str, Any]]:
    """(actor, action, details) of the newest audit row of an order."""
    row = db.run_sync(lambda s: s.scalars(select(AuditEntry).where(AuditEntry.subject.like("order%"))
                                          .order_by(AuditEntry.id.desc())).first())
    assert row is not None
    return row.actor, f"{row.details.get('from')}->{row.action.removeprefix('order.')}", dict(row.details)


def _events(db: Database) -> list[tuple[str, dict[str, Any]]]:
    return db.run_sync(lambda s: [(e.type, e.payload) for e in s.scalars(
        select(OutboxEvent).where(OutboxEvent.type.like("order.%")).order_by(OutboxEvent.id))])


def _refused(db: Database, fn: Any) -> tuple[str, str]:
    with pytest.raises(OrderError) as refused:
        db.run_sync(fn)
    return refused.value.code, str(refused.value)


def _loaded(db: Database, external_id: str = "A-1", **fields: Any) -> tuple[int, int]:
    """An order loaded into its compartment: (order id, compartment)."""
    order_id = _announce(db, external_id, **fields)
    comp = db.run_sync(lambda s: steps.start_loading(s, order_id, actor="courier:2"))
    db.run_sync(lambda s: steps.loading_done(s, order_id, opened=True, actor="courier:2"))
    return order_id, comp


def _collecting(db: Database, **fields: Any) -> tuple[int, int]:
    order_id, comp = _loaded(db, **fields)
    db.run_sync(lambda s: steps.start_collecting(s, order_id, actor="shopper", via="code", now=utcnow()))
    return order_id, comp


def _expired(db: Database) -> tuple[int, int]:
    order_id, comp = _loaded(db, expires_at=utcnow() + timedelta(hours=1))
    assert db.run_sync(lambda s: steps.expire_due(s, utcnow() + timedelta(hours=2))) == [order_id]
    return order_id, comp


# -- loading ------------------------------------------------------------------------------------------
def test_an_unknown_order_is_refused_by_every_step(odb: Database) -> None:
    assert _refused(odb, lambda s: steps.start_loading(s, 99, actor="courier:2"))[0] == "unknown_order"
    assert _refused(odb, lambda s: steps.collecting_done(s, 99, "opened"))[0] == "unknown_order"


def test_loading_an_announced_order_keeps_a_compartment_first_and_commits_the_arrow(odb: Database) -> None:
    order_id = odb.run_sync(lambda s: announce(s, NewOrder("A-1", size="M"), actor="operator:ops",
                                               unavailable=ALL))["order_id"]
    assert _order(odb, order_id)["state"] == "announced"  # no compartment could be opened then
    assert odb.run_sync(lambda s: steps.start_loading(s, order_id, actor="courier:2")) == 2
    assert _order(odb, order_id)["state"] == "loading" and _slot(odb, 2) is Slot.ASSIGNED
    actor, action, details = _last_audit(odb)
    assert (actor, action, details["compartment"]) == ("courier:2", "assigned->loading", 2)


def test_loading_skips_the_compartments_the_caller_cannot_open(odb: Database) -> None:
    order_id = odb.run_sync(lambda s: announce(s, NewOrder("A-1"), actor="operator:ops",
                                               unavailable=ALL))["order_id"]
    code, text = _refused(odb, lambda s: steps.start_loading(s, order_id, actor="courier:2", unavailable=ALL))
    assert (code, text) == ("not_available", "Für diese Sendung ist gerade kein passendes Fach frei")
    assert odb.run_sync(lambda s: steps.start_loading(s, order_id, actor="courier:2", unavailable=[1])) == 2
    assert _last_audit(odb)[0] == "courier:2"
    assert [a for a in odb.run_sync(lambda s: [e.actor for e in s.scalars(
        select(AuditEntry).where(AuditEntry.action == "order.assigned"))])] == ["courier:2"]


def test_loading_is_refused_once_the_order_is_past_assigned(odb: Database) -> None:
    order_id, _ = _loaded(odb)
    code, text = _refused(odb, lambda s: steps.start_loading(s, order_id, actor="courier:2"))
    assert (code, text) == ("order_state", "Diese Sendung ist im Fach: Einlegen geht nicht")


def test_the_door_opened_for_loading_the_order_is_in(odb: Database) -> None:
    order_id = _announce(odb, "A-1", size="M")
    comp = odb.run_sync(lambda s: steps.start_loading(s, order_id, actor="courier:2"))
    assert comp == 2
    before = utcnow()
    odb.run_sync(lambda s: steps.loading_done(s, order_id, opened=True, actor="courier:2"))
    order = _order(odb, order_id)
    assert order["state"] == "loaded" and _slot(odb, comp) is Slot.HOLDING
    assert order["loaded_by"] == "courier:2" and order["loaded_at"] is not None
    assert order["loaded_at"].replace(tzinfo=before.tzinfo) >= before - timedelta(seconds=1)
    assert _last_audit(odb)[:2] == ("courier:2", "loading->loaded")
    kind, payload = _events(odb)[-1]
    assert (kind, payload["state"], payload["compartment_id"], payload["actor"]) == (
        "order.loaded", "loaded", comp, "courier:2")


def test_the_door_did_not_open_for_loading_back_to_assigned_with_the_reason(odb: Database) -> None:
    order_id = _announce(odb, "A-1")
    comp = odb.run_sync(lambda s: steps.start_loading(s, order_id, actor="courier:2"))
    odb.run_sync(lambda s: steps.loading_done(s, order_id, opened=False, actor="courier:2", detail="no answer"))
    order = _order(odb, order_id)
    assert (order["state"], order["loaded_by"], order["loaded_at"]) == ("assigned", None, None)
    assert _slot(odb, comp) is Slot.ASSIGNED
    actor, action, details = _last_audit(odb)
    assert (actor, action, details.get("why")) == ("courier:2", "loading->assigned", "no answer")
    with pytest.raises(InvalidTransition):  # loading_done only ends a loading step
        odb.run_sync(lambda s: steps.loading_done(s, order_id, opened=False, actor="courier:2"))


# -- collecting ---------------------------------------------------------------------------------------
def test_collecting_opens_the_compartment_and_records_how(odb: Database) -> None:
    order_id, comp = _loaded(odb)
    got = odb.run_sync(lambda s: steps.start_collecting(s, order_id, actor="shopper", via="qr", now=utcnow(),
                                                        token="t-1"))
    assert got == comp and _order(odb, order_id)["state"] == "collecting" and _slot(odb, comp) is Slot.COLLECTING
    actor, action, details = _last_audit(odb)
    assert (actor, action) == ("shopper", "loaded->collecting")
    assert (details["via"], details["compartment"], details["token"]) == ("qr", comp, "t-1")


@pytest.mark.parametrize("late_by", [timedelta(0), timedelta(seconds=1)])
def test_collecting_at_or_after_valid_until_is_refused(odb: Database, late_by: timedelta) -> None:
    until = utcnow() + timedelta(hours=1)
    order_id, comp = _loaded(odb, expires_at=until)
    code, text = _refused(odb, lambda s: steps.start_collecting(s, order_id, actor="shopper", via="code",
                                                                now=until + late_by))
    assert (code, text) == ("expired", "Die Abholfrist ist abgelaufen – bitte den Betreiber anrufen")
    assert _slot(odb, comp) is Slot.HOLDING


def test_collecting_just_before_valid_until_opens(odb: Database) -> None:
    until = utcnow() + timedelta(hours=1)
    order_id, comp = _loaded(odb, expires_at=until)
    assert odb.run_sync(lambda s: steps.start_collecting(s, order_id, actor="shopper", via="code",
                                                         now=until - timedelta(seconds=1))) == comp


def test_collecting_from_a_held_compartment_is_refused(odb: Database) -> None:
    order_id, comp = _loaded(odb)
    odb.run_sync(lambda s: owner.hold(s, comp, "cold_chain", actor="system"))
    code, _ = _refused(odb, lambda s: steps.start_collecting(s, order_id, actor="shopper", via="code", now=utcnow()))
    assert code == "blocked" and _order(odb, order_id)["state"] == "loaded"


def test_a_collected_order_says_its_code_is_used(odb: Database) -> None:
    order_id, _ = _collecting(odb)
    code, text = _refused(odb, lambda s: steps.start_collecting(s, order_id, actor="shopper", via="code",
                                                                now=utcnow()))
    assert (code, text) == ("order_state", "Dieses Fach öffnet gerade")
    odb.run_sync(lambda s: steps.collecting_done(s, order_id, "opened"))
    code, text = _refused(odb, lambda s: steps.start_collecting(s, order_id, actor="shopper", via="code",
                                                                now=utcnow()))
    assert (code, text) == ("order_state", "Diese Bestellung wurde schon abgeholt – der Code gilt nur einmal")


@pytest.mark.parametrize(("state", "text"), [
    ("collected", "Diese Bestellung wurde schon abgeholt – der Code gilt nur einmal"),
    ("expired", "Die Abholfrist ist abgelaufen – bitte den Betreiber anrufen"),
    ("returning", "Die Abholfrist ist abgelaufen – bitte den Betreiber anrufen"),
    ("returned", "Die Abholfrist ist abgelaufen – bitte den Betreiber anrufen"),
    ("cancelled", "Diese Bestellung wurde storniert"),
    ("collecting", "Dieses Fach öffnet gerade"),
    ("announced", "Diese Bestellung ist noch nicht im Fach – bitte später noch einmal versuchen"),
    ("assigned", "Diese Bestellung ist noch nicht im Fach – bitte später noch einmal versuchen"),
    ("loading", "Diese Bestellung ist noch nicht im Fach – bitte später noch einmal versuchen"),
])
def test_what_the_kiosk_says_when_an_order_cannot_be_collected(state: str, text: str) -> None:
    assert steps._not_collectable(state) == text


def test_a_state_without_a_word_is_shown_as_it_is() -> None:
    assert steps._word("loaded") == "im Fach"
    assert steps._word("weird") == "weird"


def test_the_door_opened_for_the_customer_collected_once(odb: Database) -> None:
    order_id, comp = _collecting(odb)
    assert odb.run_sync(lambda s: steps.collecting_done(s, order_id, "opened", actor="shopper", via="code")) == \
        "collected"
    order = _order(odb, order_id)
    assert (order["state"], order["collected_by"]) == ("collected", "shopper") and order["picked_up_at"] is not None
    assert _slot(odb, comp) is Slot.EMPTY
    actor, action, details = _last_audit(odb)
    assert (actor, action, details["via"]) == ("shopper", "collecting->collected", "code")
    assert [k for k, _ in _events(odb)][-1] == "order.collected"
    # recovery and the request raced: the second answer changes nothing
    assert odb.run_sync(lambda s: steps.collecting_done(s, order_id, "not_opened")) == "collected"
    assert _slot(odb, comp) is Slot.EMPTY and _last_audit(odb)[1] == "collecting->collected"


@pytest.mark.parametrize(("outcome", "slot"), [("not_opened", Slot.HOLDING), ("door_fault", Slot.NEEDS_CHECK)])
def test_the_door_did_not_open_for_the_customer_it_stays_loaded(odb: Database, outcome: str, slot: Slot) -> None:
    order_id, comp = _collecting(odb)
    assert odb.run_sync(lambda s: steps.collecting_done(s, order_id, outcome, actor="shopper", via="code")) == \
        "loaded"
    order = _order(odb, order_id)
    assert (order["state"], order["collected_by"], order["picked_up_at"]) == ("loaded", None, None)
    assert _slot(odb, comp) is slot
    actor, action, details = _last_audit(odb)
    assert (actor, action, details["door"], details["via"]) == ("shopper", "collecting->loaded", outcome, "code")


def test_collecting_done_runs_as_system_unless_told(odb: Database) -> None:
    order_id, _ = _collecting(odb)
    odb.run_sync(lambda s: steps.collecting_done(s, order_id, "opened"))
    assert _last_audit(odb)[0] == "system"


# -- expiry and return -------------------------------------------------------------------------------------
def test_expiry_ends_loaded_orders_and_cancels_unloaded_ones_at_valid_until(odb: Database) -> None:
    now = utcnow()
    loaded, comp = _loaded(odb, "L-1", expires_at=now)
    later, _ = _loaded(odb, "L-2", expires_at=now + timedelta(seconds=1))
    forever, _ = _loaded(odb, "L-3")
    assigned = _announce(odb, "A-1", expires_at=now)
    kept = odb.run_sync(lambda s: s.get_one(Order, assigned).compartment_id)
    announced = odb.run_sync(lambda s: announce(s, NewOrder("N-1", expires_at=now), actor="operator:ops",
                                                unavailable=ALL))["order_id"]
    waiting = _announce(odb, "N-2", expires_at=now + timedelta(seconds=1))
    due = odb.run_sync(lambda s: steps.expire_due(s, now))
    assert due[0] == loaded and sorted(due[1:]) == sorted([assigned, announced])  # expired first, then cancelled
    states = {i: _order(odb, i)["state"] for i in (loaded, later, forever, assigned, announced, waiting)}
    assert states == {loaded: "expired", later: "loaded", forever: "loaded", assigned: "cancelled",
                      announced: "cancelled", waiting: "assigned"}
    assert _slot(odb, comp) is Slot.HOLDING and _slot(odb, kept) is Slot.EMPTY
    why = odb.run_sync(lambda s: {(e.subject, e.action): (e.actor, e.details.get("why")) for e in s.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(["order.expired", "order.cancelled"])))})
    assert why == {(f"order:{loaded}", "order.expired"): ("system", "past valid-until"),
                   (f"order:{assigned}", "order.cancelled"): ("system", "past valid-until before it was loaded"),
                   (f"order:{announced}", "order.cancelled"): ("system", "past valid-until before it was loaded")}
    unassigned = odb.run_sync(lambda s: next(e.actor for e in s.scalars(
        select(AuditEntry).where(AuditEntry.subject == f"compartment:{kept}").order_by(AuditEntry.id.desc()))))
    assert unassigned == "system"


def test_a_volunteer_takes_an_expired_order_out_even_from_a_held_compartment(odb: Database) -> None:
    order_id, comp = _expired(odb)
    odb.run_sync(lambda s: owner.hold(s, comp, "cold_chain", actor="system"))
    assert odb.run_sync(lambda s: steps.start_returning(s, order_id, actor="volunteer:1")) == comp
    assert _order(odb, order_id)["state"] == "returning" and _slot(odb, comp) is Slot.COLLECTING
    assert odb.run_sync(steps.unfinished_compartments) == {comp}
    actor, action, details = _last_audit(odb)
    assert (actor, action, details["compartment"]) == ("volunteer:1", "expired->returning", comp)
    assert odb.run_sync(lambda s: steps.returning_done(s, order_id, "opened", actor="volunteer:1")) == "returned"
    assert _order(odb, order_id)["state"] == "returned" and _slot(odb, comp) is Slot.EMPTY
    actor, action, details = _last_audit(odb)
    assert (actor, action, details["door"]) == ("volunteer:1", "returning->returned", "opened")
    assert odb.run_sync(lambda s: steps.returning_done(s, order_id, "not_opened")) == "returned"


def test_only_an_expired_order_is_taken_back(odb: Database) -> None:
    order_id, _ = _loaded(odb)
    code, text = _refused(odb, lambda s: steps.start_returning(s, order_id, actor="volunteer:1"))
    assert (code, text) == ("order_state", "Diese Bestellung ist im Fach: zurücknehmen geht nicht")


@pytest.mark.parametrize(("outcome", "slot"), [("not_opened", Slot.HOLDING), ("door_fault", Slot.NEEDS_CHECK)])
def test_the_door_did_not_open_for_the_volunteer_it_stays_expired(odb: Database, outcome: str, slot: Slot) -> None:
    order_id, comp = _expired(odb)
    odb.run_sync(lambda s: steps.start_returning(s, order_id, actor="volunteer:1"))
    assert odb.run_sync(lambda s: steps.returning_done(s, order_id, outcome)) == "expired"
    assert _order(odb, order_id)["state"] == "expired" and _slot(odb, comp) is slot
    actor, action, details = _last_audit(odb)
    assert (actor, action, details["door"]) == ("system", "returning->expired", outcome)


# -- what the doors did (recovery) ---------------------------------------------------------------------------
def _door(db: Database, order_id: int, state: DoorState, *, attempts: int = 1, reason: str = "pickup",
          at: datetime | None = None, reference: str | None = None) -> None:
    when = at or utcnow() + timedelta(seconds=1)
    comp = _order(db, order_id)["compartment_id"]
    db.run_sync(lambda s: s.execute(insert(DoorOperation).values(
        compartment_id=comp, reason=reason, reference=reference or f"order:{order_id}", state=state.value,
        attempts=attempts, created_at=when, updated_at=when)))


@pytest.mark.parametrize(("state", "attempts", "outcome"), [
    (DoorState.REQUESTED, 0, None), (DoorState.PULSE_SENT, 1, None), (DoorState.NOT_DETECTED, 1, None),
    (DoorState.OPENED, 1, "opened"), (DoorState.CLOSED, 1, "opened"), (DoorState.MAYBE_OPENED, 1, "opened"),
    (DoorState.FAILED, 1, "door_fault"), (DoorState.FAILED, 0, "not_opened"), (DoorState.UNTOUCHED, 1, "not_opened"),
])
def test_the_door_outcome_recovery_reads(odb: Database, state: DoorState, attempts: int, outcome: str | None) -> None:
    order_id, _ = _collecting(odb)
    _door(odb, order_id, state, attempts=attempts)
    assert odb.run_sync(lambda s: steps.door_outcome(s, order_id, "pickup")) == outcome


def test_the_door_outcome_is_the_newest_operation_of_this_step_and_order(odb: Database) -> None:
    order_id, _ = _collecting(odb)
    assert odb.run_sync(lambda s: steps.door_outcome(s, order_id, "pickup")) == "not_opened"  # nothing pulsed
    _door(odb, order_id, DoorState.OPENED, at=utcnow() - timedelta(hours=1))  # an earlier attempt
    _door(odb, order_id, DoorState.OPENED, reason="loading")
    _door(odb, order_id, DoorState.OPENED, reference="order:999")
    assert odb.run_sync(lambda s: steps.door_outcome(s, order_id, "pickup")) == "not_opened"
    _door(odb, order_id, DoorState.FAILED)
    _door(odb, order_id, DoorState.OPENED)
    assert odb.run_sync(lambda s: steps.door_outcome(s, order_id, "pickup")) == "opened"
    _door(odb, order_id, DoorState.FAILED)
    assert odb.run_sync(lambda s: steps.door_outcome(s, order_id, "pickup")) == "door_fault"


def test_an_operation_created_in_the_same_instant_as_the_step_counts(odb: Database) -> None:
    order_id, _ = _collecting(odb)
    since = odb.run_sync(lambda s: s.get_one(Order, order_id).updated_at)
    _door(odb, order_id, DoorState.OPENED, at=since)
    assert odb.run_sync(lambda s: steps.door_outcome(s, order_id, "pickup")) == "opened"


def test_an_order_never_stamped_counts_every_operation(odb: Database) -> None:
    order_id, _ = _collecting(odb)
    odb.run_sync(lambda s: s.execute(Order.__table__.update().where(Order.id == order_id).values(updated_at=None)))
    _door(odb, order_id, DoorState.OPENED, at=utcnow() - timedelta(days=1))
    assert odb.run_sync(lambda s: steps.door_outcome(s, order_id, "pickup")) == "opened"


def test_the_compartments_of_orders_in_a_door_step(odb: Database) -> None:
    loading = _announce(odb, "A-1", size="S")
    first = odb.run_sync(lambda s: steps.start_loading(s, loading, actor="courier:2"))
    _, second = _collecting(odb, external_id="C-1", size="M")
    _loaded(odb, "L-1", size="L")  # resting: its compartment is the compartment recovery's
    assert odb.run_sync(steps.unfinished_compartments) == {first, second}


def _compartment_moves(db: Database, comp: int) -> list[tuple[str, str, str | None]]:
    """(actor, action, reference) of every move of a compartment, oldest first."""
    return db.run_sync(lambda s: [(a.actor, a.action, a.reference) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.subject == f"compartment:{comp}").order_by(AuditEntry.id))])


def test_every_audited_compartment_move_names_the_order_and_who_moved_it(odb: Database) -> None:
    order_id, comp = _collecting(odb)
    odb.run_sync(lambda s: steps.collecting_done(s, order_id, "not_opened", actor="shopper"))
    odb.run_sync(lambda s: s.execute(Order.__table__.update().where(Order.id == order_id).values(
        expires_at=utcnow() - timedelta(seconds=1))))
    odb.run_sync(lambda s: steps.expire_due(s, utcnow()))
    odb.run_sync(lambda s: steps.start_returning(s, order_id, actor="volunteer:1"))
    odb.run_sync(lambda s: steps.returning_done(s, order_id, "door_fault"))
    ref = f"order:{order_id}"
    # after the move that made it (configuration); opening for a pick-up or return is the order's own audit row
    assert _compartment_moves(odb, comp)[1:] == [
        ("operator:ops", "compartment.assigned", ref), ("courier:2", "compartment.holding", ref),
        ("system", "compartment.holding", ref), ("system", "compartment.needs_check", ref)]


def test_a_door_fault_at_pick_up_names_the_order(odb: Database) -> None:
    order_id, comp = _collecting(odb)
    odb.run_sync(lambda s: steps.collecting_done(s, order_id, "door_fault"))
    assert _compartment_moves(odb, comp)[-1] == ("system", "compartment.needs_check", f"order:{order_id}")


def test_a_cancelled_order_frees_its_compartment_in_its_name(odb: Database) -> None:
    now = utcnow()
    order_id = _announce(odb, "A-1", expires_at=now)
    comp = _order(odb, order_id)["compartment_id"]
    odb.run_sync(lambda s: steps.expire_due(s, now))
    assert _compartment_moves(odb, comp)[1:] == [("operator:ops", "compartment.assigned", f"order:{order_id}"),
                                            ("system", "compartment.empty", f"order:{order_id}")]


def test_a_door_that_did_not_open_for_loading_says_why_only_when_told(odb: Database) -> None:
    order_id = _announce(odb, "A-1")
    odb.run_sync(lambda s: steps.start_loading(s, order_id, actor="courier:2"))
    odb.run_sync(lambda s: steps.loading_done(s, order_id, opened=False, actor="courier:2"))
    assert _last_audit(odb)[2].get("why") in (None, "")


def test_loading_done_ends_only_a_loading_step_whatever_the_compartment_says(odb: Database) -> None:
    order_id, comp = _collecting(odb)
    odb.run_sync(lambda s: owner._move(s, comp, Slot.HOLDING))
    odb.run_sync(lambda s: owner._move(s, comp, Slot.NEEDS_CHECK))
    odb.run_sync(lambda s: owner._move(s, comp, Slot.EMPTY))
    odb.run_sync(lambda s: owner.assign_to_order(s, comp, f"order:{order_id}"))  # a compartment kept again
    with pytest.raises(InvalidTransition):
        odb.run_sync(lambda s: steps.loading_done(s, order_id, opened=True, actor="courier:2"))
    announced = odb.run_sync(lambda s: announce(s, NewOrder("N-1"), actor="operator:ops", unavailable=ALL))["order_id"]
    odb.run_sync(lambda s: s.execute(Order.__table__.update().where(Order.id == announced).values(compartment_id=comp)))
    with pytest.raises(InvalidTransition):
        odb.run_sync(lambda s: steps.loading_done(s, announced, opened=False, actor="courier:2"))
    assert (_order(odb, order_id)["state"], _order(odb, announced)["state"]) == ("collecting", "announced")
