"""The door flow's rules on a real database, without a lock bus: what each arrow writes (attempts, door
state, event against its schema, alarms), how a restart settles an unwatched pulse, and the door notices.

The lock wall's own tests (test_doors.py) drive these through a simulated bus; these are the door
flow's tests for mutation testing (mutation.toml).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from station.db import migrate
from station.db.engine import Database
from station.db.models import Alarm, AuditEntry, Compartment, DoorOperation, OutboxEvent
from station.db.types import utcnow
from station.flows.docs import render_flow
from station.lockwall import doors
from station.lockwall.doors import DoorState
from tests.conftest import REPO
from tests.core.fresh_import import fresh_module
from tests.helpers.dbcopy import open_copy
from tests.sync.schema_check import errors, rule_for

D = DoorState


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("doors") / "template.db"
    migrate.upgrade(path)
    database = Database(path)
    database.open_sync()
    now = utcnow()
    database.run_sync(lambda s: [s.execute(insert(Compartment).values(id=c, bus="wall", board=0, lock=c,
                                                                      status="loaded", updated_at=now))
                                 for c in (3, 4)])
    database.close_sync()
    return path


@pytest.fixture
def ddb(template: Path, tmp_path: Path) -> Iterator[Database]:
    yield from open_copy(template, tmp_path)


def _events(db: Database) -> list[tuple[str, dict[str, Any]]]:
    rows = db.run_sync(lambda s: [(e.type, e.payload) for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))])
    for kind, payload in rows:
        rule = rule_for(kind)
        assert rule is not None and errors(payload, rule.payload_schema) == [], (kind, payload)
    return rows


def _alarms(db: Database) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    return db.run_sync(lambda s: [(a.kind, a.subject, a.severity, a.state, a.details)
                                  for a in s.scalars(select(Alarm).order_by(Alarm.id))])


def _op(db: Database, op_id: int) -> tuple[str, int]:
    return db.run_sync(lambda s: (lambda o: (o.state, o.attempts))(s.get_one(DoorOperation, op_id)))


def _door_state(db: Database, comp: int) -> str | None:
    return db.run_sync(lambda s: s.get_one(Compartment, comp).door_state)


def _new(db: Database, comp: int = 3, reason: str = "sale", reference: str | None = "sale-1") -> int:
    return db.run_sync(lambda s: doors.create(s, comp, reason, reference, "shopper"))


def _move(db: Database, op_id: int, *states: DoorState, **details: Any) -> None:
    for state in states:
        db.run_sync(lambda s, state=state: doors.move(s, op_id, state, **details))


def test_the_intent_is_audited_before_any_pulse_and_sends_no_event(ddb: Database) -> None:
    op_id = _new(ddb, 4, "pickup", "order-9")
    assert _op(ddb, op_id) == ("requested", 0)
    audits = ddb.run_sync(lambda s: [(a.action, a.subject, a.actor, a.reason, a.reference, a.details)
                                     for a in s.scalars(select(AuditEntry))])
    assert audits == [("door.requested", f"door:{op_id}", "shopper", "pickup", "order-9",
                       {"from": None, "compartment": 4})]
    assert _events(ddb) == []


def test_each_pulse_counts_an_attempt_quietly(ddb: Database) -> None:
    op_id = _new(ddb)
    _move(ddb, op_id, D.PULSE_SENT)
    assert _op(ddb, op_id) == ("pulse_sent", 1)
    _move(ddb, op_id, D.NOT_DETECTED, D.PULSE_SENT)
    assert _op(ddb, op_id) == ("pulse_sent", 2)
    assert _events(ddb) == [] and ddb.run_sync(lambda s: len(list(s.scalars(select(AuditEntry))))) == 1


def test_opened_and_closed_follow_the_sensor_and_tell_the_platform(ddb: Database) -> None:
    op_id = _new(ddb)
    ddb.run_sync(lambda s: doors.left_open(s, 3, 61.6))
    _move(ddb, op_id, D.PULSE_SENT, D.OPENED)
    assert _door_state(ddb, 3) == "open"
    _move(ddb, op_id, D.CLOSED)
    assert _door_state(ddb, 3) == "closed" and _op(ddb, op_id) == ("closed", 1)
    (opened_kind, opened), (closed_kind, closed) = [(k, p) for k, p in _events(ddb) if k.startswith("door.")]
    assert (opened_kind, closed_kind) == ("door.opened", "door.closed")
    opened.pop("audit_id")
    assert opened == {"operation_id": op_id, "compartment": 3, "reason": "sale", "reference": "sale-1",
                      "attempts": 1, "state": "opened", "from": "pulse_sent", "actor": "system"}
    assert closed["from"] == "opened" and closed["state"] == "closed"
    left = _alarms(ddb)
    assert left == [("door.left_open", "compartment:3", "warning", "cleared",
                     {"open_for_s": 62, "cleared": {"by": "system"}})]


def test_a_second_pulse_not_seen_fails_with_an_alarm_on_the_compartment(ddb: Database) -> None:
    op_id = _new(ddb)
    _move(ddb, op_id, D.PULSE_SENT, D.NOT_DETECTED, D.PULSE_SENT, D.NOT_DETECTED, D.FAILED)
    assert _op(ddb, op_id) == ("failed", 2) and _door_state(ddb, 3) is None
    assert [a[:4] for a in _alarms(ddb)] == [("door.open_not_detected", "compartment:3", "warning", "raised")]
    assert [k for k, _ in _events(ddb)] == ["door.failed", "alarm.raised"]


def test_nothing_sent_fails_without_an_alarm(ddb: Database) -> None:
    op_id = _new(ddb)
    _move(ddb, op_id, D.FAILED, error="port down")
    assert _op(ddb, op_id) == ("failed", 0) and _alarms(ddb) == []
    assert _events(ddb)[0][1]["error"] == "port down"


@pytest.mark.parametrize(("is_open", "item_present", "target", "door_state"), [
    (True, None, D.OPENED, "open"),
    (True, True, D.OPENED, "open"),
    (False, None, D.MAYBE_OPENED, None),
    (False, True, D.UNTOUCHED, None),
    (False, False, D.CLOSED, "closed"),
])
@pytest.mark.parametrize("left_in", [D.REQUESTED, D.PULSE_SENT, D.NOT_DETECTED])
def test_a_restart_settles_an_unwatched_pulse_by_the_first_sensor_read(
        ddb: Database, left_in: DoorState, is_open: bool, item_present: bool | None, target: DoorState,
        door_state: str | None) -> None:
    op_id = _new(ddb)
    path = {D.REQUESTED: [], D.PULSE_SENT: [D.PULSE_SENT], D.NOT_DETECTED: [D.PULSE_SENT, D.NOT_DETECTED]}
    _move(ddb, op_id, *path[left_in])
    got = ddb.run_sync(lambda s: doors.settle_unseen(s, op_id, is_open=is_open, item_present=item_present))
    assert got is target and _op(ddb, op_id)[0] == target.value
    assert _door_state(ddb, 3) == door_state
    kind, payload = _events(ddb)[-1]
    assert kind == f"door.{target}" and payload["from"] == left_in.value
    assert (payload["settled_by"], payload["item_present"]) == ("restart", item_present)


def test_a_forced_door_is_a_critical_tamper_alarm(ddb: Database) -> None:
    ddb.run_sync(lambda s: doors.door_forced(s, 4))
    assert _door_state(ddb, 4) == "open"
    assert _alarms(ddb) == [("door.tamper", "compartment:4", "critical", "raised",
                             {"what": "door opened without an unlock command"})]
    ddb.run_sync(lambda s: doors.door_closed_without_operation(s, 4))
    assert _door_state(ddb, 4) == "closed" and _alarms(ddb)[0][3] == "raised"  # tamper stays for a person


def test_a_door_closed_without_operation_clears_its_left_open_alarm(ddb: Database) -> None:
    ddb.run_sync(lambda s: (doors.door_forced(s, 4), doors.left_open(s, 4, 300.4)))
    ddb.run_sync(lambda s: doors.door_closed_without_operation(s, 4))
    assert [(a[0], a[3]) for a in _alarms(ddb)] == [("door.tamper", "raised"), ("door.left_open", "cleared")]
    assert _alarms(ddb)[1][4]["open_for_s"] == 300


def test_a_door_open_at_boot_is_a_notice_not_an_alarm(ddb: Database) -> None:
    ddb.run_sync(lambda s: doors.door_open_at_boot(s, 3))
    assert _door_state(ddb, 3) == "open" and _alarms(ddb) == []
    notice = ddb.run_sync(lambda s: [(a.action, a.subject, a.details) for a in s.scalars(select(AuditEntry))])
    assert notice == [("door.open_at_boot", "compartment:3", {"what": "door found open at start-up"})]


def test_the_door_state_is_written_only_when_it_changes(ddb: Database) -> None:
    ddb.run_sync(lambda s: doors.set_door_state(s, 3, "open"))
    stamp = ddb.run_sync(lambda s: s.get_one(Compartment, 3).updated_at)
    ddb.run_sync(lambda s: doors.set_door_state(s, 3, "open"))
    assert ddb.run_sync(lambda s: s.get_one(Compartment, 3).updated_at) == stamp
    ddb.run_sync(lambda s: doors.set_door_state(s, 3, "closed"))
    assert ddb.run_sync(lambda s: s.get_one(Compartment, 3).updated_at) > stamp
    ddb.run_sync(lambda s: doors.set_door_state(s, 99, "open"))  # no such compartment: nothing to write


def test_unfinished_and_operations_for_a_reference(ddb: Database) -> None:
    first, second, third = _new(ddb, 3, "sale", "s1"), _new(ddb, 4, "sale", "s1"), _new(ddb, 3, "pickup", "s1")
    _move(ddb, first, D.PULSE_SENT, D.OPENED)
    _move(ddb, second, D.FAILED)
    assert ddb.run_sync(doors.unfinished) == [(first, 3, D.OPENED), (third, 3, D.REQUESTED)]
    assert ddb.run_sync(lambda s: doors.operations_for(s, "sale", "s1")) == [(first, 3, D.OPENED),
                                                                            (second, 4, D.FAILED)]
    assert ddb.run_sync(lambda s: doors.operations_for(s, "sale", "s2")) == []


def test_the_door_table_is_the_documented_one() -> None:
    fresh = fresh_module("station.lockwall.doors")
    assert render_flow(fresh.DOOR) in (REPO / "docs" / "architecture.md").read_text()
    assert {a.priority for a in fresh.DOOR.arrows} == {doors.DOOR.arrows[0].priority}
    assert {a.severity for a in fresh.DOOR.arrows} == {"warning"}
    assert [a.audit for a in fresh.DOOR.arrows] == [a.audit for a in doors.DOOR.arrows]
