"""The flow engine itself, on a real migrated database: what a flow declaration refuses, what one arrow
writes (state, stamp, audit row, event, alarm) and what it does not, creation, reading, recovery.

A small test flow over its own table ("widgets") keeps the engine apart from any real flow; the sale
table is used where the engine works with an ORM model (a loaded instance follows the arrow).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, text
from sqlalchemy.orm import Session

from station.db import migrate
from station.db.engine import Database
from station.db.models import Alarm, AuditEntry, OutboxEvent, Priority, Sale
from station.db.types import utcnow
from station.flows.engine import Arrow, Flow, InvalidTransition, check_recovery, created, recover, transition
from station.journal import raise_alarm
from station.purchase.flow import SALE, SaleState
from tests.helpers.dbcopy import open_copy


class W(enum.StrEnum):
    NEW = "new"
    BUSY = "busy"
    WAITING = "waiting"
    DONE = "done"
    LOST = "lost"


_META = MetaData()
WIDGETS = Table("widgets", _META, Column("id", Integer, primary_key=True), Column("state", String),
                Column("updated_at", String), Column("note", String))
PLAIN = Table("plain_widgets", _META, Column("key", String, primary_key=True), Column("phase", String))
ARROWS = [
    Arrow(None, W.NEW, "made"),
    Arrow(W.NEW, W.BUSY, "started", event="widget.busy"),
    Arrow(W.BUSY, W.WAITING, "parked", audit=False),
    Arrow(W.WAITING, W.BUSY, "picked up", event="widget.busy", clears="widget.stuck"),
    Arrow(W.BUSY, W.DONE, "finished", event="widget.done", priority=Priority.MONEY),
    Arrow(W.BUSY, W.LOST, "lost", event="widget.lost", alarm="widget.lost", severity="critical"),
    Arrow(W.NEW, W.LOST, "lost early", alarm="widget.lost"),
]
RECOVERY = {W.NEW: "dropped", W.BUSY: "finished"}


def _flow(**changes: Any) -> Flow[W]:
    values: dict[str, Any] = dict(name="widget", table=WIDGETS, states=W, arrows=ARROWS,
                                  final=frozenset({W.DONE, W.LOST}), resting=frozenset({W.WAITING}),
                                  recovery=RECOVERY)
    return Flow(**{**values, **changes})


FLOW = _flow()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("engine") / "template.db"
    migrate.upgrade(path)
    database = Database(path)
    database.open_sync()
    database.run_sync(lambda s: (
        s.execute(text("CREATE TABLE widgets (id INTEGER PRIMARY KEY, state TEXT, updated_at TEXT, note TEXT)")),
        s.execute(text("CREATE INDEX ix_widgets_state ON widgets (state)")),  # rows found by state, not by key
        s.execute(text("CREATE TABLE plain_widgets (key TEXT PRIMARY KEY, phase TEXT)"))))
    database.close_sync()
    return path


@pytest.fixture
def edb(template: Path, tmp_path: Path) -> Iterator[Database]:
    yield from open_copy(template, tmp_path)


def _widget(db: Database, state: W = W.NEW, flow: Flow[W] = FLOW, **details: Any) -> int:
    """A widget made in `new` (its creation arrow), then put straight into `state` (no arrow, no audit)."""

    def make(session: Session) -> int:
        key = flow.insert(session, {"state": W.NEW, "updated_at": "2000-01-01T00:00:00Z"})
        created(session, flow, key, actor="volunteer:3", reason="test", reference="ref-1", **details)
        session.execute(text("UPDATE widgets SET state = :s WHERE id = :k"), {"s": state.value, "k": key})
        return key

    return db.run_sync(make)


def _events(db: Database) -> list[tuple[str, int, dict[str, Any]]]:
    return db.run_sync(lambda s: [(e.type, e.priority, e.payload)
                                  for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))])


def _audits(db: Database) -> list[tuple[str, str, str, str | None, str | None, dict[str, Any]]]:
    return db.run_sync(lambda s: [(a.action, a.subject, a.actor, a.reason, a.reference, a.details)
                                  for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))])


def _alarms(db: Database) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    return db.run_sync(lambda s: [(a.kind, a.subject, a.severity, a.state, a.details)
                                  for a in s.scalars(select(Alarm).order_by(Alarm.id))])


def _row(db: Database, key: int) -> tuple[str, str]:
    return db.run_sync(lambda s: tuple(s.execute(text("SELECT state, updated_at FROM widgets WHERE id = :k"),
                                                 {"k": key}).one()))


# -- declaring a flow ---------------------------------------------------------------------------------
def test_a_sound_declaration_is_accepted_and_answers_questions_about_its_table() -> None:
    assert FLOW.unfinished_states() == [W.NEW, W.BUSY]
    assert [FLOW.needs_recovery(s) for s in W] == [True, True, False, False, False]
    assert FLOW.allows(W.NEW, W.BUSY) and FLOW.allows(None, W.NEW)
    assert not FLOW.allows(W.BUSY, W.NEW) and not FLOW.allows(None, W.BUSY)
    assert FLOW.arrow(W.BUSY, W.LOST).severity == "critical"
    assert FLOW.subject(12) == "widget:12"
    assert FLOW.stamp == "updated_at" and _flow(table=PLAIN, key="key", state="phase").stamp is None
    with pytest.raises(InvalidTransition, match=r"^widget: no arrow from creation to busy$"):
        FLOW.arrow(None, W.BUSY)
    with pytest.raises(InvalidTransition, match=r"^widget: no arrow from done to new$"):
        FLOW.arrow(W.DONE, W.NEW)


@pytest.mark.parametrize(("changes", "problem"), [
    ({"arrows": [*ARROWS, Arrow(W.NEW, W.BUSY, "again")]}, "arrow (<W.NEW: 'new'>, <W.BUSY: 'busy'>) declared twice"),
    ({"arrows": ARROWS[:2] + ARROWS[4:]}, "state waiting has no arrow into it"),
    ({"recovery": {W.NEW: "dropped"}}, "non-final state busy has no recovery action"),
    ({"recovery": {**RECOVERY, W.DONE: "x"}}, "done is final or resting but has a recovery action"),
    ({"recovery": {**RECOVERY, W.WAITING: "x"}}, "waiting is final or resting but has a recovery action"),
    ({"resting": frozenset({W.WAITING, W.DONE})}, "a state cannot be both final and resting"),
])
def test_a_declaration_with_a_gap_is_refused_with_the_reason(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError) as info:
        _flow(**changes)
    assert str(info.value) == f"flow widget: {problem}"


def test_every_problem_of_a_declaration_is_named_at_once() -> None:
    with pytest.raises(ValueError) as info:
        _flow(recovery={W.NEW: "dropped", W.DONE: "x"})
    assert str(info.value) == ("flow widget: non-final state busy has no recovery action; "
                               "done is final or resting but has a recovery action")


# -- inserting and reading ----------------------------------------------------------------------------
def test_insert_stores_values_as_their_columns_store_them(edb: Database) -> None:
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    keys = edb.run_sync(lambda s: [FLOW.insert(s, {"state": W.NEW, "updated_at": when, "note": {"a": [1]}}),
                                   FLOW.insert(s, {"state": "busy", "updated_at": date(2026, 3, 2), "note": [1, 2]}),
                                   FLOW.insert(s, {"state": W.DONE, "note": None})])
    assert keys[1] == keys[0] + 1 and keys[2] == keys[0] + 2
    rows = edb.run_sync(lambda s: [tuple(r) for r in s.execute(text("SELECT state, updated_at, note FROM widgets"))])
    assert rows == [("new", "2026-03-01T12:30:00.000000+00:00", '{"a": [1]}'), ("busy", "2026-03-02", "[1, 2]"),
                    ("done", None, None)]


def test_current_reads_the_transaction_including_pending_orm_changes(edb: Database) -> None:
    key = _widget(edb)
    assert edb.run_sync(lambda s: FLOW.current(s, key)) is W.NEW
    with pytest.raises(LookupError, match=r"^widget 999 does not exist$"):
        edb.run_sync(lambda s: FLOW.current(s, 999))
    sale_id, now = str(uuid.uuid4()), utcnow()

    def pending(session: Session) -> SaleState:
        session.add(Sale(id=sale_id, state="created", total_cents=1, booked_cents=0, created_at=now, updated_at=now))
        return SALE.current(session, sale_id)  # not flushed yet: current() flushes first

    assert edb.run_sync(pending) is SaleState.CREATED


def test_unfinished_lists_only_states_that_need_recovery_oldest_first(edb: Database) -> None:
    keys = [_widget(edb, state) for state in (W.BUSY, W.DONE, W.NEW, W.WAITING, W.LOST, W.BUSY)]
    assert edb.run_sync(FLOW.unfinished) == [(keys[0], W.BUSY), (keys[2], W.NEW), (keys[5], W.BUSY)]
    assert edb.run_sync(FLOW.count_by_state) == {"busy": 2, "done": 1, "new": 1, "waiting": 1, "lost": 1}


# -- one arrow ----------------------------------------------------------------------------------------
def test_creation_writes_its_audit_row_and_no_event(edb: Database) -> None:
    key = _widget(edb, note="first")
    assert _audits(edb) == [("widget.new", f"widget:{key}", "volunteer:3", "test", "ref-1",
                             {"from": None, "note": "first"})]
    assert _events(edb) == []


def test_an_arrow_moves_stamps_audits_and_sends_one_event(edb: Database) -> None:
    key = _widget(edb)
    before = utcnow()
    previous = edb.run_sync(lambda s: transition(s, FLOW, key, W.BUSY, actor="shopper", reason="go",
                                                 reference="ref-2", size=3))
    assert previous is W.NEW
    state, stamped = _row(edb, key)
    assert state == "busy" and stamped >= before.strftime("%Y-%m-%dT%H:%M:%S")
    audit = _audits(edb)[-1]
    assert audit == ("widget.busy", f"widget:{key}", "shopper", "go", "ref-2", {"from": "new", "size": 3})
    audit_id = edb.run_sync(lambda s: s.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())))
    assert _events(edb) == [("widget.busy", Priority.STOCK, {"id": key, "state": "busy", "from": "new",
                                                             "actor": "shopper", "reference": "ref-2",
                                                             "audit_id": audit_id})]


def test_an_arrow_without_audit_writes_only_the_state(edb: Database) -> None:
    key = _widget(edb, W.BUSY)
    audits = len(_audits(edb))
    edb.run_sync(lambda s: transition(s, FLOW, key, W.WAITING))
    assert _row(edb, key)[0] == "waiting" and len(_audits(edb)) == audits and _events(edb) == []


def test_the_event_of_an_arrow_without_audit_has_no_audit_id(edb: Database) -> None:
    arrows = [Arrow(None, W.NEW, "made"), Arrow(W.NEW, W.DONE, "quietly", event="widget.done", audit=False)]
    quiet = _flow(arrows=arrows, final=frozenset({W.DONE}), resting=frozenset(), recovery={W.NEW: "x"},
                  states=enum.StrEnum("Q", {"NEW": "new", "DONE": "done"}))
    key = edb.run_sync(lambda s: quiet.insert(s, {"state": "new"}))
    edb.run_sync(lambda s: transition(s, quiet, key, quiet.states("done")))
    assert _events(edb) == [("widget.done", Priority.STOCK, {"id": key, "state": "done", "from": "new",
                                                             "actor": "system", "reference": None})]


def test_a_payload_function_shapes_the_event_and_keeps_its_own_fields(edb: Database) -> None:
    def payload(session: Session, key: Any, details: dict[str, Any]) -> dict[str, Any]:
        note = session.execute(text("SELECT note FROM widgets WHERE id = :k"), {"k": key}).scalar_one()
        return {"widget": key, "state": "as the payload says", "reference": "own", "note": note, **details}

    flow = _flow(payload=payload)
    key = _widget(edb, W.BUSY, flow)
    edb.run_sync(lambda s: transition(s, flow, key, W.DONE, actor="operator:x", reference="ref-3", weight=2))
    (kind, priority, body), = _events(edb)
    assert (kind, priority) == ("widget.done", Priority.MONEY)
    body.pop("audit_id")
    assert body == {"widget": key, "state": "as the payload says", "reference": "own", "note": None, "weight": 2,
                    "from": "busy", "actor": "operator:x"}


def test_a_creation_event_has_no_source_and_a_payload_without_state_gets_the_arrow_target(edb: Database) -> None:
    arrows = [Arrow(None, W.NEW, "made", event="widget.new"), *ARROWS[1:]]
    flow = _flow(arrows=arrows, payload=lambda _s, key, details: {"widget": key, **details})
    key = edb.run_sync(lambda s: flow.insert(s, {"state": W.NEW}))
    edb.run_sync(lambda s: created(s, flow, key, color="red"))
    (kind, _, body), = _events(edb)
    body.pop("audit_id")
    assert (kind, body) == ("widget.new", {"widget": key, "color": "red", "state": "new", "from": None,
                                           "actor": "system", "reference": None})
    assert _audits(edb)[-1][2] == "system"


def test_a_table_without_a_stamp_column_is_moved_without_one(edb: Database) -> None:
    flow = _flow(table=PLAIN, key="key", state="phase")
    edb.run_sync(lambda s: flow.insert(s, {"key": "k1", "phase": "new"}))
    edb.run_sync(lambda s: transition(s, flow, "k1", W.BUSY))
    assert edb.run_sync(lambda s: flow.current(s, "k1")) is W.BUSY
    assert _events(edb)[0][2]["key"] == "k1"


def test_expect_refuses_a_row_in_another_state_and_writes_nothing(edb: Database) -> None:
    key = _widget(edb, W.BUSY)
    audits = len(_audits(edb))
    with pytest.raises(InvalidTransition, match=f"^widget {key} is busy, not new/waiting$"):
        edb.run_sync(lambda s: transition(s, FLOW, key, W.LOST, expect={W.WAITING, W.NEW}))
    assert edb.run_sync(lambda s: transition(s, FLOW, key, W.LOST, expect={W.BUSY})) is W.BUSY
    assert len(_audits(edb)) == audits + 1


def test_a_loaded_instance_follows_the_arrow(edb: Database) -> None:
    sale_id, now = str(uuid.uuid4()), utcnow()
    edb.run_sync(lambda s: s.add(Sale(id=sale_id, state="created", total_cents=1, booked_cents=0, created_at=now,
                                      updated_at=now)))

    def move(session: Session) -> tuple[str, str]:
        sale = session.get_one(Sale, sale_id)
        transition(session, SALE, sale_id, SaleState.PAYMENT_REQUESTED)
        return sale.state, session.get_one(Sale, sale_id).state

    assert edb.run_sync(move) == ("payment_requested", "payment_requested")


# -- alarms ---------------------------------------------------------------------------------------------
def test_an_arrow_raises_its_alarm_with_severity_and_details(edb: Database) -> None:
    key = _widget(edb, W.BUSY)
    edb.run_sync(lambda s: transition(s, FLOW, key, W.LOST, reference="ref-4", where="shelf"))
    assert _alarms(edb) == [("widget.lost", f"widget:{key}", "critical", "raised",
                             {"reference": "ref-4", "where": "shelf"})]
    other = _widget(edb)
    edb.run_sync(lambda s: transition(s, FLOW, other, W.LOST))
    assert _alarms(edb)[-1][:4] == ("widget.lost", f"widget:{other}", "warning", "raised")


def test_an_arrow_clears_its_alarm_on_the_alarm_subject(edb: Database) -> None:
    def shelf(session: Session, key: Any) -> str:
        state = session.execute(text("SELECT state FROM widgets WHERE id = :k"), {"k": key}).scalar_one()
        return f"shelf:{key % 10}" if state == "busy" else "elsewhere"

    flow = _flow(alarm_subject=shelf)
    key = _widget(edb, W.WAITING, flow)
    edb.run_sync(lambda s: (raise_alarm(s, "widget.stuck", f"shelf:{key % 10}"),
                            raise_alarm(s, "widget.stuck", f"widget:{key}")))
    edb.run_sync(lambda s: transition(s, flow, key, W.BUSY, actor="volunteer:9"))
    alarms = _alarms(edb)
    assert alarms[0] == ("widget.stuck", f"shelf:{key % 10}", "warning", "cleared", {"cleared": {"by": "volunteer:9"}})
    assert alarms[1][3] == "raised"  # the flow's own subject was not the alarm subject
    kinds = [kind for kind, _, _ in _events(edb)]
    assert kinds[-2:] == ["widget.busy", "alarm.cleared"] and kinds.count("alarm.cleared") == 1


def test_arrows_without_alarm_touch_no_alarm(edb: Database) -> None:
    key = _widget(edb)
    edb.run_sync(lambda s: raise_alarm(s, "widget.stuck", f"widget:{key}"))
    edb.run_sync(lambda s: (transition(s, FLOW, key, W.BUSY), transition(s, FLOW, key, W.DONE)))
    assert [a[3] for a in _alarms(edb)] == ["raised"]


# -- recovery -------------------------------------------------------------------------------------------
class _Handler:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    async def on_new(self, key: Any) -> None:
        self.calls.append(("new", key))

    async def on_busy(self, key: Any) -> None:
        self.calls.append(("busy", key))
        if key == 2:
            raise RuntimeError("the widget is stuck")


def test_check_recovery_names_the_missing_states() -> None:
    check_recovery(FLOW, _Handler())

    class Half:
        async def on_new(self, key: Any) -> None: ...

        on_busy = "not callable"

    with pytest.raises(TypeError, match=r"^Half has no recovery for widget states \['busy'\]$"):
        check_recovery(FLOW, Half())


async def test_recover_runs_each_row_and_returns_the_ones_that_failed() -> None:
    handler = _Handler()
    failed = await recover([(1, W.NEW), (2, W.BUSY), (3, W.BUSY)], FLOW, handler)
    assert handler.calls == [("new", 1), ("busy", 2), ("busy", 3)]
    assert failed == [(2, W.BUSY)]
    with pytest.raises(TypeError):
        await recover([], FLOW, object())
