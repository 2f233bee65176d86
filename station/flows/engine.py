"""The flow engine: one way to persist every flow that moves money, vouchers, goods or doors.

A flow declares its states, its arrow table (from, to, and what each arrow writes: audit entry,
outbox event, alarm), its final states, and a recovery action for every other state. `transition`
refuses any arrow not in the table and writes the new state, the audit entry, the event and the
alarm in the caller's transaction; the caller commits (`Database.write`) before the side effect
that follows. Recovery handlers are objects with one `on_<state>` coroutine per non-final state;
`check_recovery` refuses a handler that misses one, and `recover` runs them at start-up.

Resting states are not final but need no recovery: nothing is running while a flow rests there
(a loaded compartment, an order waiting in its compartment). They are listed separately so the
difference between "finished" and "waiting for a person" stays visible.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..db.engine import hot_cursor
from ..db.models import Priority
from ..db.types import to_db_time, utcnow
from ..journal import audit_raw, clear_alarm, raise_alarm
from ..outbox import record_event

log = logging.getLogger(__name__)

S = TypeVar("S", bound=enum.StrEnum)
Payload = Callable[[Session, Any, dict[str, Any]], dict[str, Any]]


class InvalidTransition(Exception):
    """An arrow the flow's table does not have (or a state the caller did not expect)."""


@dataclass(frozen=True)
class Arrow(Generic[S]):
    """One allowed change of state and what it writes besides the state.

    `source` None is the flow's creation. `event` is the outbox event type (None: audit entry only;
    the event, when there is one, carries the audit entry's id, so no separate audit event is sent).
    `alarm` is raised on arriving, `clears` cleared. `why` is one line for the documentation.
    """

    source: S | None
    target: S
    why: str
    event: str | None = None
    priority: Priority = Priority.STOCK
    alarm: str | None = None
    severity: str = "warning"
    clears: str | None = None
    audit: bool = True


@dataclass
class Flow(Generic[S]):
    """A persisted state machine over one table: `key` and `state` columns of `table`."""

    name: str
    table: Table
    states: type[S]
    arrows: list[Arrow[S]]
    final: frozenset[S]
    recovery: Mapping[S, str]  # non-final, non-resting state -> what start-up does with it (for the docs)
    payload: Payload | None = None  # event payload from (session, key, details); default: key + state
    resting: frozenset[S] = frozenset()
    key: str = "id"
    state: str = "state"
    stamp: str | None = "updated_at"  # column set to now on every arrow, if the table has it
    alarm_subject: Callable[[Session, Any], str] | None = None  # default: the flow's subject ("sale:<id>")
    model: type | None = None  # the ORM class of `table`: loaded instances follow each arrow
    _by_pair: dict[tuple[S | None, S], Arrow[S]] = field(default_factory=dict, repr=False)
    _sql_read: str = field(default="", repr=False)
    _sql_move: str = field(default="", repr=False)
    _sql_insert: dict[tuple[str, ...], str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        problems = []
        for arrow in self.arrows:
            pair = (arrow.source, arrow.target)
            if pair in self._by_pair:
                problems.append(f"arrow {pair} declared twice")
            self._by_pair[pair] = arrow
        targets = {a.target for a in self.arrows}
        for state in self.states:
            if state not in targets:
                problems.append(f"state {state} has no arrow into it")
            needs_recovery = state not in self.final and state not in self.resting
            if needs_recovery and state not in self.recovery:
                problems.append(f"non-final state {state} has no recovery action")
            if not needs_recovery and state in self.recovery:
                problems.append(f"{state} is final or resting but has a recovery action")
        if self.final & self.resting:
            problems.append("a state cannot be both final and resting")
        if self.stamp is not None and self.stamp not in self.table.c:
            self.stamp = None
        if problems:
            raise ValueError(f"flow {self.name}: " + "; ".join(problems))
        # The hottest path of the station (every step of every flow): plain SQL on the transaction's
        # own sqlite3 cursor, no statement building per call (bench/bench_outbox.py).
        table, key, column = self.table.name, self.key, self.state
        self._sql_read = f"SELECT {column} FROM {table} WHERE {key} = ?"
        stamp = f", {self.stamp} = ?" if self.stamp else ""
        self._sql_move = f"UPDATE {table} SET {column} = ?{stamp} WHERE {key} = ?"

    # -- the table -------------------------------------------------------------------------------
    def arrow(self, source: S | None, target: S) -> Arrow[S]:
        found = self._by_pair.get((source, target))
        if found is None:
            raise InvalidTransition(f"{self.name}: no arrow from {source or 'creation'} to {target}")
        return found

    def allows(self, source: S | None, target: S) -> bool:
        return (source, target) in self._by_pair

    def insert(self, session: Session, values: dict[str, Any]) -> int:
        """Insert one row of this flow's table (plain SQL, like every arrow); returns its rowid.

        Values are stored as the columns' types store them (times as ISO-8601 UTC text, dicts as JSON).
        """
        columns = tuple(values)
        sql = self._sql_insert.get(columns)
        if sql is None:
            sql = f"INSERT INTO {self.table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            self._sql_insert[columns] = sql
        cursor = hot_cursor(session)
        cursor.execute(sql, tuple(_stored(v) for v in values.values()))
        return int(cursor.lastrowid or 0)

    def needs_recovery(self, state: S) -> bool:
        return state not in self.final and state not in self.resting

    def unfinished_states(self) -> list[S]:
        return [s for s in self.states if self.needs_recovery(s)]

    def subject(self, key: Any) -> str:
        return f"{self.name}:{key}"

    # -- reading ---------------------------------------------------------------------------------
    def current(self, session: Session, key: Any) -> S:
        session.flush()  # pending ORM changes first: the raw cursor reads the same transaction
        row = hot_cursor(session).execute(self._sql_read, (key,)).fetchone()
        if row is None:
            raise LookupError(f"{self.name} {key} does not exist")
        return self.states(row[0])

    def unfinished(self, session: Session) -> list[tuple[Any, S]]:
        """Rows in a state that needs recovery, oldest first."""
        rows = session.execute(
            select(self.table.c[self.key], self.table.c[self.state])
            .where(self.table.c[self.state].in_([s.value for s in self.unfinished_states()]))
            .order_by(self.table.c[self.key])
        )
        return [(key, self.states(state)) for key, state in rows]

    def count_by_state(self, session: Session) -> dict[str, int]:
        rows = session.execute(
            select(self.table.c[self.state], func.count()).group_by(self.table.c[self.state])
        ).all()
        return {state: count for state, count in rows}


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_db_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


def transition(
    session: Session,
    flow: Flow[S],
    key: Any,
    target: S,
    *,
    actor: str = "system",
    expect: Collection[S] | None = None,
    reason: str | None = None,
    reference: str | None = None,
    **details: Any,
) -> S:
    """Move `key` to `target` in the caller's transaction; returns the state it left.

    Refuses (InvalidTransition) an arrow the table lacks, and any source not in `expect` when given
    (a caller racing another writer says which state it believes the row is in).
    """
    previous = flow.current(session, key)
    if expect is not None and previous not in expect:
        raise InvalidTransition(f"{flow.name} {key} is {previous}, not {'/'.join(sorted(expect))}")
    arrow = flow.arrow(previous, target)
    params: tuple[Any, ...] = (target.value, to_db_time(utcnow()), key) if flow.stamp else (target.value, key)
    hot_cursor(session).execute(flow._sql_move, params)
    if flow.model is not None:  # an instance this session already loaded follows the arrow
        loaded = session.identity_map.get(session.identity_key(flow.model, key))
        if loaded is not None:
            set_committed_value(loaded, flow.state, target.value)
    _write(session, flow, arrow, key, previous, actor, reason, reference, details)
    return previous


def created(
    session: Session,
    flow: Flow[S],
    key: Any,
    *,
    actor: str = "system",
    reason: str | None = None,
    reference: str | None = None,
    **details: Any,
) -> None:
    """Write the creation arrow of a row the caller has just inserted in its initial state."""
    state = flow.current(session, key)
    _write(session, flow, flow.arrow(None, state), key, None, actor, reason, reference, details)


def _write(
    session: Session,
    flow: Flow[S],
    arrow: Arrow[S],
    key: Any,
    previous: S | None,
    actor: str,
    reason: str | None,
    reference: str | None,
    details: dict[str, Any],
) -> None:
    subject = flow.subject(key)
    audit_id = None
    if arrow.audit:  # local only: the arrow's event (if any) carries the audit id
        audit_details = {"from": previous.value if previous else None, **details}
        audit_id = audit_raw(session, f"{flow.name}.{arrow.target.value}", subject, actor, reason, reference,
                             audit_details)
    if arrow.event is not None:
        body = flow.payload(session, key, details) if flow.payload else {flow.key: key, "state": arrow.target.value}
        body.setdefault("state", arrow.target.value)
        body["from"] = previous.value if previous else None
        body["actor"] = actor
        body.setdefault("reference", reference)
        if audit_id is not None:
            body["audit_id"] = audit_id
        record_event(session, arrow.event, body, priority=arrow.priority)
    if arrow.alarm is not None or arrow.clears is not None:
        alarm_subject = flow.alarm_subject(session, key) if flow.alarm_subject else subject
        if arrow.alarm is not None:
            raise_alarm(session, arrow.alarm, alarm_subject, severity=arrow.severity,
                        details={"reference": reference, **details})
        if arrow.clears is not None:
            clear_alarm(session, arrow.clears, alarm_subject, details={"by": actor})


# -- recovery -------------------------------------------------------------------------------------
def check_recovery(flow: Flow[S], handler: object) -> None:
    """Refuse a recovery handler that has no `on_<state>` coroutine for some non-final state."""
    missing = [s.value for s in flow.unfinished_states() if not callable(getattr(handler, f"on_{s.value}", None))]
    if missing:
        raise TypeError(f"{type(handler).__name__} has no recovery for {flow.name} states {missing}")


async def recover(rows: Iterable[tuple[Any, S]], flow: Flow[S], handler: object) -> list[tuple[Any, S]]:
    """Run the handler's `on_<state>(key)` for each unfinished row; one failure does not stop the rest.

    Returns the rows whose recovery raised (they stay where they were; the caller retries or alarms).
    """
    check_recovery(flow, handler)
    failed = []
    for key, state in rows:
        try:
            await getattr(handler, f"on_{state.value}")(key)
        except Exception:
            log.exception("recovery of %s %s (in %s) failed", flow.name, key, state)
            failed.append((key, state))
    return failed
