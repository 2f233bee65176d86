"""Door operations: the persisted state machine of one commanded opening.

    requested ──pulse──► pulse_sent ──sensor: open──► opened ──sensor: locked──► closed ■
        │                    │ no opening seen in time
        │                    ▼
        │              not_detected ──still locked: one more pulse──► pulse_sent (attempt 2)
        │                    │ second attempt not seen either
        │                    ▼
        │                 failed ■ (alarm)
        └── nothing could be sent (port down, bus busy) ──► failed ■

Each arrow is committed before the next side effect. Recovery at start-up never pulses:
requested / pulse_sent / not_detected become `opened` if the sensor shows the door open,
otherwise `abandoned` ■; `opened` stays tracked until the sensor shows it closed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Compartment, DoorOperation, Priority
from ..db.types import utcnow
from ..journal import audit, clear_alarm, raise_alarm
from ..outbox import record_event


class DoorState(enum.StrEnum):
    REQUESTED = "requested"
    PULSE_SENT = "pulse_sent"
    NOT_DETECTED = "not_detected"
    OPENED = "opened"
    CLOSED = "closed"
    FAILED = "failed"
    ABANDONED = "abandoned"


TERMINAL = {DoorState.CLOSED, DoorState.FAILED, DoorState.ABANDONED}
REASONS = {"sale", "pickup", "restock", "remote", "maintenance"}


class DoorOutcome(enum.StrEnum):
    OPENED = "opened"  # the sensor confirmed the door opened
    NOT_OPENED = "not_opened"  # pulses sent, no opening seen (jam, broken sensor)
    UNAVAILABLE = "unavailable"  # nothing could be sent (board or port down, bus busy)


@dataclass(frozen=True)
class DoorResult:
    operation_id: int
    compartment_id: int
    outcome: DoorOutcome
    detail: str = ""


def subject(compartment_id: int) -> str:
    return f"compartment:{compartment_id}"


def create(session: Session, compartment_id: int, reason: str, reference: str | None, actor: str) -> int:
    """Persist the intent to open (before any pulse), with its audit entry."""
    now = utcnow()
    op = DoorOperation(
        compartment_id=compartment_id,
        reason=reason,
        reference=reference,
        state=DoorState.REQUESTED,
        attempts=0,
        created_at=now,
        updated_at=now,
    )
    session.add(op)
    session.flush()
    audit(
        session,
        "door.open",
        subject(compartment_id),
        actor=actor,
        reason=reason,
        reference=reference,
        details={"operation_id": op.id},
    )
    return op.id


def transition(session: Session, op_id: int, state: DoorState, **details: Any) -> DoorOperation:
    """Move one operation to `state`; emits the door event the platform sees."""
    op = session.get_one(DoorOperation, op_id)
    op.state, op.updated_at = state, utcnow()
    if state is DoorState.PULSE_SENT:
        op.attempts += 1
    if state in (DoorState.OPENED, DoorState.CLOSED):
        set_door_state(session, op.compartment_id, "open" if state is DoorState.OPENED else "closed")
    if state in (DoorState.OPENED, DoorState.CLOSED, DoorState.FAILED, DoorState.ABANDONED):
        record_event(
            session,
            f"door.{state}",
            {
                "operation_id": op.id,
                "compartment": op.compartment_id,
                "reason": op.reason,
                "reference": op.reference,
                "attempts": op.attempts,
                **details,
            },
            priority=Priority.STOCK,
        )
    if state is DoorState.FAILED and op.attempts > 0:
        raise_alarm(
            session,
            "door.open_not_detected",
            subject(op.compartment_id),
            severity="warning",
            details={"operation_id": op.id, "attempts": op.attempts, **details},
        )
    return op


def set_door_state(session: Session, compartment_id: int, door_state: str) -> None:
    comp = session.get(Compartment, compartment_id)
    if comp is not None and comp.door_state != door_state:
        comp.door_state, comp.updated_at = door_state, utcnow()


def unfinished(session: Session) -> list[tuple[int, int, DoorState]]:
    rows = session.execute(
        select(DoorOperation.id, DoorOperation.compartment_id, DoorOperation.state)
        .where(DoorOperation.state.not_in([s.value for s in TERMINAL]))
        .order_by(DoorOperation.id)
    )
    return [(op_id, comp, DoorState(state)) for op_id, comp, state in rows]


def door_forced(session: Session, compartment_id: int) -> None:
    """Opened without a command: tamper alarm."""
    set_door_state(session, compartment_id, "open")
    raise_alarm(
        session,
        "door.tamper",
        subject(compartment_id),
        severity="critical",
        details={"what": "door opened without an unlock command"},
    )


def door_closed_without_operation(session: Session, compartment_id: int) -> None:
    set_door_state(session, compartment_id, "closed")
    clear_alarm(session, "door.left_open", subject(compartment_id))


def door_open_at_boot(session: Session, compartment_id: int) -> None:
    """A door found open at start-up is a notice, not a tamper alarm."""
    set_door_state(session, compartment_id, "open")
    audit(session, "door.open_at_boot", subject(compartment_id), details={"what": "door found open at start-up"})


def left_open(session: Session, compartment_id: int, seconds: float) -> None:
    raise_alarm(session, "door.left_open", subject(compartment_id), details={"open_for_s": round(seconds)})
