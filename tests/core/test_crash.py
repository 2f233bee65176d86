"""SIGKILL a process writing sales + events at random moments; nothing acknowledged is lost.

After every kill: each acknowledged sale is in the database with its event, each event has
its sale, the main sequence is 1..N without gaps, and `PRAGMA integrity_check` is ok.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYTHON, REPO


def _run_round(db_path: Path, delay: float) -> list[str]:
    proc = subprocess.Popen(
        [PYTHON, "-m", "tests.helpers.crash_writer", str(db_path)],
        cwd=REPO, stdout=subprocess.PIPE, text=True, bufsize=1,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return [line.split()[1] for line in out.splitlines() if line.startswith("ack ") and len(line.split()) == 2]


def _check_invariants(db_path: Path, acknowledged: set[str]) -> int:
    con = sqlite3.connect(db_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        sales = {row[0] for row in con.execute("SELECT id FROM sales")}
        rows = con.execute("SELECT seq, payload FROM outbox WHERE stream='main' ORDER BY seq").fetchall()
        events = [(seq, json.loads(payload)["sale_id"]) for seq, payload in rows]
        seqs = [seq for seq, _ in events]
        assert seqs == list(range(1, len(seqs) + 1)), "gap or duplicate in the main sequence"
        event_sales = [sale for _, sale in events]
        assert len(event_sales) == len(set(event_sales)), "a sale has two events"
        assert set(event_sales) == sales, "sale without event or event without sale"
        assert acknowledged <= sales, f"lost acknowledged sales: {acknowledged - sales}"
        counter = con.execute("SELECT value FROM counters WHERE name='outbox.main'").fetchone()[0]
        assert counter == len(seqs)
        return len(sales)
    finally:
        con.close()


def _kill_loop(db_path: Path, rounds: int, seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    acknowledged: set[str] = set()
    for _ in range(rounds):
        acknowledged |= set(_run_round(db_path, rng.uniform(0.0, 0.25)))
        total = _check_invariants(db_path, acknowledged)
    return len(acknowledged), total


def test_sigkill_50_times_loses_nothing_acknowledged(db_path: Path) -> None:
    acked, total = _kill_loop(db_path, rounds=50, seed=20261122)
    assert acked > 50  # the writer really made progress between kills
    assert total >= acked


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_soak(db_path: Path, seed: int) -> None:
    acked, total = _kill_loop(db_path, rounds=200, seed=seed)
    assert total >= acked > 200
