"""The reference platform's store (SQLite): events deduplicated forever, sequence high-water marks.

An event is applied at most once: `(station_id, db_epoch, event_id)` is the primary key and
`(station_id, db_epoch, stream, seq)` is unique, so a wire duplicate is recognised by its id
and a station that ever sent two different events under one sequence number is reported as a
conflict. The contiguous high-water mark per (station, epoch) is what the platform acks.
All methods are blocking; `Platform` runs them on its own `platform-db` thread.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    station_id TEXT NOT NULL, db_epoch TEXT NOT NULL, event_id TEXT NOT NULL, stream TEXT NOT NULL,
    seq INTEGER NOT NULL, type TEXT NOT NULL, priority TEXT, created_at TEXT, received_at REAL NOT NULL,
    arrival INTEGER NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (station_id, db_epoch, event_id), UNIQUE (station_id, db_epoch, stream, seq));
CREATE TABLE IF NOT EXISTS streams (
    station_id TEXT NOT NULL, db_epoch TEXT NOT NULL, hwm INTEGER NOT NULL,
    PRIMARY KEY (station_id, db_epoch));
CREATE TABLE IF NOT EXISTS presence (
    station_id TEXT PRIMARY KEY, state TEXT, session INTEGER, at TEXT, payload TEXT);
CREATE TABLE IF NOT EXISTS latest (
    station_id TEXT NOT NULL, kind TEXT NOT NULL, at TEXT, payload TEXT,
    PRIMARY KEY (station_id, kind));
CREATE TABLE IF NOT EXISTS results (
    cmd_id TEXT, station_id TEXT, status TEXT, duplicate INTEGER, received_at REAL, payload TEXT);
CREATE TABLE IF NOT EXISTS alarms (
    station_id TEXT NOT NULL, alarm_id INTEGER NOT NULL, kind TEXT, subject TEXT, severity TEXT,
    state TEXT, raised_at TEXT, cleared_at TEXT, PRIMARY KEY (station_id, alarm_id));
"""

MAIN = "main"
log = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    conflicts: int = 0
    acks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


class PlatformStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self.hwm: dict[tuple[str, str], int] = {}
        self.above: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._arrival = 0
        self.unapplied = 0  # events stored whose business payload could not be applied

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # an ack is a promise: commit durably before sending it
        db.executescript(SCHEMA)
        self._db = db
        for station, epoch, hwm in db.execute("SELECT station_id, db_epoch, hwm FROM streams"):
            self.hwm[(station, epoch)] = hwm
        for station, epoch, seq in db.execute(
            "SELECT e.station_id, e.db_epoch, e.seq FROM events e JOIN streams s USING (station_id, db_epoch) "
            "WHERE e.stream = 'main' AND e.seq > s.hwm"
        ):
            self.above[(station, epoch)].add(seq)
        self._arrival = db.execute("SELECT COALESCE(MAX(arrival), 0) FROM events").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("platform store is not open")
        return self._db

    # -- events --------------------------------------------------------------------------------
    def apply(self, envelopes: list[dict[str, Any]]) -> BatchOutcome:
        """Store a batch in one transaction; returns counts and the ack to send per (station, epoch)."""
        out = BatchOutcome()
        extra: dict[tuple[str, str], list[tuple[str, str, int]]] = defaultdict(list)
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            for env in envelopes:
                key = (env["station_id"], env["db_epoch"])
                self._arrival += 1
                cur = db.execute(
                    "INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        *key,
                        env["event_id"],
                        env["stream"],
                        env["seq"],
                        env["type"],
                        env.get("priority"),
                        env.get("created_at"),
                        time.time(),
                        self._arrival,
                        json.dumps(env["payload"]),
                    ),
                )
                if cur.rowcount == 1:
                    out.applied += 1
                    if env["stream"] == MAIN:
                        self.above[key].add(env["seq"])
                    self._apply_business(env)
                elif self._known(key, env["event_id"]):
                    out.duplicates += 1
                else:
                    out.conflicts += 1
                    continue
                if env["stream"] != MAIN or env["seq"] > self.hwm.get(key, 0):
                    extra[key].append((env["event_id"], env["stream"], env["seq"]))
                out.acks.setdefault(key, {})
            for key in out.acks:
                self._advance(key)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        for key, ack in out.acks.items():
            hwm = self.hwm.get(key, 0)
            above = sorted(seq for _eid, stream, seq in extra[key] if stream == MAIN and seq > hwm)
            ids = [eid for eid, stream, _seq in extra[key] if stream != MAIN]
            ack.update({"upto": hwm, "ranges": to_ranges(above), "event_ids": ids})
        return out

    def _known(self, key: tuple[str, str], event_id: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM events WHERE station_id=? AND db_epoch=? AND event_id=?", (*key, event_id)
        ).fetchone()
        return row is not None

    def _advance(self, key: tuple[str, str]) -> None:
        hwm, above = self.hwm.get(key, 0), self.above[key]
        start = hwm
        while hwm + 1 in above:
            hwm += 1
            above.discard(hwm)
        if hwm != start or key not in self.hwm:
            self.hwm[key] = hwm
            self.db.execute(
                "INSERT INTO streams VALUES (?,?,?) "
                "ON CONFLICT (station_id, db_epoch) DO UPDATE SET hwm = excluded.hwm",
                (*key, hwm),
            )

    def _apply_business(self, env: dict[str, Any]) -> None:
        """The platform's view of alarms (an example of applying events, once each).

        A payload that does not fit is logged and counted, never allowed to fail the batch:
        one bad event must not block the acknowledgement of everything around it.
        """
        if env["type"] not in ("alarm.raised", "alarm.cleared"):
            return
        p = env["payload"]
        try:
            row = (
                env["station_id"],
                p["alarm_id"],
                p["kind"],
                p["subject"],
                p["severity"],
                p["state"],
                p["raised_at"],
                p.get("cleared_at"),
            )
        except (KeyError, TypeError):
            self.unapplied += 1
            log.warning("event %s (%s): payload does not fit; stored, not applied", env["event_id"], env["type"])
            return
        self.db.execute(
            "INSERT INTO alarms VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (station_id, alarm_id) DO UPDATE SET "
            "state = excluded.state, cleared_at = excluded.cleared_at",
            row,
        )

    def gaps(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(station, epoch) -> (first missing seq, lowest seq received above it)."""
        return {key: (self.hwm.get(key, 0) + 1, min(above)) for key, above in self.above.items() if above}

    # -- presence, telemetry, results ----------------------------------------------------------------
    def put_presence(self, msg: dict[str, Any]) -> None:
        """Latest presence; an 'offline' Will from an older session than the current birth is late: ignored."""
        row = self.db.execute("SELECT state, session FROM presence WHERE station_id=?", (msg["station_id"],)).fetchone()
        if (
            row is not None
            and msg["state"] == "offline"
            and row[0] == "online"
            and (row[1] or 0) > msg.get("session", 0)
        ):
            return
        self.db.execute(
            "INSERT INTO presence VALUES (?,?,?,?,?) ON CONFLICT (station_id) DO UPDATE SET state = excluded.state, "
            "session = excluded.session, at = excluded.at, payload = excluded.payload",
            (msg["station_id"], msg["state"], msg.get("session"), msg.get("at") or _received_at(), json.dumps(msg)),
        )

    def put_latest(self, station_id: str, kind: str, msg: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO latest VALUES (?,?,?,?) ON CONFLICT (station_id, kind) DO UPDATE SET at = excluded.at, "
            "payload = excluded.payload",
            (station_id, kind, msg.get("at"), json.dumps(msg)),
        )

    def put_result(self, msg: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO results VALUES (?,?,?,?,?,?)",
            (
                msg.get("cmd_id"),
                msg.get("station_id"),
                msg.get("status"),
                int(bool(msg.get("duplicate"))),
                time.time(),
                json.dumps(msg),
            ),
        )

    # -- queries ----------------------------------------------------------------------------------------
    def events(self, station_id: str, stream: str = MAIN) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT db_epoch, event_id, seq, type, arrival, payload FROM events WHERE station_id=? AND stream=? "
            "ORDER BY arrival",
            (station_id, stream),
        ).fetchall()
        keys = ("db_epoch", "event_id", "seq", "type", "arrival", "payload")
        return [dict(zip(keys, (*r[:5], json.loads(r[5])), strict=True)) for r in rows]

    def results(self, cmd_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT payload FROM results WHERE cmd_id=? ORDER BY rowid", (cmd_id,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def presence(self) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self.db.execute("SELECT station_id, payload FROM presence")}

    def latest(self, station_id: str, kind: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT payload FROM latest WHERE station_id=? AND kind=?", (station_id, kind)).fetchone()
        return json.loads(row[0]) if row else None

    def open_alarms(self) -> list[tuple[str, int, str, str]]:
        return self.db.execute(
            "SELECT station_id, alarm_id, kind, subject FROM alarms WHERE state='raised' ORDER BY station_id, alarm_id"
        ).fetchall()


def _received_at() -> str:
    """A Last Will has no `at` (it was composed at connect time): its offline time is when it arrived."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def to_ranges(seqs: list[int]) -> list[list[int]]:
    """Sorted sequence numbers as inclusive [lo, hi] runs: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    runs: list[list[int]] = []
    for seq in seqs:
        if runs and seq <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], seq)
        else:
            runs.append([seq, seq])
    return runs
