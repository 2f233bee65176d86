"""Compaction and retention keep the HACCP log small and verifiable; a two-year log stays under a stated size."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from station.coldchain import compaction, haccp
from station.coldchain.verify import verify
from station.config.fridge import HaccpConfig
from station.db import migrate
from station.db.engine import Database
from station.db.haccp_models import HaccpRecord
from tests.coldchain.logdata import DAY, T0, day_entries, write_days

CONFIG = HaccpConfig()  # the defaults: 5-minute samples, hourly aggregates after 30 days, 760 days retention
# Measured: one controller with two probes, 730 days, weekly housekeeping: 6,393,856 bytes, 51,711 rows.
ONE_CONTROLLER_TWO_YEARS_MAX_BYTES = 7_000_000  # the stated bound


def rows(db: Database, kind: str | None = None) -> list[HaccpRecord]:
    def query(session: Any) -> list[HaccpRecord]:
        stmt = select(HaccpRecord).order_by(HaccpRecord.id)
        return list(session.scalars(stmt if kind is None else stmt.where(HaccpRecord.kind == kind)))

    return db.run_sync(query, write=False)


def test_compaction_keeps_min_max_mean_per_hour_and_probe_and_the_chain_verifiable(db: Database) -> None:
    rng = random.Random(3)
    written = [e for d in range(33) for e in day_entries(T0 + d * DAY, ["k1"], rng)]
    db.run_sync(lambda s: haccp.append(s, written))
    old = [r for r in rows(db, "sample") if r.at < T0 + 3 * DAY]
    replaced_digest = hashlib.sha256(b"".join(r.hash for r in old)).hexdigest()
    now = T0 + 33 * DAY + timedelta(minutes=7)

    result = db.run_sync(
        lambda s: compaction.housekeeping(
            s, now, older_than=timedelta(days=30), bucket_s=3600, retention=timedelta(days=760)
        )
    )
    assert (result.replaced, result.aggregates, result.pruned) == (len(old), 3 * 24 * 2, 0)
    expected: dict[tuple[Any, ...], list[int | None]] = defaultdict(list)
    for e in written:
        if e.kind == "sample" and e.at < T0 + 3 * DAY:
            expected[(e.at.replace(minute=0), e.fridge, e.probe)].append(e.value_dc)
    aggregates = rows(db, "aggregate")
    assert len(aggregates) == len(expected)
    for agg in aggregates:
        values = expected[(agg.at, agg.fridge, agg.probe)]
        present = [v for v in values if v is not None]
        assert agg.n == len(values) == 12
        assert (agg.min_dc, agg.max_dc, agg.mean_dc) == (min(present), max(present), round(sum(present) / len(present)))
        missing = len(values) - len(present)
        assert (f"missing:{missing}" in (agg.status or "")) == (missing > 0)
    assert any("defrost" in (a.status or "") for a in aggregates)
    (record,) = rows(db, "compaction")
    detail = json.loads(record.detail or "{}")
    assert detail["removed"] == len(old) and detail["digest"] == replaced_digest
    assert len(rows(db, "event")) == 33  # events are kept
    assert not [r for r in rows(db, "sample") if r.at < T0 + 3 * DAY]
    assert db.run_sync(verify, write=False).ok

    for day in (34, 35):  # later compactions cut next to the earlier gaps: links are followed across them
        db.run_sync(lambda s, d=day: haccp.append(s, day_entries(T0 + (d - 1) * DAY, ["k1"], rng)))
        db.run_sync(lambda s, d=day: compaction.compact(s, T0 + d * DAY, older_than=timedelta(days=30), bucket_s=3600))
        assert db.run_sync(verify, write=False).ok

    victim = aggregates[10]
    db.run_sync(lambda s: s.get_one(HaccpRecord, victim.id).__setattr__("max_dc", victim.max_dc - 30))
    report = db.run_sync(verify, write=False)
    assert report.first_problem is not None and report.first_problem.row_id == victim.id


def test_pruning_past_the_retention_keeps_the_chain_verifiable(db: Database) -> None:
    rng = random.Random(4)
    db.run_sync(lambda s: write_days(s, T0, 10, ["k1"], rng, CONFIG, housekeeping=False))
    pruned, prune_id = db.run_sync(lambda s: compaction.prune(s, T0 + 12 * DAY, retention=timedelta(days=5)))
    assert pruned > 0 and prune_id is not None
    assert min(r.at for r in rows(db) if r.kind != "compaction") >= T0 + 7 * DAY
    assert db.run_sync(verify, write=False).ok


def two_year_log(path: Path, fridges: list[str], days: int, every_days: int, seed: int = 1) -> Database:
    """Write `days` days for `fridges`, running housekeeping every `every_days` (one transaction each)."""
    migrate.upgrade(path)
    db = Database(path)
    db.open_sync()
    rng = random.Random(seed)
    for first in range(0, days, every_days):
        span = min(every_days, days - first)

        def work(session: Any, first: int = first, span: int = span) -> None:
            write_days(session, T0 + first * DAY, span, fridges, rng, CONFIG, housekeeping=False)
            compaction.housekeeping(
                session,
                T0 + (first + span) * DAY,
                older_than=timedelta(days=CONFIG.compact_after_days),
                bucket_s=CONFIG.aggregate_s,
                retention=timedelta(days=CONFIG.retention_days),
            )

        db.run_sync(work)
    return db


def file_size(db: Database) -> int:
    db.close_sync()  # the last connection checkpoints the WAL into the file
    return db.path.stat().st_size


def test_a_two_year_log_of_one_controller_stays_under_7_mb(tmp_path: Path) -> None:
    db = two_year_log(tmp_path / "two-years.db", ["k1"], 730, every_days=7)
    report = db.run_sync(verify, write=False)
    assert report.ok and report.rows > 50_000
    count_by_kind = select(HaccpRecord.kind, func.count()).group_by(HaccpRecord.kind)
    kinds = db.run_sync(lambda s: dict(s.execute(count_by_kind).all()), write=False)
    assert kinds["aggregate"] >= 699 * 24 * 2 and kinds["sample"] <= 38 * 288 * 2  # hourly rows, recent raw samples
    size = file_size(db)
    print(f"two-year HACCP log, 1 controller x 2 probes: {size} bytes, {report.rows} rows")
    assert size < ONE_CONTROLLER_TWO_YEARS_MAX_BYTES


@pytest.mark.slow
def test_eight_controllers_stay_bounded_once_retention_prunes(tmp_path: Path) -> None:
    """8 controllers x 2 probes: size at 2 years, and flat after the retention starts pruning (900 days)."""
    db = two_year_log(tmp_path / "eight.db", [f"k{i}" for i in range(8)], 760, every_days=1)
    assert db.run_sync(verify, write=False).ok
    at_retention = file_size(db)
    db.open_sync()
    rng = random.Random(9)
    for day in range(760, 900):
        db.run_sync(lambda s, d=day: write_days(s, T0 + d * DAY, 1, [f"k{i}" for i in range(8)], rng, CONFIG))
    assert db.run_sync(verify, write=False).ok
    later = file_size(db)
    print(f"8 controllers: {at_retention} bytes after 760 days, {later} bytes after 900 days")
    assert later < at_retention * 1.05 and at_retention < 8 * ONE_CONTROLLER_TWO_YEARS_MAX_BYTES
