"""Commit rate and latency of "domain change + outbox event" transactions.

Baseline, in the same run and on the same disk: a bare sqlite3 loop writing the same rows
(sale, counter, outbox event) into the same schema with the same pragmas (WAL,
synchronous=FULL, BEGIN IMMEDIATE): the floor for what our code path has to do.
Target: station rate >= 0.5 x the bare loop.

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

from station.db import migrate
from station.db.engine import Database
from station.db.models import Priority, Sale
from station.db.types import utcnow
from station.outbox import record_event

_SALE_INSERT = Sale.__table__.insert()


def _sale_core(session) -> str:
    """Domain change as a Core insert on the transaction's connection (how hot paths write)."""
    sale_id, now = str(uuid.uuid4()), utcnow()
    session.connection().execute(
        _SALE_INSERT,
        {"id": sale_id, "state": "done", "total_cents": 349, "booked_cents": 349, "created_at": now, "updated_at": now},
    )
    return sale_id


def _sale_orm(session) -> str:
    """Domain change as an ORM object (how state machines write)."""
    sale_id, now = str(uuid.uuid4()), utcnow()
    session.add(Sale(id=sale_id, state="done", total_cents=349, booked_cents=349, created_at=now, updated_at=now))
    session.flush()
    return sale_id


def station_loop(path: Path, n: int, domain_change) -> list[float]:
    migrate.upgrade(path)
    db = Database(path)
    db.open_sync()

    def write(session) -> None:
        sale_id = domain_change(session)
        record_event(session, "sale.completed", {"sale_id": sale_id, "total_cents": 349}, priority=Priority.MONEY)

    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        db.run_sync(write)
        latencies.append(time.perf_counter() - t0)
    db.close_sync()
    return latencies


def bare_loop(path: Path, n: int) -> list[float]:
    """The same rows into the same schema through raw sqlite3: the floor for our code path."""
    migrate.upgrade(path)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    epoch = con.execute("SELECT value FROM station_meta WHERE key='db_epoch'").fetchone()[0]
    latencies = []
    for _ in range(n):
        sale_id = str(uuid.uuid4())
        t0 = time.perf_counter()
        now = utcnow().isoformat(timespec="microseconds")
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            "INSERT INTO sales (id, state, total_cents, booked_cents, created_at, updated_at)"
            " VALUES (?, 'done', 349, 349, ?, ?)",
            (sale_id, now, now),
        )
        seq = con.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'outbox.main' RETURNING value"
        ).fetchone()[0]
        con.execute(
            "INSERT INTO outbox (event_id, db_epoch, stream, seq, type, schema_version, priority, payload,"
            " created_at, expires_at, delivered_at) VALUES (?, ?, 'main', ?, 'sale.completed', 1, 0, ?, ?, NULL, NULL)",
            (str(uuid.uuid4()), epoch, seq, json.dumps({"sale_id": sale_id, "total_cents": 349}), now),
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
    loops = {
        "bare sqlite3": bare_loop,
        "station (core)": lambda p, n: station_loop(p, n, _sale_core),
        "station (orm)": lambda p, n: station_loop(p, n, _sale_orm),
    }
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
    print("ratio = commit rate / bare sqlite3 commit rate (target >= 0.5)")


if __name__ == "__main__":
    main()
