"""The log-in session flow: active → ended (log-out) | expired (idle, account disabled, restart).

A session is created only after the PIN or badge check passed; the token is random (256 bits),
given to the client once, and stored only as SHA-256. A restart ends every session (recovery:
active → expired), so a token never outlives the process that issued it.
"""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..db.models import Priority
from ..db.staff_models import VolunteerSession
from ..db.types import utcnow
from ..flows.engine import Arrow, Flow, created, transition
from .accounts import Account


class SessionState(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"
    EXPIRED = "expired"


def _payload(session: Session, key: Any, details: dict[str, Any]) -> dict[str, Any]:
    row = session.get_one(VolunteerSession, key)
    return {"session_id": row.id, "account_id": row.volunteer_id, "role": row.role, "method": row.method,
            "keypad": row.keypad, "started_at": row.started_at.isoformat(), **details}  # fmt: skip


SESSION = Flow(
    name="staff_session",
    table=VolunteerSession.__table__,  # type: ignore[arg-type]
    states=SessionState,
    arrows=[
        Arrow(None, SessionState.ACTIVE, "logged in with PIN, badge or both", event="staff.session_started",
              priority=Priority.STOCK),
        Arrow(SessionState.ACTIVE, SessionState.ENDED, "logged out", event="staff.session_ended"),
        Arrow(SessionState.ACTIVE, SessionState.EXPIRED, "idle too long, account disabled, or the station restarted",
              event="staff.session_ended"),
    ],
    final=frozenset({SessionState.ENDED, SessionState.EXPIRED}),
    recovery={SessionState.ACTIVE: "a restart ends every session: expired"},
    payload=_payload,
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, account: Account, token: str, *, method: str, keypad: str, now: datetime) -> int:
    """Write the new session (and its `staff.session_started` event); returns its id."""
    session_id = session.execute(
        insert(VolunteerSession).values(
            volunteer_id=account.id, token_hash=token_hash(token), state=SessionState.ACTIVE.value, role=account.role,
            method=method, keypad=keypad, started_at=now, last_seen_at=now, updated_at=utcnow(),
        ).returning(VolunteerSession.id)
    ).scalar_one()  # fmt: skip
    created(session, SESSION, session_id, actor=account.actor, reason="login", method=method, name=account.name)
    return int(session_id)


def end(session: Session, session_id: int, target: SessionState, *, actor: str, why: str,
        last_seen: datetime | None = None, now: datetime | None = None) -> None:
    """End a session (no-op when it already ended)."""
    row = session.get(VolunteerSession, session_id)
    if row is None or row.state != SessionState.ACTIVE.value:
        return
    row.ended_at = now or utcnow()
    if last_seen is not None:
        row.last_seen_at = last_seen
    session.flush()
    transition(session, SESSION, session_id, target, actor=actor, reason=why, why=why)


def active(session: Session) -> list[tuple[int, SessionState]]:
    return SESSION.unfinished(session)

