"""Keep the HACCP log small: old samples become per-interval aggregates, rows past retention are pruned.

Compaction replaces every `sample` row older than the cut-off (rounded down to a whole interval, so
only complete intervals are summarised) with one `aggregate` row per probe and interval: min, max and
mean of the temperatures, `n` samples, and the status flags seen (`missing:k` for samples without a
value, so an unknown period stays visible). Events and aggregates are kept. Pruning removes rows of
any kind but `compaction` older than the retention. Both go through `haccp.remove_rows`, which writes
the chained `compaction` row first, so the chain stays verifiable (see `haccp`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..db.types import to_db_time
from . import haccp
from .haccp import Entry


@dataclass(frozen=True)
class CompactionResult:
    replaced: int  # sample rows replaced by aggregates
    aggregates: int
    pruned: int
    compaction_ids: tuple[int, ...]


def _floor(at: datetime, bucket_s: int) -> datetime:
    seconds = int(at.timestamp())
    return datetime.fromtimestamp(seconds - seconds % bucket_s, UTC)


def _flags(status: str | None) -> set[str]:
    return {f for f in (status or "").split(",") if f}


def _aggregate(rows: list[tuple[Any, ...]], bucket_s: int) -> list[Entry]:
    """rows: (at text, fridge, probe, value_dc, status) → one aggregate Entry per (interval, fridge, probe)."""
    groups: dict[tuple[datetime, str, str], list[tuple[int | None, str | None]]] = defaultdict(list)
    for at, fridge, probe, value, status in rows:
        groups[(_floor(datetime.fromisoformat(at), bucket_s), fridge, probe)].append((value, status))
    entries = []
    for (start, fridge, probe), samples in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        values = [v for v, _ in samples if v is not None]
        flags = set().union(*(_flags(s) for _, s in samples))
        missing = len(samples) - len(values)
        if missing:
            flags.add(f"missing:{missing}")
        entries.append(
            Entry(
                at=start,
                kind="aggregate",
                fridge=fridge,
                probe=probe,
                min_dc=min(values) if values else None,
                max_dc=max(values) if values else None,
                mean_dc=round(sum(values) / len(values)) if values else None,
                n=len(samples),
                status=",".join(sorted(flags))[:200] or None,
            )
        )
    return entries


def _select(session: Session, where: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    cur = haccp.raw_cursor(session)
    try:
        return cur.execute(
            f"SELECT id, at, fridge, probe, value_dc, status FROM haccp_log WHERE {where}", params
        ).fetchall()
    finally:
        cur.close()


def compact(session: Session, now: datetime, *, older_than: timedelta, bucket_s: int) -> tuple[int, int, int | None]:
    """Replace samples older than `now - older_than` by aggregates; returns (replaced, aggregates, compaction id)."""
    cutoff = _floor(now - older_than, bucket_s)
    rows = _select(session, "kind = 'sample' AND at < ? ORDER BY id", (to_db_time(cutoff),))
    if not rows:
        return 0, 0, None
    aggregates = _aggregate([r[1:] for r in rows], bucket_s)
    summary = {"before": to_db_time(cutoff), "interval_s": bucket_s, "aggregates": len(aggregates)}
    compaction_id = haccp.remove_rows(session, [r[0] for r in rows], now, "compaction", summary)
    haccp.append(session, aggregates)
    return len(rows), len(aggregates), compaction_id


def prune(session: Session, now: datetime, *, retention: timedelta) -> tuple[int, int | None]:
    """Remove rows (not compaction rows) older than the retention; returns (pruned, compaction id)."""
    cutoff = now - retention
    rows = _select(session, "kind != 'compaction' AND at < ? ORDER BY id", (to_db_time(cutoff),))
    if not rows:
        return 0, None
    summary = {"before": to_db_time(cutoff)}
    return len(rows), haccp.remove_rows(session, [r[0] for r in rows], now, "retention", summary)


def housekeeping(
    session: Session, now: datetime, *, older_than: timedelta, bucket_s: int, retention: timedelta
) -> CompactionResult:
    """Compaction then pruning, in the caller's transaction."""
    replaced, aggregates, compaction_id = compact(session, now, older_than=older_than, bucket_s=bucket_s)
    pruned, prune_id = prune(session, now, retention=retention)
    ids = tuple(i for i in (compaction_id, prune_id) if i is not None)
    return CompactionResult(replaced, aggregates, pruned, ids)
