"""The HACCP log: append-only rows in one SHA-256 hash chain.

Each row's hash is SHA-256(previous row's hash ‖ canonical JSON of the row's columns as stored,
id included); the first row chains from 32 zero bytes. Editing a row breaks its own hash; deleting
one breaks the next row's. The newest row's id and hash are also kept in `station_meta`
(`haccp.head`), so cutting rows off the end shows too, and every compaction sends that head to the
platform (`haccp.anchor` event): an external copy that a rewrite of the whole chain cannot match.

Compaction and pruning delete rows, which would break the chain where they were. So before deleting,
they append a `compaction` row whose `detail.links` list, for every run of consecutive rows removed,
`[hash of the row before the run, hash of the run's last row]`. The verifier, meeting a row whose
predecessor is gone, follows those links from the last row it verified to the hash the row was
chained to. The compaction row itself is in the chain, so the links cannot be altered unseen either,
and `detail.digest` (SHA-256 over the removed rows' hashes) pins exactly what was replaced.
All functions here take the caller's session and run inside its transaction (on the `db` thread).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..db.engine import raw_cursor as db_raw_cursor
from ..db.types import to_db_time

GENESIS = bytes(32)
HEAD_KEY = "haccp.head"
COLUMNS = ("id", "at", "kind", "fridge", "probe", "value_dc", "min_dc", "max_dc", "mean_dc", "n", "status", "detail")
SELECT_ROWS = f"SELECT {', '.join(COLUMNS)}, hash FROM haccp_log"
_INSERT = f"INSERT INTO haccp_log ({', '.join(COLUMNS)}, hash) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"

Row = tuple[Any, ...]  # the COLUMNS in order, as stored (at as text, detail as JSON text)


@dataclass(frozen=True)
class Entry:
    """A row to append; temperatures in tenths of a degree (`to_dc`)."""

    at: datetime
    kind: str  # sample | event | aggregate | compaction
    fridge: str | None = None
    probe: str | None = None
    value_dc: int | None = None
    min_dc: int | None = None
    max_dc: int | None = None
    mean_dc: int | None = None
    n: int | None = None
    status: str | None = None
    detail: dict[str, Any] | None = None


def to_dc(celsius: float | None) -> int | None:
    """Celsius → integer tenths (the probes' resolution); None stays None."""
    return None if celsius is None else round(celsius * 10)


def from_dc(value: int | None) -> float | None:
    return None if value is None else value / 10


def canonical_json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(prev: bytes, row: Row) -> bytes:
    """SHA-256 over the previous hash and the row's stored column values (id first)."""
    payload = json.dumps(list(row), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(prev + payload).digest()


def raw_cursor(session: Session) -> Any:
    """The sqlite3 cursor of the session's transaction: bulk rows without the ORM (as the outbox does)."""
    return db_raw_cursor(session)


def head(session: Session) -> tuple[int, bytes]:
    """(id, hash) of the newest row, or (0, GENESIS) for an empty log."""
    cur = raw_cursor(session)
    try:
        row = cur.execute("SELECT id, hash FROM haccp_log ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        cur.close()
    return (0, GENESIS) if row is None else (row[0], bytes(row[1]))


def stored_head(session: Session) -> tuple[int, bytes] | None:
    """The head as last recorded in station_meta (`id:hexhash`), None when never written."""
    cur = raw_cursor(session)
    try:
        row = cur.execute("SELECT value FROM station_meta WHERE key = ?", (HEAD_KEY,)).fetchone()
    finally:
        cur.close()
    if row is None:
        return None
    ident, _, digest = row[0].partition(":")
    return int(ident), bytes.fromhex(digest)


def append(session: Session, entries: Iterable[Entry]) -> list[int]:
    """Append rows to the chain in the caller's transaction; returns their ids."""
    last_id, prev = head(session)
    rows: list[Row] = []
    for entry in entries:
        last_id += 1
        row: Row = (
            last_id, to_db_time(entry.at), entry.kind, entry.fridge, entry.probe, entry.value_dc,
            entry.min_dc, entry.max_dc, entry.mean_dc, entry.n, entry.status, canonical_json(entry.detail),
        )  # fmt: skip
        prev = row_hash(prev, row)
        rows.append((*row, prev))
    if not rows:
        return []
    cur = raw_cursor(session)
    try:
        cur.executemany(_INSERT, rows)
        cur.execute(
            "INSERT INTO station_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (HEAD_KEY, f"{last_id}:{prev.hex()}"),
        )
    finally:
        cur.close()
    return [r[0] for r in rows]


def link_runs(rows: Sequence[tuple[int, bytes]], remove: set[int], before: bytes) -> list[list[str]]:
    """Links for removing `remove` from `rows` ((id, hash) in id order, starting right after a row hashed `before`).

    One link `[hash before the run, hash of the run's last row]` per run of consecutive removed rows.
    """
    links: list[list[str]] = []
    prev, run_last = before, None
    run_start = prev
    for ident, digest in rows:
        if ident in remove:
            if run_last is None:
                run_start = prev
            run_last = digest
        elif run_last is not None:
            links.append([run_start.hex(), run_last.hex()])
            run_last = None
        prev = digest
    if run_last is not None:
        links.append([run_start.hex(), run_last.hex()])
    return links


def hash_before(session: Session, ident: int) -> bytes:
    """Hash of the surviving row just before `ident` (GENESIS at the start)."""
    cur = raw_cursor(session)
    try:
        row = cur.execute("SELECT hash FROM haccp_log WHERE id < ? ORDER BY id DESC LIMIT 1", (ident,)).fetchone()
    finally:
        cur.close()
    return GENESIS if row is None else bytes(row[0])


def remove_rows(
    session: Session, remove: Sequence[int], at: datetime, reason: str, summary: dict[str, Any]
) -> int | None:
    """Delete rows (ids in any order) after appending the `compaction` row that keeps the chain verifiable.

    Returns the compaction row's id, or None when there was nothing to remove.
    """
    if not remove:
        return None
    ordered = sorted(remove)
    cur = raw_cursor(session)
    try:
        span = cur.execute(
            "SELECT id, hash FROM haccp_log WHERE id BETWEEN ? AND ? ORDER BY id", (ordered[0], ordered[-1])
        ).fetchall()
    finally:
        cur.close()
    span = [(r[0], bytes(r[1])) for r in span]
    removed = set(ordered)
    digest = hashlib.sha256(b"".join(h for i, h in span if i in removed)).hexdigest()
    links = link_runs(span, removed, hash_before(session, ordered[0]))
    detail = {**summary, "reason": reason, "removed": len(ordered), "digest": digest, "links": links}
    (compaction_id,) = append(session, [Entry(at=at, kind="compaction", status=reason, detail=detail)])
    cur = raw_cursor(session)
    try:
        cur.executemany("DELETE FROM haccp_log WHERE id = ?", [(i,) for i in ordered])
    finally:
        cur.close()
    return compaction_id
