"""The app refund flow (station/purchase/refunds.py) on a real database, without hardware: one signed
request per platform payment, its event against the schema, the platform's answer once, the alarm
when it refuses.

These are the module's own tests for mutation testing (mutation.toml).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from station.db.engine import Database
from station.db.models import AppRefund, AuditEntry, OutboxEvent, Priority
from station.db.types import to_db_time
from station.purchase import refunds
from station.purchase.apprequest import REFUND_REQUEST, RequestSigner, verify_envelope
from tests.purchase.saledb import alarms
from tests.sync.schema_check import errors, rule_for

SIGNER = RequestSigner(bytes(range(32)))


def _request(db: Database, payment_id: str = "pay-1", **fields: Any) -> dict[str, Any] | None:
    args: dict[str, Any] = {"station_id": "st-7", "payment_id": payment_id, "sale_id": "sale-1",
                            "amount_cents": 899, "reason": refunds.LATE, "actor": "platform", **fields}

    def ask(session: Any) -> dict[str, Any] | None:
        row = refunds.request(session, SIGNER, **args)
        return None if row is None else {c.name: getattr(row, c.name) for c in AppRefund.__table__.columns}

    return db.run_sync(ask)


def _events(db: Database) -> list[tuple[str, int, dict[str, Any]]]:
    return db.run_sync(lambda s: [(e.type, e.priority, e.payload) for e in s.scalars(
        select(OutboxEvent).where(OutboxEvent.type.like("app.refund%")).order_by(OutboxEvent.id))])


def _audit(db: Database) -> list[tuple[str, str, str | None, str | None, dict[str, Any]]]:
    return db.run_sync(lambda s: [(a.actor, a.action, a.reason, a.reference, dict(a.details)) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.subject.like("app_refund%")).order_by(AuditEntry.id))])


def _schema_ok(payload: dict[str, Any], kind: str) -> None:
    rule = rule_for(kind)
    assert rule is not None, kind
    assert errors(payload, rule.payload_schema) == []


def test_a_refund_request_is_signed_stored_and_sent_once(sdb: Database) -> None:
    row = _request(sdb)
    assert row is not None
    assert (row["payment_id"], row["sale_id"], row["amount_cents"], row["reason"], row["state"], row["answer"]) == (
        "pay-1", "sale-1", 899, "late", "requested", None)
    assert row["created_at"] == row["updated_at"]
    assert row["request"]["schema"] == REFUND_REQUEST
    body = verify_envelope(SIGNER.public_key(), row["request"])
    assert body == {"station_id": "st-7", "refund_id": row["id"], "payment_id": "pay-1", "sale_id": "sale-1",
                    "amount_cents": 899, "currency": "EUR", "reason": "late",
                    "requested_at": to_db_time(row["created_at"])}
    [(kind, priority, payload)] = _events(sdb)
    assert (kind, priority) == ("app.refund_requested", int(Priority.MONEY))
    _schema_ok(payload, kind)
    assert {k: v for k, v in payload.items() if k != "audit_id"} == {
        "refund_id": row["id"], "payment_id": "pay-1", "sale_id": "sale-1", "amount_cents": 899, "reason": "late",
        "state": "requested", "request": row["request"], "answer": None, "from": None, "actor": "platform",
        "reference": "sale-1"}
    [(actor, action, reason, reference, _)] = _audit(sdb)
    assert (actor, action, reason, reference) == ("platform", "app_refund.requested", "late", "sale-1")


def test_a_payment_is_asked_back_only_once(sdb: Database) -> None:
    first = _request(sdb)
    assert first is not None
    assert _request(sdb, amount_cents=100, reason=refunds.NOT_RELEASED) is None
    assert len(_events(sdb)) == 1
    other = _request(sdb, "pay-2")
    assert other is not None and other["id"] != first["id"]
    assert [p["payment_id"] for _, _, p in _events(sdb)] == ["pay-1", "pay-2"]


def test_a_request_runs_as_system_unless_told(sdb: Database) -> None:
    args = {"station_id": "st-7", "payment_id": "pay-1", "sale_id": "sale-1", "amount_cents": 1,
            "reason": refunds.UNKNOWN_SALE}
    sdb.run_sync(lambda s: refunds.request(s, SIGNER, **args))
    assert _audit(sdb)[0][0] == "system"


def _close(db: Database, refund_id: str, refunded: bool, reference: str | None = "pf-9") -> dict[str, Any]:
    return db.run_sync(lambda s: refunds.close(s, refund_id, refunded, reference=reference, actor="operator:pf"))


def _row(db: Database, refund_id: str) -> tuple[str, dict[str, Any] | None]:
    return db.run_sync(lambda s: (lambda r: (r.state, r.answer))(s.get_one(AppRefund, refund_id)))


@pytest.mark.parametrize(("refunded", "state"), [(True, "refunded"), (False, "declined")])
def test_the_platforms_answer_closes_the_refund_once(sdb: Database, refunded: bool, state: str) -> None:
    row = _request(sdb)
    assert row is not None
    assert _close(sdb, row["id"], refunded) == {"refund_id": row["id"], "state": state, "amount_cents": 899}
    assert _row(sdb, row["id"]) == (state, {"refunded": refunded, "reference": "pf-9"})
    kind, priority, payload = _events(sdb)[-1]
    assert (kind, priority) == ("app.refund_closed", int(Priority.MONEY))
    _schema_ok(payload, kind)
    assert (payload["state"], payload["from"], payload["actor"], payload["reference"], payload["answer"]) == (
        state, "requested", "operator:pf", "sale-1", {"refunded": refunded, "reference": "pf-9"})
    assert _audit(sdb)[-1][:2] == ("operator:pf", f"app_refund.{state}")
    # the answer repeated (or the other one) changes nothing
    assert _close(sdb, row["id"], not refunded, reference="pf-10") == {
        "refund_id": row["id"], "state": state, "amount_cents": 899}
    assert _row(sdb, row["id"]) == (state, {"refunded": refunded, "reference": "pf-9"})
    assert len(_events(sdb)) == 2


def test_a_declined_refund_raises_its_alarm_and_a_paid_one_does_not(sdb: Database) -> None:
    paid, declined = _request(sdb, "pay-1"), _request(sdb, "pay-2")
    assert paid is not None and declined is not None
    _close(sdb, paid["id"], True)
    assert alarms(sdb, "app.refund_declined") == []
    _close(sdb, declined["id"], False, reference=None)
    assert [(subject, state) for subject, state, _ in alarms(sdb, "app.refund_declined")] == [
        (f"app_refund:{declined['id']}", "raised")]
    assert _row(sdb, declined["id"])[1] == {"refunded": False, "reference": None}


def test_an_answer_for_an_unknown_refund_is_refused(sdb: Database) -> None:
    with pytest.raises(LookupError):
        _close(sdb, "no-such-refund", True)
