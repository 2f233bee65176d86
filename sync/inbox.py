"""The command inbox: one row per signed command id, with its first result (db thread)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from station.db.engine import rowcount
from station.db.models import InboxCommand, IssuerState
from station.db.types import utcnow

ACCEPTED, DONE, FAILED, REJECTED = "accepted", "done", "failed", "rejected"


@dataclass(frozen=True)
class VerifiedCommand:
    """A command whose signature checked out against a pinned operator key."""

    cmd_id: str
    station_id: str
    issuer: str
    issuer_seq: int
    issued_at: datetime
    expires_at: datetime
    action: str
    params: dict[str, Any]


class StaleSequence(Exception):
    """The issuer's sequence did not grow (checked again inside the accepting transaction)."""


def stored_result(session: Session, cmd_id: str) -> tuple[str, dict[str, Any]] | None:
    row = session.get(InboxCommand, cmd_id)
    return None if row is None else (row.status, row.result)


def last_issuer_seq(session: Session, issuer: str) -> int:
    return session.scalar(select(IssuerState.last_seq).where(IssuerState.issuer == issuer)) or 0


def _advance_issuer(session: Session, cmd: VerifiedCommand) -> None:
    state = session.get(IssuerState, cmd.issuer)
    if state is not None and cmd.issuer_seq <= state.last_seq:
        raise StaleSequence(f"issuer_seq {cmd.issuer_seq} <= last accepted {state.last_seq}")
    if state is None:
        session.add(IssuerState(issuer=cmd.issuer, last_seq=cmd.issuer_seq))
    else:
        state.last_seq = cmd.issuer_seq


def record(session: Session, cmd: VerifiedCommand, status: str, result: dict[str, Any]) -> None:
    """Insert or complete the inbox row; an accepted command advances its issuer's sequence once."""
    row = session.get(InboxCommand, cmd.cmd_id)
    if row is None:
        if status != REJECTED:
            _advance_issuer(session, cmd)
        session.add(
            InboxCommand(
                cmd_id=cmd.cmd_id,
                issuer=cmd.issuer,
                issuer_seq=cmd.issuer_seq,
                action=cmd.action,
                received_at=utcnow(),
                expires_at=cmd.expires_at,
                status=status,
                result=result,
            )
        )
    elif row.status == ACCEPTED:  # completing a command whose acceptance was committed first
        row.status, row.result = status, result
    session.flush()


def interrupted(session: Session) -> list[InboxCommand]:
    """Commands accepted but never finished (the station stopped in between)."""
    return list(session.scalars(select(InboxCommand).where(InboxCommand.status == ACCEPTED)))


def prune(session: Session, keep_after_expiry: timedelta) -> int:
    """Forget commands long past their expiry (they are refused as expired anyway)."""
    cutoff = utcnow() - keep_after_expiry
    result = session.execute(delete(InboxCommand).where(InboxCommand.expires_at < cutoff))
    return rowcount(result)
