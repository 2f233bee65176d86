"""Removing history the station no longer needs, in small batches that never keep a sale waiting.

A row goes only when (1) its flow is final, (2) it ended longer ago than its retention
(`[retention]`), and (3) the platform has acknowledged every event written up to its end: the
cut-off is never later than the oldest outbox event still pending, and every flow writes its final
event in the same transaction as its final state. So nothing unacknowledged is ever removed.

Each batch is one short transaction (at most `batch_rows` rows), followed by a pause; free pages go
back to the file system with `PRAGMA incremental_vacuum`, a few at a time.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from common.tasks import cancel_tasks

from .components import ComponentHealth, ProgressMixin, Status
from .config.retention import RetentionConfig
from .db.engine import Database, StorageUnavailable, hot_cursor
from .db.types import to_db_time, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    """One kind of history: rows of `table` that are final (`final`), ended before the cut-off (`ended`).

    Rows are looked at in rowid order, a window at a time, from the oldest: rowid order is creation
    order, so the scan stops at the first window holding a row created after the cut-off. Each look is
    a short read on the database thread, never a scan of the whole history.
    """

    name: str
    days: Callable[[RetentionConfig], float]
    table: str
    key: str
    created: str
    ended: str
    final: str
    deletes: tuple[str, ...]  # each with `IN (SELECT value FROM json_each(:ids))`


_IDS = "(SELECT value FROM json_each(:ids))"
SALE_FINAL = "state IN ('done','cancelled','declined','aborted','reversed','released_not_charged')"
RULES = (
    Rule("sales", lambda c: c.sales_days, "sales", "id", "created_at", "updated_at", SALE_FINAL,
         (f"DELETE FROM sale_lines WHERE sale_id IN {_IDS}", f"DELETE FROM payments WHERE sale_id IN {_IDS}",
          f"DELETE FROM sales WHERE id IN {_IDS}")),
    Rule("end-of-day records", lambda c: c.sales_days, "payments", "id", "created_at", "updated_at",
         "sale_id IS NULL", (f"DELETE FROM payments WHERE id IN {_IDS}",)),
    Rule("door operations", lambda c: c.doors_days, "door_operations", "id", "created_at", "updated_at",
         "state IN ('closed','failed','maybe_opened','untouched')",
         (f"DELETE FROM door_operations WHERE id IN {_IDS}",)),
    Rule("audit entries", lambda c: c.audit_days, "audit_log", "id", "at", "at", "1",
         (f"DELETE FROM audit_log WHERE id IN {_IDS}",)),
    Rule("cleared alarms", lambda c: c.alarms_days, "alarms", "id", "raised_at", "cleared_at",
         "state = 'cleared' AND id NOT IN (SELECT alarm_id FROM cold_chain_blocks WHERE alarm_id IS NOT NULL)",
         (f"DELETE FROM alarms WHERE id IN {_IDS}",)),
    Rule("orders", lambda c: c.orders_days, "orders", "id", "created_at", "created_at",
         "state IN ('cancelled','collected','returned')", (f"DELETE FROM orders WHERE id IN {_IDS}",)),
    Rule("delivered events", lambda c: 0.0, "outbox", "id", "created_at", "delivered_at",
         "delivered_at IS NOT NULL", (f"DELETE FROM outbox WHERE id IN {_IDS}",)),
)


def _states(flow_final: frozenset[Any]) -> str:
    return ", ".join(f"'{state.value}'" for state in sorted(flow_final, key=str))


def _later_rules() -> tuple[Rule, ...]:
    """Receipts, print jobs, vouchers, deposit returns, restock and volunteer sessions, log-in throttles,
    app refunds, revoked customer cards, used pick-up codes.

    Ordered so nothing referenced goes first: print jobs before their receipts, vouchers before
    the returns that issued them, restock sessions before the volunteer sessions they ran in.
    Final states come from the flows themselves, so a new final state is never forgotten here.
    """
    from .deposit.flow import RETURN
    from .printing.flow import PRINT_JOB
    from .purchase.refunds import REFUND
    from .restock.flow import RESTOCK
    from .staff.sessions import SESSION
    from .vouchers.flow import VOUCHER

    return (
        Rule("print jobs", lambda c: c.receipts_days, "print_jobs", "id", "created_at", "updated_at",
             f"state IN ({_states(PRINT_JOB.final)})", (f"DELETE FROM print_jobs WHERE id IN {_IDS}",)),
        Rule("receipts", lambda c: c.receipts_days, "receipts", "id", "created_at", "created_at",
             "id NOT IN (SELECT receipt_id FROM print_jobs)", (f"DELETE FROM receipts WHERE id IN {_IDS}",)),
        Rule("vouchers", lambda c: c.vouchers_days, "vouchers", "id", "issued_at", "updated_at",
             f"state IN ({_states(VOUCHER.final)})", (f"DELETE FROM vouchers WHERE id IN {_IDS}",)),
        Rule("deposit returns", lambda c: c.deposit_days, "deposit_returns", "id", "created_at", "updated_at",
             f"state IN ({_states(RETURN.final)}) AND id NOT IN "
             "(SELECT deposit_return_id FROM vouchers WHERE deposit_return_id IS NOT NULL)",
             (f"DELETE FROM deposit_return_items WHERE return_id IN {_IDS}",
              f"DELETE FROM deposit_returns WHERE id IN {_IDS}")),
        Rule("restock sessions", lambda c: c.doors_days, "restock_sessions", "id", "created_at", "updated_at",
             f"state IN ({_states(RESTOCK.final)})", (f"DELETE FROM restock_sessions WHERE id IN {_IDS}",)),
        Rule("volunteer sessions", lambda c: c.staff_sessions_days, "volunteer_sessions", "id", "started_at",
             "updated_at", f"state IN ({_states(SESSION.final)}) AND id NOT IN "
             "(SELECT session_id FROM restock_sessions WHERE session_id IS NOT NULL)",
             (f"DELETE FROM volunteer_sessions WHERE id IN {_IDS}",)),
        Rule("log-in throttles", lambda c: c.throttle_days, "staff_throttle", "scope", "last_failure_at",
             "last_failure_at", "locked_at IS NULL AND consecutive = 0",
             (f"DELETE FROM staff_throttle WHERE scope IN {_IDS}",)),
        Rule("app refunds", lambda c: c.sales_days, "app_refunds", "id", "created_at", "updated_at",
             f"state IN ({_states(REFUND.final)})", (f"DELETE FROM app_refunds WHERE id IN {_IDS}",)),
        Rule("revoked customer cards", lambda c: c.customer_cards_days, "customer_cards", "id", "registered_at",
             "revoked_at", "revoked_at IS NOT NULL", (f"DELETE FROM customer_cards WHERE id IN {_IDS}",)),
        Rule("used pick-up codes", lambda c: c.pickup_codes_days, "pickup_tokens", "token_id", "at", "at",
             "state = 'used'", (f"DELETE FROM pickup_tokens WHERE token_id IN {_IDS}",)),
    )  # fmt: skip


def rules() -> tuple[Rule, ...]:
    """Every rule in the order it runs (delivered events last)."""
    return (*RULES[:-1], *_later_rules(), RULES[-1])


def acknowledged_before(session: Session) -> datetime | None:
    """Events created before this time are all acknowledged (None: nothing is pending)."""
    oldest = session.execute(
        text("SELECT MIN(created_at) FROM outbox INDEXED BY ix_outbox_pending "
             "WHERE delivered_at IS NULL AND stream = 'main'")
    ).scalar()
    return datetime.fromisoformat(oldest) if oldest else None


def cutoff(session: Session, days: float, now: datetime) -> str:
    limit = now - timedelta(days=days)
    pending = acknowledged_before(session)
    return to_db_time(min(limit, pending) if pending else limit)


def find_batch(session: Session, rule: Rule, limit: str, after: int, window: int) -> tuple[list[Any], int, bool]:
    """(keys to remove, the last rowid looked at, more to look at) in one window of `rule`'s table."""
    rows = session.execute(
        text(f"SELECT rowid, {rule.key}, {rule.created} < :cut, {rule.ended} < :cut AND ({rule.final}) "
             f"FROM {rule.table} WHERE rowid > :after ORDER BY rowid LIMIT :window"),
        {"cut": limit, "after": after, "window": window},
    ).all()
    keys = [key for _rowid, key, _old, removable in rows if removable]
    last = rows[-1][0] if rows else after
    more = len(rows) == window and all(old for _r, _k, old, _x in rows)
    return keys, last, more


def delete_keys(session: Session, rule: Rule, keys: list[Any]) -> int:
    payload = json.dumps(keys)
    for statement in rule.deletes:
        session.execute(text(statement), {"ids": payload})
    return len(keys)


def vacuum_step(session: Session, pages: int) -> int:
    """Give up to `pages` free pages back to the file system; returns how many were free before."""
    cursor = hot_cursor(session)
    free = int(cursor.execute("PRAGMA freelist_count").fetchone()[0])
    if free and pages:
        cursor.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()
    return free


class Retention(ProgressMixin):
    """A component: every `interval_s`, removes what retention allows, batch by batch."""

    name = "retention"

    def __init__(self, config: RetentionConfig, db: Database, *, delivered_days: float | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.config, self.db, self.delivered_days, self.clock = config, db, delivered_days, clock
        self.removed: dict[str, int] = {}
        self.last_run: float | None = None
        self.longest_batch_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_tasks([self._task])

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval_s)
            try:
                await self.run_once()
            except StorageUnavailable as exc:  # tried again next time; health shows the database state
                log.info("retention postponed: %s", exc)

    async def run_once(self) -> dict[str, int]:
        """One full pass over every rule; returns the rows removed per rule."""
        now = self.clock()
        removed: dict[str, int] = {}
        for rule in rules():
            days = self.delivered_days if rule.table == "outbox" else rule.days(self.config)
            if days is None:
                continue
            removed[rule.name] = await self._drain(rule, days, now)
        await self._vacuum()
        for name, count in removed.items():
            self.removed[name] = self.removed.get(name, 0) + count
        if any(removed.values()):
            log.info("retention removed %s", ", ".join(f"{n} {k}" for k, n in removed.items() if n))
        self.last_run = time.time()
        self.mark_progress()
        return removed

    async def _drain(self, rule: Rule, days: float, now: datetime) -> int:
        """Window by window: find on a short read, delete on a short write, pause; until the history is young."""
        if rule.table == "outbox":  # delivered rows: only their own age counts
            limit = to_db_time(now - timedelta(days=days))
        else:
            limit = await self.db.read(lambda s: cutoff(s, days, now))
        total, after, more = 0, 0, True
        while more:
            keys, after, more = await self.db.read(
                functools.partial(find_batch, rule=rule, limit=limit, after=after, window=self.config.batch_rows)
            )
            if keys:
                started = time.perf_counter()
                total += await self.db.write(functools.partial(delete_keys, rule=rule, keys=keys))
                self.longest_batch_ms = max(self.longest_batch_ms, (time.perf_counter() - started) * 1000)
            if more:
                await asyncio.sleep(self.config.pause_s)
        return total

    async def _vacuum(self) -> None:
        if not self.config.vacuum_pages:
            return
        for _ in range(100_000):  # a few pages per transaction, so a sale never waits long
            free = await self.db.write(lambda s: vacuum_step(s, self.config.vacuum_pages))
            if free <= self.config.vacuum_pages:
                return
            await asyncio.sleep(self.config.pause_s)

    def health(self) -> ComponentHealth:
        detail: dict[str, Any] = {"removed": dict(self.removed), "last_run": self.last_run,
                                  "longest_batch_ms": round(self.longest_batch_ms, 2)}
        return ComponentHealth(Status.UP, detail)
