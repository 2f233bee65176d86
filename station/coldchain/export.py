"""CSV export of the HACCP log for the food inspector (German column names, ISO dates, Excel-friendly).

Format: UTF-8 with a byte-order mark, `;` as separator and a decimal comma, so that a German Excel
opens it as a table. Every row of the log in the period appears once, with its kind, its values and
its chain hash (so a copy can later be checked against the station's chain).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..db.types import to_db_time
from . import haccp
from .haccp import SELECT_ROWS

HEADER = [
    "Zeitpunkt (UTC)",
    "Zeitpunkt (lokal)",
    "Art",
    "Kühlgerät",
    "Fühler",
    "Temperatur °C",
    "Min °C",
    "Max °C",
    "Mittel °C",
    "Anzahl Messungen",
    "Status",
    "Details",
    "Datensatz",
    "Prüfsumme (SHA-256)",
]
KINDS = {"sample": "Messung", "event": "Ereignis", "aggregate": "Stundenwert", "compaction": "Verdichtung"}


def day_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start of `first`, start of the day after `last`) in the station's local time."""
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    start = datetime.combine(first, time.min, tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tz)
    return start, end


def _number(value_dc: int | None) -> str:
    """Tenths of a degree → '4,3' (decimal comma); empty when there is no value."""
    if value_dc is None:
        return ""
    return f"{value_dc / 10:.1f}".replace(".", ",")


def rows_between(session: Session, start: datetime, end: datetime) -> Iterator[tuple[Any, ...]]:
    """Stored rows with start <= at < end, in time order (aggregates sit at their interval's start)."""
    cur = haccp.raw_cursor(session)
    try:
        cur.execute(SELECT_ROWS + " WHERE at >= ? AND at < ? ORDER BY at, id", (to_db_time(start), to_db_time(end)))
        while batch := cur.fetchmany(5000):
            yield from batch
    finally:
        cur.close()


def _detail_text(detail: str | None) -> str:
    if not detail:
        return ""
    return json.dumps(json.loads(detail), ensure_ascii=False, sort_keys=True)


def write_csv(session: Session, start: datetime, end: datetime, out: IO[str], tz: ZoneInfo) -> int:
    """Write the period's rows to `out` (opened with newline=''); returns the number of data rows."""
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    out.write("\ufeff")
    writer.writerow(HEADER)
    count = 0
    for ident, at, kind, fridge, probe, value, low, high, mean, n, status, detail, digest in rows_between(
        session, start, end
    ):
        moment = datetime.fromisoformat(at)
        writer.writerow(
            [
                moment.isoformat(timespec="seconds"),
                moment.astimezone(tz).isoformat(timespec="seconds"),
                KINDS.get(kind, kind),
                fridge or "",
                probe or "",
                _number(value),
                _number(low),
                _number(high),
                _number(mean),
                "" if n is None else n,
                status or "",
                _detail_text(detail),
                ident,
                bytes(digest).hex(),
            ]
        )
        count += 1
    return count
