"""The compartment owner's rules on a real database: each function moves only from the statuses it
names, writes what it says (contents, holds, events against their schemas, the needs-check alarm) and
refuses the rest in plain words.

These are the owner's own tests for mutation testing (mutation.toml); the flows that call it test it
again through their own paths.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from station.compartments import owner
from station.compartments.contents import load as load_compartment
from station.compartments.flow import Slot
from station.compartments.owner import CompartmentError
from station.config import CompartmentConfig
from station.db.engine import Database
from station.db.models import Alarm, AuditEntry, Compartment, CompartmentContent, CompartmentHold, OutboxEvent
from tests.purchase.saledb import compartment
from tests.sync.schema_check import errors, rule_for

BREAD = "4001234567890"


def _events(db: Database, prefix: str = "compartment.") -> list[tuple[str, dict[str, Any]]]:
    rows = db.run_sync(lambda s: [(e.type, e.payload) for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))])
    for kind, payload in rows:
        rule = rule_for(kind)
        assert rule is not None and errors(payload, rule.payload_schema) == [], (kind, payload)
    return [(k, p) for k, p in rows if k.startswith(prefix)]


def _alarm(db: Database, comp: int) -> list[str]:
    return db.run_sync(lambda s: [a.state for a in s.scalars(select(Alarm).where(
        Alarm.kind == "compartment.needs_check", Alarm.subject == f"compartment:{comp}"))])


def _status(db: Database, comp: int) -> Slot:
    return db.run_sync(lambda s: owner.status(s, comp))


def _put(db: Database, comp: int, status: Slot) -> None:
    """Straight into a status (test set-up only; no arrow)."""
    db.run_sync(lambda s: setattr(s.get_one(Compartment, comp), "status", status.value))


def _audits(db: Database) -> list[tuple[str, str, str | None, str | None, dict[str, Any]]]:
    return db.run_sync(lambda s: [(a.action, a.actor, a.reason, a.reference, a.details)
                                  for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))])


def test_an_unknown_compartment_is_named_in_plain_words(sdb: Database) -> None:
    with pytest.raises(CompartmentError, match=r"^Fach 99 gibt es nicht$"):
        _status(sdb, 99)
    with pytest.raises(CompartmentError, match=r"^Fach 99 gibt es nicht$"):
        sdb.run_sync(lambda s: owner.hold(s, 99, "operator", actor="operator:x"))


# -- buying ---------------------------------------------------------------------------------------------
def test_reserving_needs_a_loaded_compartment_without_holds(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.reserve_for_sale(s, 1, "sale-1"))
    assert _status(sdb, 1) is Slot.RESERVED and _events(sdb) == []
    with pytest.raises(CompartmentError, match=r"^Fach 1 ist reserved: reserved geht nicht$"):
        sdb.run_sync(lambda s: owner.reserve_for_sale(s, 1, "sale-2"))
    sdb.run_sync(lambda s: owner.hold(s, 2, "operator", actor="operator:x", reason="Glas"))
    with pytest.raises(CompartmentError, match=r"^Fach 2 ist gesperrt$"):
        sdb.run_sync(lambda s: owner.reserve_for_sale(s, 2, "sale-3"))
    assert _status(sdb, 2) is Slot.LOADED


@pytest.mark.parametrize(("outcome", "status", "left", "why"), [
    ("released", Slot.EMPTY, 0, None),
    ("not_released", Slot.LOADED, 1, None),
    ("maybe", Slot.NEEDS_CHECK, 1, "door may have opened unseen"),
    ("door_fault", Slot.NEEDS_CHECK, 1, "door pulsed, opening not seen"),
])
def test_a_settled_sale_leaves_the_compartment_by_what_its_door_did(sdb: Database, outcome: str, status: Slot,
                                                                   left: int, why: str | None) -> None:
    sdb.run_sync(lambda s: owner.reserve_for_sale(s, 2, "sale-1"))
    sdb.run_sync(lambda s: owner.sale_settled(s, 2, "sale-1", outcome))
    assert compartment(sdb, 2) == (status.value, left)
    events = _events(sdb)
    if why is None:
        assert events == [] and _alarm(sdb, 2) == []
    else:
        (kind, payload), = events
        assert kind == "compartment.needs_check" and (payload["why"], payload["sale_id"]) == (why, "sale-1")
        assert payload["compartment"] == 2 and payload["reference"] == "sale-1" and payload["from"] == "reserved"
        assert _alarm(sdb, 2) == ["raised"]


def test_a_settled_sale_leaves_a_compartment_no_longer_reserved_alone(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.sale_settled(s, 2, "sale-1", "released"))
    assert compartment(sdb, 2) == ("loaded", 1)


# -- volunteers ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("start", [Slot.EMPTY, Slot.LOADED, Slot.NEEDS_CHECK])
def test_a_volunteer_opens_an_idle_compartment(sdb: Database, start: Slot) -> None:
    _put(sdb, 2, start)
    sdb.run_sync(lambda s: owner.open_for_volunteer(s, 2, "volunteer:4", "clean"))
    assert _status(sdb, 2) is Slot.RESTOCKING
    assert _audits(sdb)[-1] == ("compartment.restocking", "volunteer:4", "clean", None, {"from": start.value})


@pytest.mark.parametrize("start", [Slot.RESERVED, Slot.HOLDING, Slot.ASSIGNED, Slot.OUT_OF_SERVICE])
def test_a_volunteer_cannot_open_a_busy_compartment(sdb: Database, start: Slot) -> None:
    _put(sdb, 2, start)
    with pytest.raises(CompartmentError):
        sdb.run_sync(lambda s: owner.open_for_volunteer(s, 2, "volunteer:4", "clean"))


def test_recorded_contents_decide_loaded_or_empty_and_clear_the_check(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.needs_check(s, 2, "door forced"))
    assert _alarm(sdb, 2) == ["raised"]
    sdb.run_sync(lambda s: owner.open_for_volunteer(s, 2, "volunteer:4", "check"))
    assert sdb.run_sync(lambda s: owner.contents_recorded(s, 2, "volunteer:4", reference="task-1")) is Slot.LOADED
    assert _status(sdb, 2) is Slot.LOADED and _alarm(sdb, 2) == ["cleared"]
    assert _audits(sdb)[-1][:4] == ("compartment.loaded", "volunteer:4", None, "task-1")
    sdb.run_sync(lambda s: owner.clear_contents(s, 2))
    assert sdb.run_sync(lambda s: owner.contents_recorded(s, 2, "volunteer:4")) is Slot.EMPTY
    audits = len(_audits(sdb))
    assert sdb.run_sync(lambda s: owner.contents_recorded(s, 2, "volunteer:4")) is Slot.EMPTY  # already: no arrow
    assert len(_audits(sdb)) == audits


def test_goods_recorded_in_an_empty_compartment_load_it(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.goods_removed(s, 2, "volunteer:4", "discard"))
    assert compartment(sdb, 2) == ("empty", 0)
    sdb.run_sync(lambda s: load_compartment(s, 2, BREAD, 3, actor="volunteer:4"))
    assert sdb.run_sync(lambda s: owner.contents_recorded(s, 2, "volunteer:4")) is Slot.LOADED
    assert compartment(sdb, 2) == ("loaded", 3)


def test_goods_removed_empties_a_loaded_compartment_and_only_clears_the_rest(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.goods_removed(s, 1, "system", "cold_chain"))
    assert compartment(sdb, 1) == ("empty", 0)
    assert _audits(sdb)[-1][:3] == ("compartment.empty", "system", "cold_chain")
    _put(sdb, 2, Slot.NEEDS_CHECK)
    sdb.run_sync(lambda s: owner.goods_removed(s, 2, "system", "cold_chain"))
    assert compartment(sdb, 2) == ("needs_check", 0)


def test_needs_check_is_raised_once_and_not_over_out_of_service(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.needs_check(s, 2, "door forced", actor="system", reference="door-7"))
    sdb.run_sync(lambda s: owner.needs_check(s, 2, "again"))
    (kind, payload), = _events(sdb)
    assert kind == "compartment.needs_check"
    assert (payload["why"], payload["reference"], payload["from"]) == ("door forced", "door-7", "loaded")
    _put(sdb, 1, Slot.OUT_OF_SERVICE)
    sdb.run_sync(lambda s: owner.needs_check(s, 1, "door forced"))
    assert _status(sdb, 1) is Slot.OUT_OF_SERVICE


# -- recovery ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "recover", "target", "other"), [
    (Slot.RESERVED, owner.recover_reserved, Slot.LOADED, Slot.EMPTY),
    (Slot.RESTOCKING, owner.recover_restocking, Slot.NEEDS_CHECK, Slot.LOADED),
    (Slot.COLLECTING, owner.recover_collecting, Slot.NEEDS_CHECK, Slot.LOADED),
])
def test_recovery_moves_only_from_its_own_status(sdb: Database, start: Slot, recover: Any, target: Slot,
                                                 other: Slot) -> None:
    _put(sdb, 2, other)  # the table has an arrow from here to the target: only `expect` refuses it
    with pytest.raises(CompartmentError):
        sdb.run_sync(lambda s: recover(s, 2))
    assert _status(sdb, 2) is other
    _put(sdb, 2, start)
    sdb.run_sync(lambda s: recover(s, 2))
    assert _status(sdb, 2) is target
    whys = {Slot.RESTOCKING: "restart between opening for a volunteer and recording the contents",
            Slot.COLLECTING: "restart during a pick-up that no flow holds any more"}
    if target is Slot.NEEDS_CHECK:
        assert _events(sdb)[-1][1]["why"] == whys[start] and _alarm(sdb, 2) == ["raised"]


# -- holds ------------------------------------------------------------------------------------------------
def test_holds_are_summarised_and_told_once_each(sdb: Database) -> None:
    assert sdb.run_sync(lambda s: owner.hold(s, 2, "operator", actor="operator:x", reference="T-1")) is True
    assert sdb.run_sync(lambda s: owner.hold(s, 2, "operator", actor="operator:x")) is False
    assert sdb.run_sync(lambda s: owner.hold(s, 2, "cold_chain", actor="system", reason="7.5 °C")) is True
    assert sdb.run_sync(lambda s: owner.blocked_reason(s, 2)) == "cold_chain:7.5 °C; operator:T-1"
    assert sorted(h.kind for h in sdb.run_sync(lambda s: owner.holds(s, 2))) == ["cold_chain", "operator"]
    first, second = _events(sdb)
    first[1].pop("audit_id")
    assert first == ("compartment.blocked", {"compartment": 2, "kind": "operator", "reason": None,
                                             "reference": "T-1", "actor": "operator:x", "status": "loaded",
                                             "blocked_reason": "operator:T-1"})
    assert second[1]["blocked_reason"] == "cold_chain:7.5 °C; operator:T-1" and second[1]["reason"] == "7.5 °C"
    audit = sdb.run_sync(lambda s: s.get_one(AuditEntry, second[1]["audit_id"]))
    assert (audit.action, audit.actor, audit.reason, audit.reference) == (
        "compartment.blocked", "system", "cold_chain", None)
    assert audit.details == {k: v for k, v in second[1].items() if k != "audit_id"}
    first_id = _events(sdb)[0][1]["audit_id"]
    first_audit = sdb.run_sync(lambda s: s.get_one(AuditEntry, first_id))
    assert (first_audit.actor, first_audit.reference) == ("operator:x", "T-1")
    assert "audit" not in sdb.run_sync(lambda s: [e.type for e in s.scalars(select(OutboxEvent))])
    assert sdb.run_sync(lambda s: owner.release_hold(s, 2, "operator", actor="operator:y", reference="T-2")) is True
    assert sdb.run_sync(lambda s: owner.release_hold(s, 2, "operator", actor="operator:y")) is False
    assert sdb.run_sync(lambda s: owner.blocked_reason(s, 2)) == "cold_chain:7.5 °C"
    kind, payload = _events(sdb)[-1]
    assert (kind, payload["actor"], payload["reference"], payload["reason"]) == (
        "compartment.unblocked", "operator:y", "T-2", None)
    audit = sdb.run_sync(lambda s: s.get_one(AuditEntry, payload["audit_id"]))
    assert (audit.action, audit.subject, audit.reason) == ("compartment.unblocked", "compartment:2", "operator")
    sdb.run_sync(lambda s: owner.release_hold(s, 2, "cold_chain", actor="system"))
    assert sdb.run_sync(lambda s: owner.blocked_reason(s, 2)) is None
    assert _events(sdb)[-1][1]["blocked_reason"] is None


def test_holds_are_per_compartment(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.hold(s, 2, "operator", actor="operator:x"))
    assert sdb.run_sync(lambda s: owner.hold(s, 1, "operator", actor="operator:x")) is True
    assert sdb.run_sync(lambda s: owner.release_hold(s, 18, "operator", actor="operator:x")) is False
    assert sdb.run_sync(lambda s: owner.blocked_reason(s, 2)) == "operator:"
    holds = sdb.run_sync(lambda s: [(h.compartment_id, h.actor) for h in s.scalars(select(CompartmentHold))])
    assert holds == [(2, "operator:x"), (1, "operator:x")]


# -- service and configuration ----------------------------------------------------------------------------
def test_out_of_and_back_in_service_move_once(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.back_in_service(s, 2))  # in service: nothing to do
    assert _status(sdb, 2) is Slot.LOADED
    sdb.run_sync(lambda s: owner.out_of_service(s, 2, "broken hinge", actor="operator:x"))
    sdb.run_sync(lambda s: owner.out_of_service(s, 2, "again"))
    assert [k for k, _ in _events(sdb)] == ["compartment.out_of_service"]
    assert _events(sdb)[0][1]["why"] == "broken hinge" and _events(sdb)[0][1]["actor"] == "operator:x"
    sdb.run_sync(lambda s: owner.back_in_service(s, 2, actor="operator:x"))
    assert _status(sdb, 2) is Slot.NEEDS_CHECK and _alarm(sdb, 2) == ["raised"]
    assert _events(sdb)[-1][1]["why"] == "back in service"


def _configured(db: Database) -> dict[int, tuple[str, int, int, str, str | None, str]]:
    return db.run_sync(lambda s: {c.id: (c.bus, c.board, c.lock, c.size, c.zone, c.status)
                                  for c in s.scalars(select(Compartment).order_by(Compartment.id))})


def test_configuration_adds_changes_and_retires_compartments(sdb: Database) -> None:
    before, audits = _configured(sdb), len(_audits(sdb))
    unchanged = [CompartmentConfig(id=c, bus=v[0], board=v[1], lock=v[2], size=v[3], zone=v[4])
                 for c, v in before.items() if c not in (2, 18)]
    config = [*unchanged,
              CompartmentConfig(id=2, bus="wall", board=0, lock=5, size="L", zone="chilled"),  # moved
              CompartmentConfig(id=30, bus="side", board=2, lock=7, size="S", zone="frozen")]  # new; 18 left out
    sdb.run_sync(lambda s: owner.sync_configured(s, config))
    after = _configured(sdb)
    assert after[1] == before[1] and after[17] == before[17]
    assert after[2] == ("wall", 0, 5, "L", "chilled", "loaded")
    assert after[30] == ("side", 2, 7, "S", "frozen", "empty")
    assert after[18][5] == "out_of_service"
    assert sdb.run_sync(lambda s: owner.blocked_reason(s, 18)) == "not_configured:nicht konfiguriert"
    assert [a[:2] for a in _audits(sdb)[audits:] if a[4].get("why") == "configured"] == [
        ("compartment.empty", "system")]
    stamps = sdb.run_sync(lambda s: {c.id: c.updated_at for c in s.scalars(select(Compartment))})
    sdb.run_sync(lambda s: owner.sync_configured(s, config))  # again: nothing new, nothing written
    assert _configured(sdb) == after
    assert sdb.run_sync(lambda s: {c.id: c.updated_at for c in s.scalars(select(Compartment))}) == stamps
    blocked = [p for k, p in _events(sdb) if k == "compartment.blocked"]
    assert [(p["compartment"], p["actor"], p["kind"]) for p in blocked] == [(18, "system", "not_configured")]
    sdb.run_sync(lambda s: owner.sync_configured(s, [*config, CompartmentConfig(id=18, bus="wall", board=1, lock=2)]))
    assert _configured(sdb)[18][5] == "needs_check"  # back: contents unknown until checked
    unblocked = [p for k, p in _events(sdb) if k == "compartment.unblocked"]
    assert [(p["compartment"], p["actor"]) for p in unblocked] == [(18, "system")]
    assert sdb.run_sync(lambda s: owner.blocked_reason(s, 18)) is None


def test_an_operator_hold_keeps_a_reconfigured_compartment_in_service_state(sdb: Database) -> None:
    before = {c: v[5] for c, v in _configured(sdb).items()}
    config = [CompartmentConfig(id=c, bus="wall", board=c // 17, lock=1 + (c - 1) % 16) for c in before]
    sdb.run_sync(lambda s: owner.sync_configured(s, config))
    assert {c: v[5] for c, v in _configured(sdb).items()} == before
    assert {before[c] for c in (1, 2, 17, 18)} == {"loaded"}


def test_recorded_contents_never_empty_a_compartment_holding_an_order(sdb: Database) -> None:
    _put(sdb, 18, Slot.HOLDING)  # holding -> empty is an arrow (order returned), not a recording
    sdb.run_sync(lambda s: owner.clear_contents(s, 18))
    with pytest.raises(CompartmentError):
        sdb.run_sync(lambda s: owner.contents_recorded(s, 18, "volunteer:4"))
    assert _status(sdb, 18) is Slot.HOLDING


def test_a_content_row_with_nothing_left_counts_as_empty(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.open_for_volunteer(s, 2, "volunteer:4", "restock"))
    sdb.run_sync(lambda s: s.execute(update(CompartmentContent).where(CompartmentContent.compartment_id == 2)
                                     .values(quantity=0)))
    assert sdb.run_sync(lambda s: owner.contents_recorded(s, 2, "volunteer:4")) is Slot.EMPTY
    sdb.run_sync(lambda s: owner.open_for_volunteer(s, 2, "volunteer:4", "restock"))
    sdb.run_sync(lambda s: s.execute(update(CompartmentContent).where(CompartmentContent.compartment_id == 2)
                                     .values(quantity=1)))
    assert sdb.run_sync(lambda s: owner.contents_recorded(s, 2, "volunteer:4")) is Slot.LOADED


def test_a_hold_stamps_the_compartment_and_sends_only_its_own_event(sdb: Database) -> None:
    before = sdb.run_sync(lambda s: s.get_one(Compartment, 2).updated_at)
    sdb.run_sync(lambda s: owner.hold(s, 2, "operator", actor="operator:x"))
    assert sdb.run_sync(lambda s: s.get_one(Compartment, 2).updated_at) > before
    kinds = sdb.run_sync(lambda s: [(e.type, e.priority) for e in s.scalars(select(OutboxEvent))])
    assert kinds[-1:] == [("compartment.blocked", 2)] and ("audit", 2) not in kinds[-2:]


def test_defaults_name_the_system_as_actor(sdb: Database) -> None:
    sdb.run_sync(lambda s: owner.needs_check(s, 2, "door forced"))
    sdb.run_sync(lambda s: owner.out_of_service(s, 1, "broken"))
    sdb.run_sync(lambda s: owner.back_in_service(s, 1))
    actors = [p["actor"] for _, p in _events(sdb)]
    assert actors == ["system", "system", "system"]
    sdb.run_sync(lambda s: owner.goods_removed(s, 18, "volunteer:2", "expired"))
    assert _audits(sdb)[-1][:3] == ("compartment.empty", "volunteer:2", "expired")


def test_a_compartment_left_out_of_the_configuration_says_why(sdb: Database) -> None:
    config = [CompartmentConfig(id=c, bus="wall", board=c // 17, lock=1 + (c - 1) % 16) for c in (1, 2, 17)]
    before = sdb.run_sync(lambda s: s.get_one(Compartment, 17).updated_at)
    sdb.run_sync(lambda s: owner.sync_configured(s, [*config[:2], CompartmentConfig(id=17, bus="side", board=1,
                                                                                    lock=1)]))
    assert _configured(sdb)[17][0] == "side"
    assert sdb.run_sync(lambda s: s.get_one(Compartment, 17).updated_at) > before
    sdb.run_sync(lambda s: owner.sync_configured(s, [*config[:2], CompartmentConfig(id=17, bus="side", board=0,
                                                                                    lock=1)]))
    assert _configured(sdb)[17][1] == 0
    _, payload = [e for e in _events(sdb) if e[0] == "compartment.out_of_service"][-1]
    assert (payload["compartment"], payload["why"]) == (18, "not configured")
