"""Audit log and alarms: each entry is written together with its outbox event."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from .db.engine import hot_cursor
from .db.models import Alarm, AuditEntry, Priority
from .db.types import to_db_time, utcnow
from .outbox import record_event

_AUDIT_INSERT = insert(AuditEntry).returning(AuditEntry.id)  # Core: audit entries are written on every step


def audit(
    session: Session,
    action: str,
    subject: str,
    *,
    actor: str = "system",
    reason: str | None = None,
    reference: str | None = None,
    details: dict[str, Any] | None = None,
    emit: bool = True,
) -> int:
    """Append to the audit log (and, with `emit`, an `audit` event) in the caller's transaction; returns its id.

    Flow arrows pass emit=False: their own event carries the audit id, so the platform is not told twice.
    """
    at, details = utcnow(), details or {}
    entry_id = session.execute(
        _AUDIT_INSERT,
        {"at": at, "actor": actor, "action": action, "subject": subject, "reason": reason, "reference": reference,
         "details": details},
    ).scalar_one()
    if not emit:
        return int(entry_id)
    record_event(
        session,
        "audit",
        {"audit_id": entry_id, "at": at.isoformat(), "actor": actor, "action": action, "subject": subject,
         "reason": reason, "reference": reference, "details": details},
        priority=Priority.STOCK,
    )
    return int(entry_id)


_AUDIT_SQL = (
    "INSERT INTO audit_log (at, actor, action, subject, reason, reference, details)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"
)


def audit_raw(session: Session, action: str, subject: str, actor: str, reason: str | None, reference: str | None,
              details: dict[str, Any]) -> int:
    """An audit-log row only (no event), on the transaction's own cursor: the flow engine's hot path."""
    row = hot_cursor(session).execute(
        _AUDIT_SQL, (to_db_time(utcnow()), actor, action, subject, reason, reference, json.dumps(details))
    ).fetchone()
    return int(row[0])


def open_alarm(session: Session, kind: str, subject: str) -> Alarm | None:
    return session.scalar(select(Alarm).where(Alarm.kind == kind, Alarm.subject == subject, Alarm.state == "raised"))


def raise_alarm(
    session: Session,
    kind: str,
    subject: str,
    *,
    severity: str = "warning",
    details: dict[str, Any] | None = None,
) -> Alarm:
    """Raise an alarm once: an identical open alarm is returned unchanged (no second event)."""
    existing = open_alarm(session, kind, subject)
    if existing is not None:
        return existing
    alarm = Alarm(kind=kind, subject=subject, severity=severity, raised_at=utcnow(), details=details or {})
    session.add(alarm)
    session.flush()
    record_event(session, "alarm.raised", _alarm_payload(alarm), priority=Priority.ALARM)
    return alarm


def clear_alarm(session: Session, kind: str, subject: str, *, details: dict[str, Any] | None = None) -> Alarm | None:
    alarm = open_alarm(session, kind, subject)
    if alarm is None:
        return None
    alarm.state, alarm.cleared_at = "cleared", utcnow()
    if details:
        alarm.details = {**alarm.details, "cleared": details}
    session.flush()
    record_event(session, "alarm.cleared", _alarm_payload(alarm), priority=Priority.ALARM)
    return alarm


def _alarm_payload(alarm: Alarm) -> dict[str, Any]:
    return {
        "alarm_id": alarm.id,
        "kind": alarm.kind,
        "subject": alarm.subject,
        "severity": alarm.severity,
        "state": alarm.state,
        "raised_at": alarm.raised_at.isoformat(),
        "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None,
        "details": alarm.details,
    }
