"""Synthetic HACCP log days, written with the service's own functions (fast: no polling)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from station.coldchain import compaction, haccp
from station.coldchain.haccp import Entry
from station.config.fridge import HaccpConfig

DAY = timedelta(days=1)


def day_entries(
    start: datetime,
    fridges: list[str],
    rng: random.Random,
    *,
    interval_s: int = 300,
    probes: tuple[str, ...] = ("probe1", "probe2"),
) -> list[Entry]:
    """One day of samples (a chilled-cabinet-like signal, the odd missing value and defrost flag), plus one event."""
    entries: list[Entry] = []
    for i in range(86_400 // interval_s):
        at = start + timedelta(seconds=i * interval_s)
        for fridge in fridges:
            for probe in ("probe1", "probe2"):
                missing = rng.random() < 0.002
                value = None if missing else rng.randint(20, 65) - (80 if probe == "probe2" else 0)
                status = "no_answer" if missing else ("defrost" if i % 72 == 0 else None)
                entries.append(Entry(at=at, kind="sample", fridge=fridge, probe=probe, value_dc=value, status=status))
        if i == 100:
            entries.append(Entry(at=at, kind="event", status="door_check", detail={"fridge": fridges[0], "i": i}))
    return entries


def write_days(
    session: Session,
    first_day: datetime,
    days: int,
    fridges: list[str],
    rng: random.Random,
    config: HaccpConfig,
    *,
    housekeeping: bool = True,
) -> None:
    """Append `days` days, running the service's housekeeping (compaction, pruning) at the end of each."""
    for d in range(days):
        start = first_day + d * DAY
        haccp.append(session, day_entries(start, fridges, rng))
        if housekeeping:
            compaction.housekeeping(
                session,
                start + DAY,
                older_than=timedelta(days=config.compact_after_days),
                bucket_s=config.aggregate_s,
                retention=timedelta(days=config.retention_days),
            )


T0 = datetime(2027, 1, 1, tzinfo=UTC)
