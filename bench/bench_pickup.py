"""Latency from a typed pick-up code to the unlock frame at the board, through the whole station side.

`PickupService.collect(code, keypad)` as the HTTP route calls it: keypad check, throttle look-up,
HMAC-SHA256 of the code under the station key, the order found by its digest, the throttle's run
reset, `loaded → collecting` committed with the compartment's move, the door intent committed, then
the pulse. SQLite in WAL with synchronous=FULL, as in production. 10 CU16 boards polled at 4 Hz over
a pty; the simulator runs in its own thread and models reply wire time at 19200 baud. Floor: one
status exchange in flight + the unlock frame (bytes x 10 / baud), as in bench_lockwall.py, whose
median (the door flow alone) is the baseline for what the pick-up adds.

    .venv/bin/python bench/bench_pickup.py [--rounds 5] [--gap-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bench_locks import BAUD, BOARDS, EXCHANGE_BYTES, SimThread, pct, wire_s
from bench_lockwall import config_text

from drivers.locks import cu16
from station.clock import SystemClock
from station.compartments.owner import sync_configured
from station.config import parse_config
from station.db import migrate
from station.db.engine import Database
from station.lockwall import LockWall
from station.orders import steps
from station.orders.service import NewOrder, announce
from station.pickup import PickupService, credentials
from station.staff import StaffService


async def measure(port: str, arrivals: list[float], rounds: int, gap_ms: float) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.db"
        migrate.upgrade(db_path)
        config = parse_config(config_text(db_path, port, gap_ms))
        db = Database(db_path)
        await db.start()
        await db.write(lambda s: sync_configured(s, config.compartments))
        wall = LockWall(config, db)
        staff = StaffService(config, db, SystemClock())
        pickup = PickupService(db, wall, staff, SystemClock())
        await wall.start()
        for bus in wall.buses.values():
            await bus.wait_probed(5)
        latencies = []
        compartments = sorted(wall.address_of)
        for round_no in range(rounds):
            codes = await db.write(lambda s, r=round_no: _stock_in(s, staff, compartments, r))
            for i, code in enumerate(codes):
                await asyncio.sleep(0.011 + (i % 7) * 0.003)  # spread the calls over the poll rhythm
                arrivals.clear()
                called = time.monotonic()
                step = await pickup.collect(code, "kiosk")
                assert step.outcome == "opened", step
                latencies.append(arrivals[0] - called)
            while any(wall.is_open(c) for c in compartments):  # every door shut before the next round
                await asyncio.sleep(0.05)
        await wall.stop()
        await db.stop()
    return latencies


def _stock_in(session, staff: StaffService, compartments: list[int], round_no: int) -> list[str]:  # type: ignore[no-untyped-def]
    codes = [f"{round_no + 1:02d}{c:04d}{(7919 * c + round_no) % 10**6:06d}" for c in compartments]
    for comp, code in zip(compartments, codes, strict=True):
        digest = credentials.digest(staff.secret, credentials.Kind.CODE, code)
        new = NewOrder(f"R{round_no}-{comp}", compartment_id=comp, code_hmac=digest)
        order_id = announce(session, new, actor="bench")["order_id"]
        steps.start_loading(session, order_id, actor="bench")
        steps.loading_done(session, order_id, opened=True, actor="bench")
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="each round collects one order per compartment (20)")
    parser.add_argument("--gap-ms", type=float, default=10.0)
    args = parser.parse_args()
    arrivals: list[float] = []

    def on_frame(at: float, frame: bytes) -> None:
        if frame[2] == cu16.CMD_UNLOCK:
            arrivals.append(at)

    with SimThread(True, on_frame, close_after_s=0.3) as sim:
        latencies = asyncio.run(measure(sim.path, arrivals, args.rounds, args.gap_ms))
    floor = wire_s(EXCHANGE_BYTES) + wire_s(cu16.REQUEST_LENGTH)
    p50, p99 = statistics.median(latencies), pct(latencies, 0.99)
    print(f"typed pick-up code -> unlock frame at the board; {len(BOARDS)} CU16 boards polled at 4 Hz, {BAUD} baud")
    print(f"{'n':>5}{'p50 ms':>10}{'p99 ms':>10}{'floor ms':>10}{'p50/floor':>11}{'p99/floor':>11}")
    print(f"{len(latencies):>5}{p50 * 1000:>10.2f}{p99 * 1000:>10.2f}{floor * 1000:>10.2f}"
          f"{p50 / floor:>11.2f}{p99 / floor:>11.2f}")
    print("floor = one status exchange in flight + the unlock frame (bytes x 10 / baud); a pty adds no wire time")


if __name__ == "__main__":
    main()
