"""The station process SIGKILLed mid-drain resumes from the first unacknowledged event (real
subprocess, real database file, real Mosquitto)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from central.consumer import Platform
from common.backoff import Backoff
from station.db.models import OutboxEvent
from sync.connector import Endpoint
from tests.sync.sync_helpers import STATION, record_sales

REPO = Path(__file__).resolve().parents[2]


def spawn(db_path: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sync.relay_proc", str(db_path), str(port), STATION],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


async def quiesce(platform: Platform, quiet_s: float = 0.6) -> None:
    """Until nothing has arrived for `quiet_s` (the killed process's last messages are in)."""
    last = -1
    while platform.stats.received != last:
        last = platform.stats.received
        await asyncio.sleep(quiet_s)


async def test_sigkill_mid_drain_resumes_from_first_unacknowledged(db, db_path, mosquitto, tmp_path):
    total = 6000
    await record_sales(db, total)
    wire: list[int] = []  # every event the platform received, duplicates included, in order
    platform = Platform(
        [Endpoint("127.0.0.1", mosquitto.port)],
        tmp_path / "p.db",
        backoff=Backoff(0.05, 0.3),
        on_event=lambda env: wire.append(env["seq"]),
    )
    await platform.start()
    proc = spawn(db_path, mosquitto.port)
    try:
        assert await platform.wait_for(lambda: platform.stats.applied >= total // 4, 30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        await quiesce(platform)
        first_pending = await db.read(
            lambda s: s.scalar(select(func.min(OutboxEvent.seq)).where(OutboxEvent.delivered_at.is_(None)))
        )
        hwm = platform.hwm(STATION, db.epoch)
        assert first_pending is not None and first_pending <= hwm + 1 < total, "killed mid-drain, acks on disk"
        seen_before = len(wire)
        proc = spawn(db_path, mosquitto.port)
        assert await platform.wait_for(lambda: platform.hwm(STATION, db.epoch) == total, 60)
        events = await platform.call(platform.store.events, STATION)
    finally:
        proc.kill()
        proc.wait(5)
        await platform.stop()
    # The restarted relay starts at the first event without an ack: the first undelivered row on disk, or
    # later when acks the platform sent to the dead process (queued in its persistent session) land first.
    resumed_at = wire[seen_before]
    assert first_pending <= resumed_at <= hwm + 1
    assert sorted(e["seq"] for e in events) == list(range(1, total + 1))  # 0 missing, 0 double-applied
    assert platform.stats.conflicts == 0
    print(
        f"\nSIGKILL: first undelivered on disk {first_pending}, platform hwm {hwm}, resumed at {resumed_at}, "
        f"wire duplicates {platform.stats.wire_duplicates}"
    )
