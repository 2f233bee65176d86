"""The restock flow on a real database without a lock bus: the intent moves the compartment to
restocking in the same transaction, the door's outcome and the recorded contents decide where the
compartment ends, and an unfinished restock always leaves it to be checked.

The restock flow's own tests for mutation testing (mutation.toml); tests/volunteers drive it end to end.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert, select

from station.compartments import owner
from station.compartments.flow import Slot
from station.db.engine import Database
from station.db.models import AuditEntry, OutboxEvent, Volunteer
from station.db.staff_models import RestockSession, VolunteerSession
from station.db.types import utcnow
from station.restock import flow as rf
from station.restock.flow import RestockState
from tests.purchase.saledb import compartment
from tests.sync.schema_check import errors, rule_for

R = RestockState
NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)


def _person(db: Database) -> int:
    return db.run_sync(lambda s: s.execute(insert(Volunteer).values(
        name="Anna", role="volunteer", active=True, created_at=utcnow(), created_by="test")
        .returning(Volunteer.id)).scalar_one())


def _events(db: Database) -> list[tuple[str, dict[str, Any]]]:
    rows = db.run_sync(lambda s: [(e.type, e.payload) for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))])
    for kind, payload in rows:
        rule = rule_for(kind)
        assert rule is not None and errors(payload, rule.payload_schema) == [], (kind, payload)
    mine = [(k, p) for k, p in rows if k.startswith("restock.")]
    assert all(p["reference"] == f"restock:{p['restock_id']}" for _, p in mine)
    return mine


def _compartment_audits(db: Database) -> list[tuple[str, str, str | None, str | None]]:
    return db.run_sync(lambda s: [(a.action, a.actor, a.reason, a.reference) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.subject == "compartment:2").order_by(AuditEntry.id))])


def _login(db: Database, person: int) -> int:
    now = utcnow()
    return db.run_sync(lambda s: s.execute(insert(VolunteerSession).values(
        volunteer_id=person, token_hash=uuid.uuid4().hex, state="active", role="volunteer", method="pin",
        keypad="kiosk", started_at=now, last_seen_at=now, updated_at=now).returning(VolunteerSession.id)).scalar_one())


def _start(db: Database, comp: int = 2, purpose: str = "restock") -> tuple[int, int]:
    person = _person(db)
    session_id = _login(db, person)
    restock_id = db.run_sync(lambda s: rf.create(s, comp, account_id=person, session_id=session_id,
                                                 actor=f"volunteer:{person}", purpose=purpose))
    return person, restock_id


def _row(db: Database, restock_id: int) -> RestockSession:
    return db.run_sync(lambda s: s.get_one(RestockSession, restock_id))


def test_the_intent_opens_the_compartment_for_the_volunteer(sdb: Database) -> None:
    person, restock_id = _start(sdb, purpose="clean")
    row = _row(sdb, restock_id)
    assert (row.compartment_id, row.volunteer_id, row.session_id, row.actor, row.purpose, row.state,
            row.previous_status) == (2, person, row.session_id, f"volunteer:{person}", "clean", "requested", "loaded")
    assert row.session_id is not None
    assert compartment(sdb, 2) == ("restocking", 1)
    (kind, payload), = _events(sdb)
    assert kind == "restock.requested"
    assert (payload["restock_id"], payload["compartment"], payload["purpose"], payload["account_id"],
            payload["previous_status"], payload["reference"], payload["actor"], payload["from"]) == (
        restock_id, 2, "clean", person, "loaded", f"restock:{restock_id}", f"volunteer:{person}", None)
    assert sdb.run_sync(rf.restocked_compartments) == {2}
    assert _compartment_audits(sdb)[-1] == ("compartment.restocking", f"volunteer:{person}", "clean", None)
    requested = sdb.run_sync(lambda s: s.get_one(AuditEntry, payload["audit_id"]))
    assert (requested.action, requested.reason) == ("restock.requested", "clean")


def test_opened_then_closed_records_the_contents(sdb: Database) -> None:
    person, restock_id = _start(sdb)
    sdb.run_sync(lambda s: rf.opened(s, restock_id, 41))
    assert _row(sdb, restock_id).door_operation_id == 41 and _row(sdb, restock_id).state == "opened"
    login = _row(sdb, restock_id).session_id
    assert sdb.run_sync(lambda s: rf.open_for_session(s, login)) == [restock_id]
    assert sdb.run_sync(lambda s: rf.open_for_session(s, login + 1)) == []
    assert sdb.run_sync(lambda s: rf.closed(s, restock_id, NOW)) == "loaded"
    row = _row(sdb, restock_id)
    assert row.state == "closed" and row.closed_at is not None
    assert sdb.run_sync(lambda s: rf.open_for_session(s, login)) == []
    assert sdb.run_sync(rf.restocked_compartments) == set()
    opened, closed = [p for k, p in _events(sdb)][1:]
    assert (opened["door_operation_id"], opened["actor"], opened["reference"]) == (
        41, f"volunteer:{person}", f"restock:{restock_id}")
    assert (closed["status"], closed["from"], closed["actor"]) == ("loaded", "opened", f"volunteer:{person}")
    assert _compartment_audits(sdb)[-1] == ("compartment.loaded", f"volunteer:{person}", None,
                                            f"restock:{restock_id}")


def test_closing_an_emptied_compartment_leaves_it_empty(sdb: Database) -> None:
    _, restock_id = _start(sdb)
    sdb.run_sync(lambda s: (rf.opened(s, restock_id, 1), owner.clear_contents(s, 2)))
    assert sdb.run_sync(lambda s: rf.closed(s, restock_id, NOW)) == "empty"
    assert compartment(sdb, 2) == ("empty", 0)


def test_closing_needs_an_opened_restock(sdb: Database) -> None:
    _, restock_id = _start(sdb)
    with pytest.raises(Exception):  # noqa: B017  (the engine's InvalidTransition or the owner's refusal)
        sdb.run_sync(lambda s: rf.closed(s, restock_id, NOW))


@pytest.mark.parametrize(("maybe_opened", "previous", "status", "why"), [
    (False, Slot.LOADED, "loaded", None),
    (False, Slot.EMPTY, "empty", None),
    (True, Slot.LOADED, "needs_check", "door pulsed for restocking, opening not seen"),
    (False, Slot.NEEDS_CHECK, "needs_check", "still to be checked"),
])
def test_a_door_that_did_not_open_returns_the_compartment_or_asks_for_a_check(
        sdb: Database, maybe_opened: bool, previous: Slot, status: str, why: str | None) -> None:
    if previous is Slot.EMPTY:
        sdb.run_sync(lambda s: owner.goods_removed(s, 2, "system", "test"))
    if previous is Slot.NEEDS_CHECK:
        sdb.run_sync(lambda s: owner.needs_check(s, 2, "before"))
    person, restock_id = _start(sdb)
    sdb.run_sync(lambda s: rf.failed(s, restock_id, maybe_opened=maybe_opened, detail="jammed"))
    assert _row(sdb, restock_id).state == "failed" and compartment(sdb, 2)[0] == status
    kind, payload = _events(sdb)[-1]
    assert (kind, payload["why"], payload["actor"]) == ("restock.failed", "jammed", f"volunteer:{person}")
    checks = sdb.run_sync(lambda s: [e.payload for e in s.scalars(
        select(OutboxEvent).where(OutboxEvent.type == "compartment.needs_check").order_by(OutboxEvent.id))])
    if why is not None:
        assert (checks[-1]["why"], checks[-1]["reference"], checks[-1]["actor"]) == (
            why, f"restock:{restock_id}", f"volunteer:{person}")
    else:
        assert _compartment_audits(sdb)[-1] == (f"compartment.{status}", f"volunteer:{person}", None,
                                                f"restock:{restock_id}")


@pytest.mark.parametrize(("target", "opened"), [(R.INTERRUPTED, True), (R.INTERRUPTED, False), (R.ABANDONED, True)])
def test_an_unfinished_restock_leaves_the_compartment_to_be_checked(sdb: Database, target: RestockState,
                                                                    opened: bool) -> None:
    _, restock_id = _start(sdb)
    if opened:
        sdb.run_sync(lambda s: rf.opened(s, restock_id, 1))
    sdb.run_sync(lambda s: rf.unfinished_end(s, restock_id, target, "session ended"))
    assert _row(sdb, restock_id).state == target.value
    assert compartment(sdb, 2)[0] == "needs_check"
    kind, payload = _events(sdb)[-1]
    assert (kind, payload["why"], payload["actor"]) == (f"restock.{target}", "session ended", "system")
    check = sdb.run_sync(lambda s: s.scalars(select(OutboxEvent).where(
        OutboxEvent.type == "compartment.needs_check")).one().payload)
    if target is R.INTERRUPTED:
        assert "restart" in check["why"]
    else:
        assert (check["why"], check["reference"]) == ("session ended", f"restock:{restock_id}")


def test_an_unfinished_restock_leaves_a_compartment_another_flow_moved_alone(sdb: Database) -> None:
    _, restock_id = _start(sdb)
    sdb.run_sync(lambda s: owner.contents_recorded(s, 2, "volunteer:9"))
    sdb.run_sync(lambda s: rf.unfinished_end(s, restock_id, R.INTERRUPTED, "restart"))
    assert compartment(sdb, 2)[0] == "loaded"
