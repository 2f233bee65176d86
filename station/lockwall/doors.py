"""The door flow: one commanded opening of a compartment door, from intent to close.

    requested ──pulse──► pulse_sent ──sensor: open──► opened ──sensor: locked──► closed ■
        │                    │ no opening seen in time
        │                    ▼
        │              not_detected ──still locked: one more pulse──► pulse_sent (attempt 2)
        │                    │ second attempt not seen either
        │                    ▼
        │                 failed ■ (alarm; the flow that opened it asks for a check)
        └── nothing could be sent (port down, bus busy) ──► failed ■

Recovery at start-up never pulses. A pulse may have gone out for any operation left in requested,
pulse_sent or not_detected, and nobody watched the door since, so the first sensor read decides:
open now → opened (tracked to its close); shut now → the board's item sensor, where fitted, tells
whether the goods are gone (closed ■: it opened and closed unseen) or still in (untouched ■);
without one it is maybe_opened ■: never "nothing happened".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..db.models import Compartment, DoorOperation
from ..db.types import utcnow
from ..flows.engine import Arrow, Flow, created, transition
from ..journal import audit, clear_alarm, raise_alarm


class DoorState(enum.StrEnum):
    REQUESTED = "requested"
    PULSE_SENT = "pulse_sent"
    NOT_DETECTED = "not_detected"
    OPENED = "opened"
    CLOSED = "closed"
    FAILED = "failed"
    MAYBE_OPENED = "maybe_opened"
    UNTOUCHED = "untouched"


REASONS = {"sale", "pickup", "restock", "remote", "maintenance", "loading", "return"}
UNSEEN = (DoorState.REQUESTED, DoorState.PULSE_SENT, DoorState.NOT_DETECTED)  # a pulse may be out, unwatched


class DoorOutcome(enum.StrEnum):
    OPENED = "opened"  # the sensor confirmed the door opened
    NOT_OPENED = "not_opened"  # pulses sent, no opening seen (jam, broken sensor): a check is due
    UNAVAILABLE = "unavailable"  # nothing could be sent (board or port down, bus busy)


@dataclass(frozen=True)
class DoorResult:
    operation_id: int
    compartment_id: int
    outcome: DoorOutcome
    detail: str = ""


def _payload(session: Session, op_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    op = session.execute(
        select(DoorOperation.compartment_id, DoorOperation.reason, DoorOperation.reference, DoorOperation.attempts)
        .where(DoorOperation.id == op_id)
    ).one()
    return {"operation_id": op_id, "compartment": op.compartment_id, "reason": op.reason,
            "reference": op.reference, "attempts": op.attempts, **details}


def _arrows() -> list[Arrow[DoorState]]:
    D = DoorState
    a = [
        Arrow(None, D.REQUESTED, "intent to open committed before any pulse"),
        Arrow(D.REQUESTED, D.PULSE_SENT, "unlock pulse written to the bus", audit=False),
        Arrow(D.NOT_DETECTED, D.PULSE_SENT, "still locked on read-back: second pulse", audit=False),
        Arrow(D.PULSE_SENT, D.NOT_DETECTED, "no opening seen within open_detect_s", audit=False),
        Arrow(D.REQUESTED, D.FAILED, "nothing could be sent (port down, bus busy)", event="door.failed"),
        Arrow(D.NOT_DETECTED, D.FAILED, "no opening seen after the second pulse", event="door.failed",
              alarm="door.open_not_detected"),
        Arrow(D.OPENED, D.CLOSED, "sensor shows it closed", event="door.closed", clears="door.left_open"),
    ]
    for source in UNSEEN:
        a += [
            Arrow(source, D.OPENED, "sensor shows it open", event="door.opened"),
            Arrow(source, D.MAYBE_OPENED, "restart: shut now, pulse maybe sent, no item sensor",
                  event="door.maybe_opened"),
            Arrow(source, D.UNTOUCHED, "restart: shut now, item sensor shows the goods still in",
                  event="door.untouched"),
        ]
        if source is not D.NOT_DETECTED:
            a.append(Arrow(source, D.CLOSED, "restart: shut now, item sensor shows the goods gone",
                           event="door.closed"))
    a.append(Arrow(D.NOT_DETECTED, D.CLOSED, "restart: shut now, item sensor shows the goods gone",
                   event="door.closed"))
    return a


DOOR = Flow(
    name="door",
    table=DoorOperation.__table__,  # type: ignore[arg-type]
    model=DoorOperation,
    states=DoorState,
    arrows=_arrows(),
    final=frozenset({DoorState.CLOSED, DoorState.FAILED, DoorState.MAYBE_OPENED, DoorState.UNTOUCHED}),
    recovery={
        DoorState.REQUESTED: "first sensor read: open → opened; shut → item sensor (closed / untouched) "
        "or maybe_opened; never pulses",
        DoorState.PULSE_SENT: "as requested",
        DoorState.NOT_DETECTED: "as requested",
        DoorState.OPENED: "tracked until the sensor shows it closed",
    },
    payload=_payload,
    alarm_subject=lambda session, op_id: subject(session.get_one(DoorOperation, op_id).compartment_id),
)

def create(session: Session, compartment_id: int, reason: str, reference: str | None, actor: str) -> int:
    """Persist the intent to open (before any pulse), with its audit entry; returns the operation id."""
    now = utcnow()
    op_id = session.execute(
        insert(DoorOperation).values(compartment_id=compartment_id, reason=reason, reference=reference,
                                     state=DoorState.REQUESTED.value, attempts=0, created_at=now, updated_at=now)
        .returning(DoorOperation.id)
    ).scalar_one()
    created(session, DOOR, op_id, actor=actor, reason=reason, reference=reference, compartment=compartment_id)
    return int(op_id)


def move(session: Session, op_id: int, state: DoorState, **details: Any) -> None:
    """One arrow of an operation; the sensor reading follows opened/closed."""
    if state is DoorState.PULSE_SENT:
        op = session.get_one(DoorOperation, op_id)
        op.attempts += 1
        session.flush()
    transition(session, DOOR, op_id, state, **details)
    if state in (DoorState.OPENED, DoorState.CLOSED):
        comp = session.get_one(DoorOperation, op_id).compartment_id
        set_door_state(session, comp, "open" if state is DoorState.OPENED else "closed")


def settle_unseen(session: Session, op_id: int, *, is_open: bool, item_present: bool | None) -> DoorState:
    """Recovery of an operation whose pulse may be out: decide from the first sensor read."""
    if is_open:
        target = DoorState.OPENED
    elif item_present is None:
        target = DoorState.MAYBE_OPENED
    else:
        target = DoorState.UNTOUCHED if item_present else DoorState.CLOSED
    move(session, op_id, target, settled_by="restart", item_present=item_present)
    return target


def subject(compartment_id: int) -> str:
    return f"compartment:{compartment_id}"


def set_door_state(session: Session, compartment_id: int, door_state: str) -> None:
    comp = session.get(Compartment, compartment_id)
    if comp is not None and comp.door_state != door_state:
        comp.door_state, comp.updated_at = door_state, utcnow()


def door_forced(session: Session, compartment_id: int) -> None:
    """Opened without a command: tamper alarm (the lock wall then asks for a check of the contents)."""
    set_door_state(session, compartment_id, "open")
    raise_alarm(session, "door.tamper", subject(compartment_id), severity="critical",
                details={"what": "door opened without an unlock command"})


def door_closed_without_operation(session: Session, compartment_id: int) -> None:
    set_door_state(session, compartment_id, "closed")
    clear_alarm(session, "door.left_open", subject(compartment_id))


def door_open_at_boot(session: Session, compartment_id: int) -> None:
    """A door found open at start-up is a notice, not a tamper alarm."""
    set_door_state(session, compartment_id, "open")
    audit(session, "door.open_at_boot", subject(compartment_id), details={"what": "door found open at start-up"})


def left_open(session: Session, compartment_id: int, seconds: float) -> None:
    raise_alarm(session, "door.left_open", subject(compartment_id), details={"open_for_s": round(seconds)})


def unfinished(session: Session) -> list[tuple[int, int, DoorState]]:
    """(operation id, compartment, state) of every operation that needs recovery."""
    rows = session.execute(
        select(DoorOperation.id, DoorOperation.compartment_id, DoorOperation.state)
        .where(DoorOperation.state.in_([s.value for s in DOOR.unfinished_states()]))
        .order_by(DoorOperation.id)
    )
    return [(op_id, comp, DoorState(state)) for op_id, comp, state in rows]


def operations_for(session: Session, reason: str, reference: str) -> list[tuple[int, int, DoorState]]:
    """(operation id, compartment, state) of every opening done for `reference` (a sale, an order)."""
    rows = session.execute(
        select(DoorOperation.id, DoorOperation.compartment_id, DoorOperation.state)
        .where(DoorOperation.reason == reason, DoorOperation.reference == reference)
        .order_by(DoorOperation.id)
    )
    return [(op_id, comp, DoorState(state)) for op_id, comp, state in rows]
