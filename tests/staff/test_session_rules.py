"""The log-in session flow on a real database: a session is stored with the token's hash only, told
to the platform once when it starts and once when it ends, and ends only once.

The session flow's own tests for mutation testing (mutation.toml); tests/volunteers drive it through the API.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from station.db.engine import Database
from station.db.models import AuditEntry, OutboxEvent, Volunteer
from station.db.staff_models import VolunteerSession
from station.db.types import utcnow
from station.staff import sessions
from station.staff.accounts import Account
from station.staff.sessions import SessionState
from tests.sync.schema_check import errors, rule_for

NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)


def _account(db: Database, role: str = "volunteer") -> Account:
    person = db.run_sync(lambda s: s.execute(insert(Volunteer).values(
        name="Anna", role=role, active=True, created_at=utcnow(), created_by="test").returning(Volunteer.id))
        .scalar_one())
    return Account(id=person, name="Anna", role=role, active=True, has_pin=True, has_badge=False,  # type: ignore[arg-type]
                   external_id=None, created_at=NOW, created_by="test", disabled_at=None, enrolment_pending=False)


def _events(db: Database) -> list[tuple[str, dict[str, Any]]]:
    rows = db.run_sync(lambda s: [(e.type, e.payload) for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))])
    for kind, payload in rows:
        rule = rule_for(kind)
        assert rule is not None and errors(payload, rule.payload_schema) == [], (kind, payload)
    return [(k, p) for k, p in rows if k.startswith("staff.")]


def test_the_token_is_stored_as_its_sha256_only() -> None:
    assert sessions.token_hash("abc") == hashlib.sha256(b"abc").hexdigest()


def test_a_session_starts_with_one_event_and_its_audit_row(sdb: Database) -> None:
    account = _account(sdb)
    session_id = sdb.run_sync(lambda s: sessions.start(s, account, "tok-1", method="pin", keypad="kiosk", now=NOW))
    row = sdb.run_sync(lambda s: s.get_one(VolunteerSession, session_id))
    assert (row.volunteer_id, row.token_hash, row.state, row.role, row.method, row.keypad) == (
        account.id, sessions.token_hash("tok-1"), "active", "volunteer", "pin", "kiosk")
    assert row.started_at == row.last_seen_at == NOW
    (kind, payload), = _events(sdb)
    audit_id = payload.pop("audit_id")
    assert (kind, payload) == ("staff.session_started", {
        "session_id": session_id, "account_id": account.id, "role": "volunteer", "method": "pin", "keypad": "kiosk",
        "started_at": NOW.isoformat(), "name": "Anna", "state": "active", "from": None, "actor": account.actor,
        "reference": None})
    audit = sdb.run_sync(lambda s: s.get_one(AuditEntry, audit_id))
    assert (audit.action, audit.actor, audit.reason) == ("staff_session.active", account.actor, "login")
    assert sdb.run_sync(sessions.active) == [(session_id, SessionState.ACTIVE)]


def test_a_session_ends_once(sdb: Database) -> None:
    account = _account(sdb)
    session_id = sdb.run_sync(lambda s: sessions.start(s, account, "tok-1", method="badge", keypad="door", now=NOW))
    seen = NOW + timedelta(minutes=3)
    sdb.run_sync(lambda s: sessions.end(s, session_id, SessionState.EXPIRED, actor="system", why="idle",
                                        last_seen=seen, now=NOW + timedelta(minutes=13)))
    sdb.run_sync(lambda s: sessions.end(s, session_id, SessionState.ENDED, actor=account.actor, why="logout"))
    row = sdb.run_sync(lambda s: s.get_one(VolunteerSession, session_id))
    assert (row.state, row.last_seen_at, row.ended_at) == ("expired", seen, NOW + timedelta(minutes=13))
    ended = [(k, p["state"], p["why"], p["actor"]) for k, p in _events(sdb) if k == "staff.session_ended"]
    assert ended == [("staff.session_ended", "expired", "idle", "system")]
    assert sdb.run_sync(sessions.active) == []
    audit = sdb.run_sync(lambda s: s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first())
    assert (audit.action, audit.reason) == ("staff_session.expired", "idle")


def test_a_logout_keeps_the_last_seen_time_and_stamps_the_end(sdb: Database) -> None:
    account = _account(sdb)
    session_id = sdb.run_sync(lambda s: sessions.start(s, account, "tok-2", method="pin", keypad="kiosk", now=NOW))
    before = utcnow()
    sdb.run_sync(lambda s: sessions.end(s, session_id, SessionState.ENDED, actor=account.actor, why="logout"))
    row = sdb.run_sync(lambda s: s.get_one(VolunteerSession, session_id))
    assert row.state == "ended" and row.last_seen_at == NOW and row.ended_at >= before
    sdb.run_sync(lambda s: sessions.end(s, session_id + 99, SessionState.ENDED, actor="system", why="gone"))
