"""Commit rate and latency of the write path every flow uses: one arrow on the flow engine.

Per transaction: a new sale row (with one line) is created and moved by one arrow (created →
cancelled) through `station.flows.engine.transition`: state check and update, the audit entry, the
gap-free outbox sequence and the event with its payload (sale, lines, payment).

Baseline, in the same run and on the same disk: a bare sqlite3 loop writing exactly the same rows
(sale, line, state update, audit entry, counter, outbox event with the same payload) into the same
schema with the same pragmas (WAL, synchronous=FULL, BEGIN IMMEDIATE): the floor for what the flow
path has to do. Target: flow rate >= 0.6 x the bare loop.

    .venv/bin/python bench/bench_outbox.py [--n 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from station.db import migrate
from station.db.engine import Database
from station.db.types import to_db_time, utcnow
from station.flows.engine import transition
from station.purchase.flow import SALE, SaleState, insert_line


def _seed(session: Any) -> None:
    from station.compartments.owner import sync_configured
    from station.config import CompartmentConfig
    from station.db.models import Product

    session.add(Product(gtin="4001234567890", name="Brot", price_cents=420, updated_at=utcnow()))
    session.flush()
    sync_configured(session, [CompartmentConfig(id=1, bus="wall", board=0, lock=1)])


def flow_loop(path: Path, n: int) -> list[float]:
    migrate.upgrade(path)
    db = Database(path)
    db.open_sync()
    db.run_sync(_seed)

    def write(session: Any) -> None:
        sale_id, now = str(uuid.uuid4()), utcnow()
        SALE.insert(session, {"id": sale_id, "state": "created", "total_cents": 420, "booked_cents": 0,
                              "created_at": now, "updated_at": now})
        insert_line(session, {"sale_id": sale_id, "compartment_id": 1, "product_id": 1, "quantity": 1,
                              "unit_price_cents": 420, "deposit_cents": 0, "vat_rate_bp": 700,
                              "gtin": "4001234567890", "state": "not_released"})
        transition(session, SALE, sale_id, SaleState.CANCELLED, actor="shopper", reason="sale", reference=sale_id)

    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        db.run_sync(write)
        latencies.append(time.perf_counter() - t0)
    db.close_sync()
    return latencies


def bare_loop(path: Path, n: int) -> list[float]:
    """The same rows into the same schema through raw sqlite3: the floor for the flow path."""
    migrate.upgrade(path)
    db = Database(path)
    db.open_sync()
    db.run_sync(_seed)
    db.close_sync()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    epoch = con.execute("SELECT value FROM station_meta WHERE key='db_epoch'").fetchone()[0]
    latencies = []
    for _ in range(n):
        sale_id = str(uuid.uuid4())
        t0 = time.perf_counter()
        now = to_db_time(utcnow())
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO sales (id, state, total_cents, booked_cents, created_at, updated_at)"
                    " VALUES (?, 'created', 420, 0, ?, ?)", (sale_id, now, now))
        con.execute("INSERT INTO sale_lines (sale_id, compartment_id, product_id, quantity, unit_price_cents,"
                    " deposit_cents, vat_rate_bp, gtin, state) VALUES (?, 1, 1, 1, 420, 0, 700, '4001234567890',"
                    " 'not_released')", (sale_id,))
        con.execute("SELECT state FROM sales WHERE id = ?", (sale_id,)).fetchone()
        con.execute("UPDATE sales SET state = 'cancelled', updated_at = ? WHERE id = ?", (now, sale_id))
        audit_id = con.execute(
            "INSERT INTO audit_log (at, actor, action, subject, reason, reference, details)"
            " VALUES (?, 'shopper', 'sale.cancelled', ?, 'sale', ?, ?) RETURNING id",
            (now, f"sale:{sale_id}", sale_id, json.dumps({"from": "created"})),
        ).fetchone()[0]
        seq = con.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'outbox.main' RETURNING value"
        ).fetchone()[0]
        payload = {"sale_id": sale_id, "state": "cancelled", "total_cents": 420, "booked_cents": 0,
                   "lines": [{"compartment": 1, "product_id": 1, "gtin": "4001234567890", "quantity": 1,
                              "unit_price_cents": 420, "deposit_cents": 0, "vat_rate_bp": 700,
                              "state": "not_released"}],
                   "payment": None, "from": "created", "actor": "shopper", "reference": sale_id,
                   "audit_id": audit_id}
        con.execute(
            "INSERT INTO outbox (event_id, db_epoch, stream, seq, type, schema_version, priority, payload,"
            " created_at, expires_at, delivered_at) VALUES (?, ?, 'main', ?, 'sale.cancelled', 1, 0, ?, ?, NULL, NULL)",
            (str(uuid.uuid4()), epoch, seq, json.dumps(payload), now),
        )
        con.execute("COMMIT")
        latencies.append(time.perf_counter() - t0)
    con.close()
    return latencies


def summary(latencies: list[float]) -> tuple[float, float, float]:
    ordered = sorted(latencies)
    rate = len(ordered) / sum(ordered)
    return rate, statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    loops = {"bare sqlite3": bare_loop, "flow engine": flow_loop}
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in loops}
    with tempfile.TemporaryDirectory(dir=Path(__file__).resolve().parents[1]) as tmp:
        for r in range(args.rounds):  # interleaved, so every loop sees the same machine noise
            for i, (name, loop) in enumerate(loops.items()):
                rows[name].append(summary(loop(Path(tmp) / f"{r}-{i}.db", args.n)))
    print(f"{args.n} transactions x {args.rounds} rounds (medians over rounds), WAL + synchronous=FULL")
    print(f"{'loop':<16}{'commits/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'ratio':>8}")
    med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in rows.items()}
    base = med["bare sqlite3"][0]
    for name, (rate, p50, p99) in med.items():
        print(f"{name:<16}{rate:>12.0f}{p50:>10.3f}{p99:>10.3f}{rate / base:>8.2f}")
    print("ratio = commit rate / bare sqlite3 commit rate (target >= 0.6)")


if __name__ == "__main__":
    main()
