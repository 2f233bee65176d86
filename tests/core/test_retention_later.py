"""Retention of the tables added with returns, vouchers, printing and volunteers.

Rows are written with plain SQL at a time in the past; one old event stands for "the platform has
not acknowledged everything yet": while it is pending, nothing older goes, whatever its state.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from station.config.retention import RetentionConfig
from station.db import migrate
from station.db.engine import Database
from station.db.types import to_db_time, utcnow
from station.retention import Retention

NOW = datetime(2028, 6, 1, 12, 0, tzinfo=utcnow().tzinfo)
OLD = to_db_time(NOW - timedelta(days=500))
TABLES = ("print_jobs", "receipts", "vouchers", "deposit_returns", "deposit_return_items", "volunteer_sessions",
          "staff_throttle", "app_refunds", "customer_cards", "pickup_tokens")  # fmt: skip


def _rows(session: Any) -> None:
    """Old rows of every kind: a final and an unfinished one each, at the same age."""
    run = session.execute
    run(text("INSERT INTO volunteers (id, name, active, created_at) VALUES (1, 'Vera', 1, :t)"), {"t": OLD})
    for receipt, job_state in (("r-done", "printed"), ("r-waiting", "queued")):
        run(text("INSERT INTO receipts (id, kind, language, data, created_at) "
                 "VALUES (:id, 'purchase', 'de', '{}', :t)"),
            {"id": receipt, "t": OLD})
        run(text("INSERT INTO print_jobs (id, receipt_id, state, attempts, created_at, updated_at) "
                 "VALUES (:id, :r, :s, 0, :t, :t)"), {"id": f"job-{receipt}", "r": receipt, "s": job_state, "t": OLD})
    for ret in ("ret-spent", "ret-owed"):
        run(text("INSERT INTO deposit_returns (id, state, total_cents, items, created_at, updated_at) "
                 "VALUES (:id, 'voucher', 150, '{}', :t, :t)"), {"id": ret, "t": OLD})
        run(text("INSERT INTO deposit_return_items (return_id, machine_session, seq, gtin, kind, deposit_cents, "
                 "machine_cents, late, accepted_at) "
                 "VALUES (:id, 1, 1, '4001234567890', 'single_use', 25, 25, 0, :t)"),
            {"id": ret, "t": OLD})
    for serial, (state, ret) in enumerate((("redeemed", "ret-spent"), ("issued", "ret-owed"))):
        run(text("INSERT INTO vouchers (id, serial, code, amount_cents, state, deposit_return_id, issued_at, "
                 "updated_at) VALUES (:id, :serial, :code, 150, :s, :r, :t, :t)"),
            {"id": f"v-{state}", "serial": str(serial), "code": f"290000000000{serial}", "s": state, "r": ret,
             "t": OLD})
    for ident, state in ((1, "ended"), (2, "active")):
        run(text("INSERT INTO volunteer_sessions (id, volunteer_id, token_hash, state, role, method, keypad, "
                 "started_at, last_seen_at, updated_at) "
                 "VALUES (:id, 1, :h, :s, 'volunteer', 'pin', 'kiosk', :t, :t, :t)"),
            {"id": ident, "h": uuid.uuid4().hex, "s": state, "t": OLD})
    for scope, consecutive, locked in (("keypad:kiosk", 0, None), ("pin:1", 3, OLD)):
        run(text("INSERT INTO staff_throttle (scope, consecutive, recent, locked_at, last_failure_at) "
                 "VALUES (:s, :c, '[]', :l, :t)"), {"s": scope, "c": consecutive, "l": locked, "t": OLD})
    for refund, state in (("ref-paid", "refunded"), ("ref-asked", "requested")):
        run(text("INSERT INTO app_refunds (id, payment_id, sale_id, amount_cents, reason, state, request, "
                 "created_at, updated_at) VALUES (:id, :p, 's-1', 420, 'not_released', :s, '{}', :t, :t)"),
            {"id": refund, "p": f"pay-{refund}", "s": state, "t": OLD})
    for card, revoked in ((1, OLD), (2, None)):
        run(text("INSERT INTO customer_cards (id, uid_digest, min_age, registered_by, registered_at, revoked_at) "
                 "VALUES (:id, :d, 18, 'Vera', :t, :r)"), {"id": card, "d": f"digest-{card}", "t": OLD, "r": revoked})
    for token, state in (("tok-used", "used"), ("tok-revoked", "revoked")):
        run(text("INSERT INTO pickup_tokens (token_id, state, at) VALUES (:id, :s, :t)"),
            {"id": token, "s": state, "t": OLD})
    run(text("INSERT INTO outbox (event_id, db_epoch, stream, seq, type, schema_version, priority, payload, "
             "created_at) VALUES (:e, 'x', 'main', 1, 'sale.done', 1, 0, '{}', :t)"),
        {"e": str(uuid.uuid4()), "t": to_db_time(NOW - timedelta(days=600))})


def _keys(session: Any) -> dict[str, set[Any]]:
    keys = {"staff_throttle": "scope", "deposit_return_items": "return_id", "pickup_tokens": "token_id"}
    return {t: set(session.execute(text(f"SELECT {keys.get(t, 'id')} FROM {t}")).scalars()) for t in TABLES}


@pytest.fixture
async def db(tmp_path: Path) -> Any:
    path = tmp_path / "station.db"
    migrate.upgrade(path)
    database = Database(path)
    await database.start()
    await database.write(_rows)
    yield database
    await database.stop()


async def test_later_tables_keep_what_is_unacknowledged_unfinished_or_still_named(db: Database) -> None:
    retention = Retention(RetentionConfig(batch_rows=10, pause_s=0), db, delivered_days=30, clock=lambda: NOW)
    before = await db.read(_keys)

    assert sum((await retention.run_once()).values()) == 0  # one old event pending: nothing older goes
    assert await db.read(_keys) == before

    await db.write(lambda s: s.execute(text("UPDATE outbox SET delivered_at = created_at")))
    removed = await retention.run_once()
    assert await db.read(_keys) == {
        "print_jobs": {"job-r-waiting"},  # not printed yet
        "receipts": {"r-waiting"},  # its print job still names it
        "vouchers": {"v-issued"},  # still owed to whoever holds it
        "deposit_returns": {"ret-owed"},  # its voucher is still out
        "deposit_return_items": {"ret-owed"},
        "volunteer_sessions": {2},  # still active
        "staff_throttle": {"pin:1"},  # locked until an operator lifts it
        "app_refunds": {"ref-asked"},  # the platform has not answered yet
        "customer_cards": {2},  # still in use
        "pickup_tokens": {"tok-revoked"},  # its expiry is not known: the revocation stays
    }
    assert removed["print jobs"] == removed["receipts"] == removed["vouchers"] == removed["deposit returns"] == 1
    assert removed["volunteer sessions"] == removed["log-in throttles"] == 1
    assert removed["app refunds"] == removed["revoked customer cards"] == removed["used pick-up codes"] == 1


async def test_each_kind_keeps_its_own_time(db: Database) -> None:
    """300 days old: past the sessions', the revoked cards' 90, the throttles' 30 and the used codes' 100
    days, within the money rows' 400."""
    await db.write(lambda s: s.execute(text("UPDATE outbox SET delivered_at = created_at")))
    earlier = Retention(RetentionConfig(pause_s=0), db, delivered_days=30, clock=lambda: NOW - timedelta(days=200))
    removed = {name: n for name, n in (await earlier.run_once()).items() if n}
    assert removed == {"volunteer sessions": 1, "log-in throttles": 1, "revoked customer cards": 1,
                       "used pick-up codes": 1, "delivered events": 1}
    assert (await db.read(_keys))["vouchers"] == {"v-redeemed", "v-issued"}
    assert (await db.read(_keys))["app_refunds"] == {"ref-paid", "ref-asked"}
