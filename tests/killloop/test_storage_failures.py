"""A full disk and a database locked past the busy timeout during purchases: a state, not a crash.

Against the real daemon and the physical station in its own process: while writes fail the API
answers 503 `storage_unavailable` (never 500, never a stuck 409 "busy"), health shows the database
degraded with the last error, and selling resumes by itself, without a restart, once writes succeed
again. Nothing that was acknowledged is lost.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.killloop.harness import Station

FINAL = {"done", "cancelled", "declined", "aborted", "reversed", "released_not_charged", "charge_unknown"}


def _final(station: Station, sale_id: str, within: float = 30.0) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sale = station.http.get(f"/api/purchases/{sale_id}").json()
        if sale["state"] in FINAL:
            return sale
        time.sleep(0.05)
    raise AssertionError(f"purchase {sale_id} not final within {within} s: {sale}")


def _database_health(station: Station) -> dict:
    return station.http.get("/api/health").json()["components"]["database"]


def _until(predicate, within: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@contextlib.contextmanager
def held_write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Another process's write transaction, held (e.g. a stuck backup tool)."""
    con = sqlite3.connect(db, isolation_level=None, timeout=10)
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    finally:
        con.execute("ROLLBACK")
        con.close()


def _committed_state(station: Station) -> tuple[list[tuple], list[int]]:
    sales = station.query("SELECT id, state, booked_cents FROM sales ORDER BY created_at")
    seqs = [s for (s,) in station.query("SELECT seq FROM outbox WHERE stream = 'main' ORDER BY seq")]
    return sales, seqs


def test_a_database_locked_past_the_busy_timeout(tmp_path: Path) -> None:
    station = Station(tmp_path, busy_timeout_ms=300)
    try:
        station.start_simulator()
        station.start_daemon()
        station.wait_ready()
        first = station.http.post("/api/purchases", json={"compartments": [1]}).json()["sale_id"]
        assert _final(station, first)["state"] == "done"
        before, _ = _committed_state(station)

        with held_write_lock(station.db_path):
            refused = [station.http.post("/api/purchases", json={"compartments": [5]}) for _ in range(3)]
            health = station.http.get("/api/health").json()
        assert [r.status_code for r in refused] == [503, 503, 503]  # never 500, never a stuck 409 "busy"
        assert {r.json()["error"] for r in refused} == {"storage_unavailable"}
        assert "Speicher" in refused[0].json()["message"]
        database = health["components"]["database"]
        assert database["status"] == "degraded" and health["status"] == "degraded"
        assert database["detail"]["writes"] == "failing" and "locked" in database["detail"]["last_error"]
        assert health["components"]["purchases"]["detail"]["current"] is None  # no phantom sale in memory

        # The lock is gone: selling resumes without a restart.
        second = station.http.post("/api/purchases", json={"compartments": [5]})
        assert second.status_code == 202, second.text
        assert _final(station, second.json()["sale_id"])["state"] == "done"
        _until(lambda: _database_health(station)["status"] == "up")

        # A lock taken in the middle of a purchase: the purchase ends by itself once it is gone.
        third = station.http.post("/api/purchases", json={"compartments": [8]}).json()["sale_id"]
        with held_write_lock(station.db_path):
            time.sleep(2.0)  # the terminal approves meanwhile; the station cannot record it
        sale = _final(station, third)
        after, seqs = _committed_state(station)
    finally:
        station.stop()
    assert sale["state"] in ("done", "cancelled", "aborted", "reversed")  # whichever step the lock hit
    charged = {e["receipt_no"]: e["amount_cents"] for e in station.record()
               if e["event"] in ("terminal_booked", "terminal_reversed")}  # fmt: skip
    pulses = [e for e in station.record() if e["event"] == "pulse" and e["compartment"] == 8]
    if sale["state"] != "done":  # not recorded: nothing opened and nothing charged for it
        assert pulses == [] and sale["booked_cents"] == 0
    assert sum(charged.values()) == sum(b for _, state, b in after if state == "done")
    assert after[: len(before)] == before  # nothing acknowledged was lost
    assert seqs == list(range(1, len(seqs) + 1))


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir()
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True).returncode == 0  # fmt: skip


def _fill(disk: Path) -> Path:
    """Fill the filesystem until it has no space left; returns the filler file (maybe empty: already full)."""
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as out:
        block = b"\0" * 65536
        while True:
            out.write(block)
            out.flush()
    return filler


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a small filesystem (CI runs as root)")
def test_a_full_disk(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    assert _mount_tmpfs(disk, "48m"), "mounting a tmpfs failed"
    station = Station(tmp_path, db_dir=disk)
    try:
        station.start_simulator()
        station.start_daemon()
        station.wait_ready()
        first = station.http.post("/api/purchases", json={"compartments": [1]}).json()["sale_id"]
        assert _final(station, first)["state"] == "done"
        before, _ = _committed_state(station)

        filler = _fill(disk)
        refused = station.http.post("/api/purchases", json={"compartments": [5]})
        assert refused.status_code == 503 and refused.json()["error"] == "storage_unavailable", refused.text
        again = station.http.post("/api/purchases", json={"compartments": [5]})
        assert again.status_code == 503  # not a stuck "busy"
        _until(lambda: _database_health(station)["status"] == "degraded")
        assert "full" in _database_health(station)["detail"]["last_error"]
        assert station.http.get("/api/offers").status_code == 200  # reading still works

        filler.unlink(missing_ok=True)  # a volunteer clears space: selling resumes without a restart
        second = station.http.post("/api/purchases", json={"compartments": [5]})
        assert second.status_code == 202, second.text
        assert _final(station, second.json()["sale_id"])["state"] == "done"
        _until(lambda: _database_health(station)["status"] == "up")
        after, seqs = _committed_state(station)
        station.kill()
        integrity = station.query("PRAGMA integrity_check")
    finally:
        station.stop()
        subprocess.run(["umount", "-l", str(disk)], check=False)
    assert after[: len(before)] == before
    assert seqs == list(range(1, len(seqs) + 1))
    assert integrity == [("ok",)]
