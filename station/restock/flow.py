"""The restocking flow: a volunteer opens a compartment, records what goes in or out, and closes it.

    requested ──door confirmed open──► opened ──contents recorded──► closed ■ (loaded | empty)
        │                                │
        │ door did not open              │ the volunteer's session ended first (log-out, idle)
        ▼                                ▼
     failed ■                        abandoned ■ (needs_check)
    requested | opened ──restart──► interrupted ■ (needs_check)

`requested` is committed in the same transaction that moves the compartment to `restocking`
(compartments.owner.open_for_volunteer), before the door is pulsed. Contents are recorded through
`compartments.contents` while the flow is `opened`; closing moves the compartment to loaded or
empty through `owner.contents_recorded`. Whenever the contents are not known to be recorded (a
restart, an abandoned session, a door that may have opened unseen) the compartment goes to
`needs_check`: not offered until a person checks it, and a task says so.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..compartments import owner
from ..compartments.flow import Slot
from ..db.staff_models import RestockSession
from ..db.types import utcnow
from ..flows.engine import Arrow, Flow, created, transition

PURPOSES = ("restock", "clean")
REMOVAL_REASONS = ("expired", "damaged", "recalled", "other")


class RestockState(enum.StrEnum):
    REQUESTED = "requested"
    OPENED = "opened"
    CLOSED = "closed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ABANDONED = "abandoned"


def _payload(session: Session, key: Any, details: dict[str, Any]) -> dict[str, Any]:
    row = session.get_one(RestockSession, key)
    return {"restock_id": row.id, "compartment": row.compartment_id, "purpose": row.purpose,
            "account_id": row.volunteer_id, **details}  # fmt: skip


R = RestockState
RESTOCK = Flow(
    name="restock",
    table=RestockSession.__table__,  # type: ignore[arg-type]
    states=RestockState,
    arrows=[
        Arrow(None, R.REQUESTED, "intent committed, compartment moved to restocking, before the pulse",
              event="restock.requested"),
        Arrow(R.REQUESTED, R.OPENED, "the door sensor confirmed it open", event="restock.opened"),
        Arrow(R.REQUESTED, R.FAILED, "the door did not open (nothing sent, or no opening seen)",
              event="restock.failed"),
        Arrow(R.OPENED, R.CLOSED, "contents recorded: loaded or empty", event="restock.closed"),
        Arrow(R.OPENED, R.ABANDONED, "the session ended before the contents were recorded: needs_check",
              event="restock.abandoned"),
        Arrow(R.REQUESTED, R.INTERRUPTED, "restart before the door's outcome was recorded: needs_check",
              event="restock.interrupted"),
        Arrow(R.OPENED, R.INTERRUPTED, "restart before the contents were recorded: needs_check",
              event="restock.interrupted"),
    ],
    final=frozenset({R.CLOSED, R.FAILED, R.INTERRUPTED, R.ABANDONED}),
    recovery={
        R.REQUESTED: "a pulse may have gone out: interrupted, the compartment needs_check",
        R.OPENED: "contents not recorded: interrupted, the compartment needs_check",
    },
    payload=_payload,
)


def subject(restock_id: int) -> str:
    return f"restock:{restock_id}"


def create(session: Session, compartment: int, *, account_id: int, session_id: int | None, actor: str,
           purpose: str) -> int:
    """The restocking intent and the compartment's move to `restocking`, in one transaction."""
    previous = owner.status(session, compartment)
    now = utcnow()
    restock_id = session.execute(
        insert(RestockSession).values(
            compartment_id=compartment, volunteer_id=account_id, session_id=session_id, actor=actor, purpose=purpose,
            state=R.REQUESTED.value, previous_status=previous.value, created_at=now, updated_at=now,
        ).returning(RestockSession.id)
    ).scalar_one()  # fmt: skip
    owner.open_for_volunteer(session, compartment, actor, purpose)
    created(session, RESTOCK, restock_id, actor=actor, reason=purpose, reference=subject(restock_id),
            previous_status=previous.value)
    return int(restock_id)


def opened(session: Session, restock_id: int, door_operation_id: int) -> None:
    row = session.get_one(RestockSession, restock_id)
    row.door_operation_id = door_operation_id
    transition(session, RESTOCK, restock_id, R.OPENED, actor=row.actor, reference=subject(restock_id),
               door_operation_id=door_operation_id)


def failed(session: Session, restock_id: int, *, maybe_opened: bool, detail: str) -> None:
    """The door did not open. If a pulse went out unseen the contents are unknown: needs_check;
    otherwise the compartment returns to what it was (its goods decide loaded/empty, a check stays due)."""
    row = session.get_one(RestockSession, restock_id)
    compartment = row.compartment_id
    if maybe_opened or row.previous_status == Slot.NEEDS_CHECK.value:
        owner.needs_check(session, compartment, "door pulsed for restocking, opening not seen" if maybe_opened
                          else "still to be checked", actor=row.actor, reference=subject(restock_id))
    else:
        owner.contents_recorded(session, compartment, row.actor, reference=subject(restock_id))
    transition(session, RESTOCK, restock_id, R.FAILED, actor=row.actor, reference=subject(restock_id), why=detail)


def closed(session: Session, restock_id: int, now: datetime) -> str:
    """The volunteer recorded the contents: loaded or empty (returns the compartment's status)."""
    row = session.get_one(RestockSession, restock_id)
    status = owner.contents_recorded(session, row.compartment_id, row.actor, reference=subject(restock_id))
    row.closed_at = now
    transition(session, RESTOCK, restock_id, R.CLOSED, actor=row.actor, expect={R.OPENED},
               reference=subject(restock_id), status=status.value)
    return status.value


def unfinished_end(session: Session, restock_id: int, target: RestockState, why: str) -> None:
    """Interrupted (restart) or abandoned (session ended): the compartment needs a check."""
    row = session.get_one(RestockSession, restock_id)
    if owner.status(session, row.compartment_id) is Slot.RESTOCKING:
        if target is R.INTERRUPTED:
            owner.recover_restocking(session, row.compartment_id)
        else:
            owner.needs_check(session, row.compartment_id, why, reference=subject(restock_id))
    transition(session, RESTOCK, restock_id, target, reference=subject(restock_id), why=why)


def restocked_compartments(session: Session) -> set[int]:
    """Compartments an unfinished restock holds (it settles them itself; compartment recovery leaves them)."""
    return set(session.scalars(
        select(RestockSession.compartment_id).where(RestockSession.state.in_([R.REQUESTED.value, R.OPENED.value]))
    ))  # fmt: skip


def open_for_session(session: Session, session_id: int) -> list[int]:
    return list(session.scalars(
        select(RestockSession.id).where(RestockSession.session_id == session_id,
                                        RestockSession.state == R.OPENED.value)
    ))  # fmt: skip
