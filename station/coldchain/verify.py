"""Check the HACCP hash chain: every row's hash, the links left by compaction, and the recorded head."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from . import haccp
from .haccp import GENESIS, SELECT_ROWS


@dataclass(frozen=True)
class Problem:
    row_id: int | None
    at: str | None
    message: str

    def __str__(self) -> str:
        if self.row_id is None:
            return f"log: {self.message}"
        where = f"row {self.row_id} ({self.at})" if self.at else f"row {self.row_id}"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    rows: int = 0
    compactions: int = 0
    head_id: int = 0
    head_hash: str = GENESIS.hex()
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


def _links(session: Session) -> dict[bytes, bytes]:
    """Links of every compaction row, in chain order (a later link from the same row replaces an earlier one)."""
    links: dict[bytes, bytes] = {}
    cur = haccp.raw_cursor(session)
    try:
        rows = cur.execute("SELECT detail FROM haccp_log WHERE kind = 'compaction' ORDER BY id").fetchall()
    finally:
        cur.close()
    for (detail,) in rows:
        try:
            for start, end in json.loads(detail or "{}").get("links", []):
                links[bytes.fromhex(start)] = bytes.fromhex(end)
        except (ValueError, TypeError, AttributeError):
            continue  # a damaged compaction row fails its own hash check below
    return links


def _follow(links: dict[bytes, bytes], prev: bytes) -> bytes:
    """The hash the next surviving row was chained to, after rows removed behind `prev`."""
    for _ in range(len(links) + 1):  # bounded: forged links could loop
        nxt = links.get(prev)
        if nxt is None:
            return prev
        prev = nxt
    return prev


def verify(session: Session, *, limit: int = 20) -> VerifyReport:
    """Walk the whole log in id order; collect at most `limit` problems (the first is the one to report)."""
    report = VerifyReport()
    links = _links(session)
    prev = GENESIS
    last_id, last_at = 0, None
    cur = haccp.raw_cursor(session)
    try:
        cur.execute(SELECT_ROWS + " ORDER BY id")
        while batch := cur.fetchmany(5000):
            for raw in batch:
                row, stored = raw[:-1], bytes(raw[-1])
                expected_prev = _follow(links, prev)
                if haccp.row_hash(expected_prev, row) != stored and len(report.problems) < limit:
                    report.problems.append(
                        Problem(row[0], row[1], "hash does not match: this row was changed, or one before it deleted")
                    )
                prev, last_id, last_at = stored, row[0], row[1]  # go on from the stored hash to find further breaks
                report.rows += 1
                report.compactions += row[2] == "compaction"
    finally:
        cur.close()
    report.head_id, report.head_hash = last_id, prev.hex()
    _check_head(session, report, last_id, last_at, prev)
    return report


def _check_head(session: Session, report: VerifyReport, last_id: int, last_at: str | None, last_hash: bytes) -> None:
    recorded = haccp.stored_head(session)
    if recorded is None:
        if last_id:
            report.problems.append(Problem(None, None, "no recorded head: station_meta haccp.head is missing"))
        return
    head_id, head_hash = recorded
    if (head_id, head_hash) == (last_id, last_hash):
        return
    if head_id > last_id:
        message = f"the recorded newest row is {head_id}, the log ends at {last_id}: rows were cut off the end"
    else:
        message = f"the newest row {last_id} does not match the recorded head (row {head_id})"
    report.problems.append(Problem(last_id or None, last_at, message))
