"""The temperatures of the last hours per fridge, for the volunteers' chart: a read model over the HACCP log.

Samples and hourly aggregates of each controller's product probe are put into equal time buckets
(lowest, highest and mean per bucket), with the zone's limit and its tolerated brief-rise ceiling
(`coldchain.limits`) so the chart can draw them. Read only; the HACCP log is never changed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..coldchain.haccp import raw_cursor
from ..db.types import to_db_time
from .endofday import ProbeOfZone


@dataclass(frozen=True)
class ZoneLimits:
    limit_c: float | None  # the zone's limit (°C), none for an ambient zone
    ceiling_c: float | None  # a tolerated brief rise above the limit (frozen goods), or none


def chart(session: Session, probes: Sequence[ProbeOfZone], limits: Mapping[str, ZoneLimits], start: datetime,
          end: datetime, buckets: int) -> list[dict[str, Any]]:
    """Per fridge: its zone, limits and the buckets that have readings (°C, bucket start as ISO-8601 UTC)."""
    width = (end - start) / buckets
    out = []
    for probe in probes:
        rows = _rows(session, probe, start, end)
        cells: dict[int, list[float]] = {}
        for at_text, low, high, mean in rows:
            index = min(buckets - 1, int((datetime.fromisoformat(at_text) - start) / width))
            cell = cells.setdefault(index, [low, high, 0.0, 0])
            cell[0], cell[1] = min(cell[0], low), max(cell[1], high)
            cell[2] += mean
            cell[3] += 1
        zone = limits.get(probe.zone, ZoneLimits(None, None))
        points = [{"at": (start + width * i).isoformat(), "min_c": c[0] / 10, "max_c": c[1] / 10,
                   "mean_c": round(c[2] / c[3] / 10, 1)} for i, c in sorted(cells.items())]  # fmt: skip
        out.append({"fridge": probe.fridge, "zone": probe.zone, "probe": probe.probe, "limit_c": zone.limit_c,
                    "ceiling_c": zone.ceiling_c, "points": points})  # fmt: skip
    return out


def _rows(session: Session, probe: ProbeOfZone, start: datetime, end: datetime) -> list[tuple[str, int, int, float]]:
    """(at, lowest, highest, mean) in tenths of a degree, samples and aggregates, oldest first."""
    cur = raw_cursor(session)
    try:
        cur.execute(
            "SELECT at, COALESCE(min_dc, value_dc), COALESCE(max_dc, value_dc), COALESCE(mean_dc, value_dc) "
            "FROM haccp_log WHERE fridge = ? AND probe = ? AND at >= ? AND at < ? "
            "AND kind IN ('sample', 'aggregate') AND COALESCE(mean_dc, value_dc) IS NOT NULL ORDER BY at",
            (probe.fridge, probe.probe, to_db_time(start), to_db_time(end)),
        )
        return [row for row in cur.fetchall() if row[1] is not None]
    finally:
        cur.close()
