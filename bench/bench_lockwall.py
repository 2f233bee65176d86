"""Latency from `LockWall.open()` to the unlock frame at the board, through the whole service.

Unlike bench_locks.py (the bare driver), this goes through door supervision: the open intent
and its audit entry are committed to SQLite (WAL, synchronous=FULL) before the pulse, as in
production. 10 CU16 boards polled at 4 Hz over a pty; the simulator runs in its own thread and
models reply wire time at 19200 baud. Floor: one status exchange in flight + the unlock frame
(bytes x 10 / baud). Target: p99 <= 5 x floor + the configured gap.

    .venv/bin/python bench/bench_lockwall.py [--opens 100] [--gap-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench_locks import BAUD, BOARDS, EXCHANGE_BYTES, SimThread, pct, wire_s

from drivers.locks import cu16
from station.config import parse_config
from station.db import migrate
from station.db.engine import Database
from station.lockwall import DoorOutcome, LockWall


def config_text(db: Path, port: str, gap_ms: float) -> str:
    boards = "".join(f"[[lock_buses.wall.boards]]\naddress = {b}\n" for b in BOARDS)
    comps = "".join(
        f'[[compartments]]\nid = {b * 16 + n}\nbus = "wall"\nboard = {b}\nlock = {n}\n' for b in BOARDS for n in (1, 2)
    )
    return f"""
[station]
id = "bench"
[database]
path = "{db}"
[lock_buses.wall]
port = "{port}"
protocol = "cu16"
gap_ms = {gap_ms}
poll_hz = 4
{boards}
[doors]
open_detect_s = 2.0
{comps}"""


async def measure(port: str, arrivals: list[float], n: int, gap_ms: float) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        migrate.upgrade(db_path)
        db = Database(db_path)
        await db.start()
        wall = LockWall(parse_config(config_text(db_path, port, gap_ms)), db)
        await wall.start()
        for bus in wall.buses.values():
            await bus.wait_probed(5)
        latencies = []
        compartments = sorted(wall.address_of)
        for i in range(n):
            await asyncio.sleep(0.011 + (i % 7) * 0.003)  # spread the calls over the poll rhythm
            arrivals.clear()
            called = time.monotonic()
            result = await wall.open(compartments[i % len(compartments)], "maintenance", f"bench-{i}")
            assert result.outcome is DoorOutcome.OPENED, result
            latencies.append(arrivals[0] - called)
        await wall.stop()
        await db.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=100)
    parser.add_argument("--gap-ms", type=float, default=10.0)
    args = parser.parse_args()
    arrivals: list[float] = []

    def on_frame(at: float, frame: bytes) -> None:
        if frame[2] == cu16.CMD_UNLOCK:
            arrivals.append(at)

    with SimThread(True, on_frame, close_after_s=1.0) as sim:
        latencies = asyncio.run(measure(sim.path, arrivals, args.opens, args.gap_ms))
    floor = wire_s(EXCHANGE_BYTES) + wire_s(cu16.REQUEST_LENGTH)
    target = 5 * floor + args.gap_ms / 1000
    p50, p99 = statistics.median(latencies), pct(latencies, 0.99)
    print(f"LockWall.open() -> unlock frame at the board; {len(BOARDS)} CU16 boards polled at 4 Hz, {BAUD} baud")
    print(f"{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'floor ms':>10}{'p99/floor':>11}{'target ms':>11}")
    print(
        f"{len(latencies):>5}{p50 * 1000:>10.2f}{p99 * 1000:>10.2f}{floor * 1000:>10.2f}"
        f"{p99 / floor:>11.2f}{target * 1000:>11.2f}"
    )
    print("floor = one status exchange in flight + the unlock frame (bytes x 10 / baud); a pty adds no wire time")


if __name__ == "__main__":
    main()
