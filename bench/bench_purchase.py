"""Approval → unlock: from the terminal's approval arriving at the station to the unlock frame.

Both simulators over ptys in this process (ZVT over serial with DLE framing and CRC; CU16 lock
boards at 19200 baud), the real purchase service in between: the approval is committed, the
release is committed, the door operation is committed (each WAL + synchronous=FULL), then the
pulse goes out. "Approval arrived" = the approved status information was parsed and handed to
the goods decision; "frame left" = the lock driver's PulseSent time; "at board" = the lock
simulator received the frame. Target: p99 <= 20 ms.

    .venv/bin/python bench/bench_purchase.py [--n 50]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from drivers.locks import PulseSent, cu16
from payments.zvt import ZvtTimers
from simulators.locks import LockBusSimulator
from simulators.zvt import SimConfig, ZvtSimulator
from station.compartments.contents import load as load_compartment
from station.purchase import FINAL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test fixtures' catalogue and config
from tests.purchase.conftest import Shop, open_shop


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(n: int) -> tuple[list[float], list[float]]:
    locks = LockBusSimulator("cu16", [0, 1], open_delay_s=0.02, close_after_s=0.1)
    at_board: list[float] = []
    locks.on_frame = lambda at, frame: at_board.append(at) if frame[2] == cu16.CMD_UNLOCK else None
    terminal_sim = ZvtSimulator(SimConfig(seed=5, step_s=0.002, resend_s=0.05))
    timers = ZvtTimers(t2_frame_ack=1.0, t3_ack=1.0, t4_dialogue=10.0, decide_s=0.5)
    with tempfile.TemporaryDirectory() as tmp:
        async with open_shop(Path(tmp), locks, terminal_sim, serial_terminal=True, timers=timers) as shop:
            return await measure(shop, at_board, n)


async def measure(shop: Shop, at_board: list[float], n: int) -> tuple[list[float], list[float]]:
    service, db = shop.service, shop.db
    pulses: list[float] = []
    for bus in service.lockwall.buses.values():
        bus.subscribe(lambda e: pulses.append(e.at) if isinstance(e, PulseSent) else None)
    approvals: list[float] = []
    original = service.card.decide

    async def timed_decide(sale_id, status, release, compartments):  # type: ignore[no-untyped-def]
        if "task" not in release:
            approvals.append(time.monotonic())
        return await original(sale_id, status, release, compartments)

    service.card.decide = timed_decide  # type: ignore[method-assign]
    to_pulse, to_board = [], []
    for i in range(n):
        if i:
            await db.write(
                lambda s: load_compartment(
                    s, 2, "4001234567890", 1, best_before=date.today() + timedelta(days=30), actor="bench"
                )
            )
        approvals.clear(), pulses.clear(), at_board.clear()
        sale_id = await service.begin([2])
        version = -1
        while (item := await service.board.wait_change(sale_id, version, 10.0)) and item.state not in FINAL:
            version = item.version
        to_pulse.append(pulses[0] - approvals[0])
        to_board.append(at_board[0] - approvals[0])
        await asyncio.sleep(0.15)  # the simulated shopper closes the door
    return to_pulse, to_board


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    to_pulse, to_board = asyncio.run(run(args.n))
    print(f"approval at the station -> unlock, {args.n} purchases, ZVT serial + CU16 over ptys")
    print(f"{'measured to':<28}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'target p99':>12}")
    for name, values in (("frame left the lock driver", to_pulse), ("frame at the lock board", to_board)):
        print(
            f"{name:<28}{statistics.median(values) * 1000:>9.2f}{pct(values, 0.99) * 1000:>9.2f}"
            f"{max(values) * 1000:>9.2f}{'20.00':>12}"
        )


if __name__ == "__main__":
    main()
