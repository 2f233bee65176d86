"""Accounts of the people who look after the station: the one writer of the `volunteers` table.

Every function runs in the caller's transaction and writes an audit entry (with its `audit` outbox
event) naming who did it. Hashes are made by the caller (`pins.PinHasher`, `secret.StationSecret`)
outside the database thread; nothing here sees a PIN, a badge UID or an enrolment code in clear.
Accounts are disabled, never deleted: the audit log keeps naming them by id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import Volunteer
from ..db.types import utcnow
from ..journal import audit


class Role(enum.StrEnum):
    VOLUNTEER = "volunteer"  # restocks, cleans, takes care of tasks and corrective actions
    OPERATOR = "operator"  # everything a volunteer does, plus accounts and lifting locks
    COURIER = "courier"  # loads orders and parcels (the pick-up work)


class AccountError(Exception):
    """A change the accounts do not allow; `code` for the API, the message in German for a screen."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: Role
    active: bool
    has_pin: bool
    has_badge: bool
    external_id: str | None
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    enrolment_pending: bool

    @property
    def actor(self) -> str:
        """How the audit log and the events name this person."""
        return actor_for(self.role, self.id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "role": str(self.role), "active": self.active,
            "has_pin": self.has_pin, "has_badge": self.has_badge, "external_id": self.external_id,
            "created_at": self.created_at.isoformat(), "created_by": self.created_by,
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
            "enrolment_pending": self.enrolment_pending,
        }  # fmt: skip


def actor_for(role: str, account_id: int) -> str:
    return f"{role}:{account_id}"


def _view(row: Volunteer) -> Account:
    return Account(
        id=row.id, name=row.name, role=Role(row.role), active=row.active, has_pin=row.pin_hash is not None,
        has_badge=row.badge_hash is not None, external_id=row.external_id, created_at=row.created_at,
        created_by=row.created_by, disabled_at=row.disabled_at, enrolment_pending=row.enrolment_hash is not None,
    )  # fmt: skip


def _subject(account_id: int) -> str:
    return f"account:{account_id}"


# -- reading ---------------------------------------------------------------------------------------
def get(session: Session, account_id: int) -> Account | None:
    row = session.get(Volunteer, account_id)
    return _view(row) if row is not None else None


def require(session: Session, account_id: int) -> Volunteer:
    row = session.get(Volunteer, account_id)
    if row is None:
        raise AccountError("not_found", f"Ein Konto {account_id} gibt es nicht")
    return row


def list_accounts(session: Session) -> list[Account]:
    return [_view(r) for r in session.scalars(select(Volunteer).order_by(Volunteer.id))]


def pin_hash_of(session: Session, account_id: int) -> tuple[Account, str | None] | None:
    """The account and its stored PIN hash (for the log-in check)."""
    row = session.get(Volunteer, account_id)
    return (_view(row), row.pin_hash) if row is not None else None


def by_badge(session: Session, badge_hash: str) -> tuple[Account, str | None] | None:
    row = session.scalar(select(Volunteer).where(Volunteer.badge_hash == badge_hash))
    return (_view(row), row.pin_hash) if row is not None else None


def by_external_id(session: Session, external_id: str) -> Account | None:
    row = session.scalar(select(Volunteer).where(Volunteer.external_id == external_id))
    return _view(row) if row is not None else None


def by_enrolment(session: Session, code_hash: str, now: datetime) -> Account | None:
    """The account a valid (unexpired) enrolment code belongs to."""
    row = session.scalar(select(Volunteer).where(Volunteer.enrolment_hash == code_hash))
    if row is None or row.enrolment_expires_at is None or row.enrolment_expires_at <= now:
        return None
    return _view(row)


def active_operators(session: Session) -> int:
    return session.scalar(
        select(func.count()).select_from(Volunteer).where(Volunteer.role == Role.OPERATOR.value,
                                                          Volunteer.active.is_(True))
    ) or 0  # fmt: skip


# -- changing --------------------------------------------------------------------------------------
def add(
    session: Session,
    *,
    name: str,
    role: Role,
    actor: str,
    pin_hash: str | None = None,
    badge_hash: str | None = None,
    external_id: str | None = None,
    enrolment: tuple[str, datetime] | None = None,
    reference: str | None = None,
) -> Account:
    """A new account; it needs a way in (PIN, badge or enrolment code)."""
    name = name.strip()
    if not name:
        raise AccountError("invalid", "Bitte einen Namen angeben")
    if pin_hash is None and badge_hash is None and enrolment is None:
        raise AccountError("invalid", "Ein Konto braucht eine PIN, einen Ausweis oder einen Freischaltcode")
    _badge_free(session, badge_hash, None)
    if external_id is not None and by_external_id(session, external_id) is not None:
        raise AccountError("conflict", f"Das Konto {external_id} gibt es schon")
    row = Volunteer(
        name=name, role=role.value, pin_hash=pin_hash, badge_hash=badge_hash, active=True, created_at=utcnow(),
        created_by=actor, external_id=external_id,
        enrolment_hash=enrolment[0] if enrolment else None, enrolment_expires_at=enrolment[1] if enrolment else None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    audit(session, "account.added", _subject(row.id), actor=actor, reference=reference,
          details={"name": name, "role": role.value, "external_id": external_id, "pin": pin_hash is not None,
                   "badge": badge_hash is not None, "enrolment": enrolment is not None})  # fmt: skip
    return _view(row)


def update(session: Session, account_id: int, *, actor: str, name: str | None = None, role: Role | None = None,
           reference: str | None = None) -> Account:
    """Rename or change the role of an account (the platform's upsert)."""
    row = require(session, account_id)
    changes: dict[str, Any] = {}
    if name is not None and name.strip() and name.strip() != row.name:
        changes["name"] = row.name = name.strip()
    if role is not None and role.value != row.role:
        if row.role == Role.OPERATOR.value and row.active and active_operators(session) <= 1:
            raise AccountError("last_operator", "Das letzte Betreiberkonto kann seine Rolle nicht abgeben")
        changes["role"] = row.role = role.value
    if changes:
        audit(session, "account.updated", _subject(row.id), actor=actor, reference=reference, details=changes)
    return _view(row)


def disable(session: Session, account_id: int, *, actor: str, reason: str | None = None,
            reference: str | None = None) -> Account:
    """No more log-ins; its badge and enrolment code stop working at once. The last operator stays."""
    row = require(session, account_id)
    if not row.active:
        return _view(row)
    if row.role == Role.OPERATOR.value and active_operators(session) <= 1:
        raise AccountError("last_operator", "Das letzte Betreiberkonto kann nicht gesperrt werden")
    row.active, row.disabled_at = False, utcnow()
    row.enrolment_hash = row.enrolment_expires_at = None
    audit(session, "account.disabled", _subject(row.id), actor=actor, reason=reason, reference=reference,
          details={"name": row.name, "role": row.role})  # fmt: skip
    return _view(row)


def enable(session: Session, account_id: int, *, actor: str, reference: str | None = None) -> Account:
    row = require(session, account_id)
    if not row.active:
        row.active, row.disabled_at = True, None
        audit(session, "account.enabled", _subject(row.id), actor=actor, reference=reference,
              details={"name": row.name, "role": row.role})  # fmt: skip
    return _view(row)


def set_pin(session: Session, account_id: int, pin_hash: str, *, actor: str, how: str = "reset",
            reference: str | None = None) -> Account:
    """A new PIN (reset by an operator, or chosen with an enrolment code, which is then used up)."""
    row = require(session, account_id)
    row.pin_hash = pin_hash
    row.enrolment_hash = row.enrolment_expires_at = None
    audit(session, "account.pin_set", _subject(row.id), actor=actor, reason=how, reference=reference,
          details={"name": row.name})
    return _view(row)


def set_badge(session: Session, account_id: int, badge_hash: str | None, *, actor: str,
              reference: str | None = None) -> Account:
    """Bind a badge (its keyed hash) to the account, or remove it (None)."""
    row = require(session, account_id)
    _badge_free(session, badge_hash, account_id)
    row.badge_hash = badge_hash
    action = "account.badge_set" if badge_hash is not None else "account.badge_removed"
    audit(session, action, _subject(row.id), actor=actor, reference=reference, details={"name": row.name})
    return _view(row)


def set_enrolment(session: Session, account_id: int, code_hash: str, expires_at: datetime, *, actor: str,
                  reference: str | None = None) -> Account:
    """A one-time code the person turns into a PIN at the station (replaces an earlier one)."""
    row = require(session, account_id)
    taken = session.scalar(select(Volunteer.id).where(Volunteer.enrolment_hash == code_hash))
    if taken is not None and taken != account_id:
        raise AccountError("conflict", "Dieser Freischaltcode ist schon vergeben")
    row.enrolment_hash, row.enrolment_expires_at = code_hash, expires_at
    audit(session, "account.enrolment_issued", _subject(row.id), actor=actor, reference=reference,
          details={"name": row.name, "expires_at": expires_at.isoformat()})
    return _view(row)


def _badge_free(session: Session, badge_hash: str | None, owner: int | None) -> None:
    if badge_hash is None:
        return
    holder = session.scalar(select(Volunteer.id).where(Volunteer.badge_hash == badge_hash))
    if holder is not None and holder != owner:
        raise AccountError("conflict", "Dieser Ausweis gehört schon zu einem anderen Konto")
