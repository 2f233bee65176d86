"""Two years of history, written straight into the database in bulk.

Real rows are the templates: the day-one purchases (made through the daemon's API) and restocks
(`contents.load`, as the restock flow calls it) are read back from the database, then copied for
every past day with fresh identities (every sale id, event id, receipt id … replaced consistently
in every column and payload), their date moved to that day, and their outbox events acknowledged.
Integer keys are left to SQLite; an integer reference inside a copy (an audit id in a payload)
still names the template's row. The HACCP log gets what compaction leaves: samples for the last
`compact_after_days`, hourly min/max/mean before that, chained and hashed as the daemon does.
"""

from __future__ import annotations

import random
import re
import secrets
import sqlite3
import uuid
from collections.abc import Callable, Collection, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from station.coldchain import haccp
from station.compartments.contents import load
from station.config import Config
from station.db import migrate
from station.db.engine import Database
from station.db.models import Compartment, CompartmentContent, Product
from station.db.types import utcnow
from station.demo import seed_demo_stock

from .station import SAMPLE_INTERVAL_S, ZONES

HISTORY = ("sales", "sale_lines", "payments", "door_operations", "audit_log", "outbox", "receipts", "print_jobs",
           "orders", "vouchers", "deposit_returns")  # fmt: skip  (alarms come with faults, not with sales)
FROZEN = ("4031234567895", "Himbeeren TK 300 g", 349, 0, "frozen", 700)
_IDENTITY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9_-]{16,}")


def with_db(path: Path, fn: Callable[[Session], Any]) -> Any:
    db = Database(path)
    db.open_sync()
    try:
        return db.run_sync(fn)
    finally:
        db.close_sync()


def prepare(config: Config, free: Collection[int] = ()) -> None:
    """Schema, catalogue, and goods in every compartment but the `free` ones (the demo loads only the first few)."""
    migrate.upgrade(config.database.path)

    def stock(session: Session) -> None:
        seed_demo_stock(session, config)
        gtin, name, price, deposit, klass, vat = FROZEN
        session.add(Product(gtin=gtin, name=name, price_cents=price, deposit_cents=deposit, vat_rate_bp=vat,
                            temperature_class=klass, updated_at=utcnow()))
        session.flush()
        restock(session, [c.id for c in config.compartments if c.id not in free], config)

    with_db(config.database.path, stock)


def restock(session: Session, compartments: list[int], config: Config, actor: str = "bench") -> None:
    """Goods that fit each compartment's zone into every listed compartment that is empty."""
    zones = {c.id: c.zone for c in config.compartments}
    full = set(session.scalars(select(CompartmentContent.compartment_id)))
    gtins = {"chilled": ["4006381333931"], "frozen": [FROZEN[0]],
             None: ["4001234567890", "4012345678901", "4023456789012"]}  # no totals ending in ,99 (declined)
    for number in compartments:
        if number in full:
            continue
        klass = ZONES.get(zones[number] or "") if zones[number] else None
        choice = gtins[klass][number % len(gtins[klass])]
        load(session, number, choice, 1 + number % 3, best_before=date.today() + timedelta(days=5 + number % 20),
             actor=actor)


def marks(path: Path) -> dict[str, int]:
    """The newest rowid of every history table: what was written after it is a template."""
    with sqlite3.connect(path) as con:
        return {t: con.execute(f"SELECT coalesce(max(rowid), 0) FROM {t}").fetchone()[0] for t in HISTORY}


def template(path: Path, since: dict[str, int], until: dict[str, int] | None = None,
             ) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Rows written after `since` (up to `until`), per table: (columns without an integer key, rows).

    Telemetry events are left out: they come with time, not with sales.
    """
    found = {}
    with sqlite3.connect(path) as con:
        for table in HISTORY:
            info = con.execute(f"PRAGMA table_info({table})").fetchall()
            columns = [c[1] for c in info if not (c[5] and c[2].upper() == "INTEGER")]
            last = (until or {}).get(table, 1 << 62)
            where = " AND stream = 'main'" if table == "outbox" else ""
            rows = con.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE rowid > ? AND rowid <= ?{where}",
                               (since[table], last)).fetchall()
            if rows:
                found[table] = (columns, rows)
    return found


def forget(path: Path, since: dict[str, int]) -> None:
    """Remove the day-one rows once they are templates: the copies for every day, today's too, replace them.

    Rowid order must stay creation order (retention scans from the oldest rowid and stops at the
    first young window), so the history goes in first and nothing of today may sit in front of it.
    """
    with sqlite3.connect(path) as con:
        for table in reversed(HISTORY):
            con.execute(f"DELETE FROM {table} WHERE rowid > ?", (since[table],))


def set_up_before(path: Path, first: datetime) -> None:
    """The rows of setting the station up (catalogue, first goods, the account) dated the day before the history."""
    stamp = (first - timedelta(days=1)).isoformat(timespec="microseconds")
    with sqlite3.connect(path) as con:
        con.execute("UPDATE audit_log SET at = ?", (stamp,))
        con.execute("UPDATE outbox SET created_at = ?, delivered_at = ?", (stamp, stamp))


def identities(rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> set[str]:
    """Text keys of the template rows (sale, event, receipt, job ids): each copy gets new ones."""
    keys = {"sales": "id", "outbox": "event_id", "receipts": "id", "print_jobs": "id", "payments": "id",
            "vouchers": "id", "orders": "external_id", "deposit_returns": "id"}  # fmt: skip
    found = set()
    for table, (columns, table_rows) in rows.items():
        if keys.get(table) in columns:
            index = columns.index(keys[table])
            found.update(str(r[index]) for r in table_rows if isinstance(r[index], str))
    return found


def _new_like(old: str) -> str:
    return str(uuid.uuid4()) if len(old) == 36 and old.count("-") == 4 else secrets.token_urlsafe(len(old) * 3 // 4)


def copies(rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]], day: date, today: str,
           ) -> Iterator[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """One copy of the template rows on `day`: new identities, the date moved, events acknowledged."""
    known = identities(rows)
    mapping = {old: _new_like(old) for old in known}
    moved = day.isoformat()

    def fix(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = _IDENTITY.sub(lambda m: mapping.get(m.group(0), m.group(0)), value)
        return value.replace(today, moved)

    for table, (columns, table_rows) in rows.items():
        fixed = [tuple(fix(v) for v in row) for row in table_rows]
        if table == "outbox":
            created, delivered = columns.index("created_at"), columns.index("delivered_at")
            fixed = [(*r[:delivered], r[created], *r[delivered + 1:]) for r in fixed]
        yield table, columns, fixed


def write_history(path: Path, units: list[tuple[dict[str, Any], float]], first: date, days: int,
                  progress: Callable[[str], None]) -> None:
    """Copies of each template unit, `per_day` times a day (fractions spread evenly), for `days` days before today."""
    today = utcnow().date().isoformat()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA foreign_keys=OFF")
    counters = {"main": "outbox.main", "telemetry": "outbox.telemetry"}
    seq = {stream: con.execute("SELECT coalesce(max(value), 0) FROM counters WHERE name = ?", (name,)).fetchone()[0]
           for stream, name in counters.items()}  # fmt: skip
    owed = [0.0 for _ in units]
    for offset in range(days):
        day = first + timedelta(days=offset)
        con.execute("BEGIN")
        for index, (rows, per_day) in enumerate(units):
            owed[index] += per_day
            while owed[index] >= 1:
                owed[index] -= 1
                for table, columns, fixed in copies(rows, day, today):
                    if table == "outbox":
                        fixed = _renumber(fixed, columns, seq)
                    marks_ = ", ".join("?" * len(columns))
                    con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks_})", fixed)
        con.execute("COMMIT")
        if offset % 73 == 0:
            progress(f"history {offset}/{days} days")
    for stream, value in seq.items():
        con.execute("UPDATE counters SET value = ? WHERE name = ?", (value, counters.get(stream, stream)))
    con.execute("UPDATE outbox SET delivered_at = created_at WHERE delivered_at IS NULL")
    con.close()


def _renumber(rows: list[tuple[Any, ...]], columns: list[str], seq: dict[str, int]) -> list[tuple[Any, ...]]:
    stream, number = columns.index("stream"), columns.index("seq")
    out = []
    for row in rows:
        seq[row[stream]] = seq.get(row[stream], 0) + 1
        out.append((*row[:number], seq[row[stream]], *row[number + 1:]))
    return out


def write_haccp(path: Path, config: Config, first: datetime, days: int, progress: Callable[[str], None],
                recent: datetime) -> int:
    """The HACCP log of `days` days from `first` as compaction leaves it (samples from `recent` on)."""
    rng = random.Random(7)
    probes = [(name, -180 if ZONES[f.zone] == "frozen" else 40) for name, f in config.fridges.items()]
    written = 0

    def entries(start: datetime, end: datetime) -> Iterator[haccp.Entry]:
        at = start
        while at < end:
            if at < recent:
                for fridge, base in probes:
                    values = [base + rng.randint(-8, 8) for _ in range(3600 // SAMPLE_INTERVAL_S)]
                    yield haccp.Entry(at, "aggregate", fridge, "product", min_dc=min(values), max_dc=max(values),
                                      mean_dc=round(sum(values) / len(values)), n=len(values))
                at += timedelta(hours=1)
            else:
                for fridge, base in probes:
                    yield haccp.Entry(at, "sample", fridge, "product", value_dc=base + rng.randint(-8, 8))
                at += timedelta(seconds=SAMPLE_INTERVAL_S)

    db = Database(path)
    db.open_sync()
    try:
        for offset in range(days):
            start = first + timedelta(days=offset)
            written += len(db.run_sync(lambda s, a=start: haccp.append(s, entries(a, a + timedelta(days=1)))))
            if offset % 73 == 0:
                progress(f"HACCP log {offset}/{days} days")
    finally:
        db.close_sync()
    return written


def drop_haccp(path: Path) -> None:
    """Start the log afresh (the day-one run's few minutes), so its ids stay in time order with the history."""
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM haccp_log")
        con.execute("DELETE FROM station_meta WHERE key = ?", (haccp.HEAD_KEY,))


def start_of(days_ago: int) -> datetime:
    now = utcnow()
    return datetime(now.year, now.month, now.day, tzinfo=UTC) - timedelta(days=days_ago)


def compartments(path: Path) -> list[int]:
    return list(with_db(path, lambda s: list(s.scalars(select(Compartment.id).order_by(Compartment.id)))))
