"""Benchmark of the lock-bus driver against the board simulator over a real pty.

(a) unlock latency: from the `bus.unlock()` call to the unlock frame leaving the driver (the
    write returned), and to its arrival at the simulator; on an idle line and on a line busy
    polling 10 boards at 4 Hz.
(b) full poll cycle of 10 CU16 boards x 16 locks with the line saturated (time between two
    status requests to the same board, taken at the simulator).

The physical floor is frame bytes x 10 bits / baud rate (8N1), plus the configured gaps where
the driver must wait them. The simulator runs in its own thread and event loop and, with
`--wire-time` (default on), delays each reply by the wire time of request + reply.

    .venv/bin/python bench/bench_locks.py [--cycles 100] [--unlocks 200] [--gap-ms 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.locks import LockBus, cu16
from simulators.locks import LockBusSimulator

BAUD = 19200
BOARDS = list(range(10))
EXCHANGE_BYTES = cu16.REQUEST_LENGTH + cu16.REPLY_LENGTH


def wire_s(n_bytes: int) -> float:
    return n_bytes * 10 / BAUD


class SimThread:
    """The simulator in its own thread and loop, like a separate device on the line."""

    def __init__(self, wire_time: bool, on_frame: Callable[[float, bytes], None], close_after_s: float = 0.2) -> None:
        self._wire_time, self._on_frame, self._close_after_s = wire_time, on_frame, close_after_s
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.path = ""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="sim-locks", daemon=True)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        baud = BAUD if self._wire_time else None
        sim = LockBusSimulator("cu16", BOARDS, baudrate=baud, open_delay_s=0.05, close_after_s=self._close_after_s)
        sim.on_frame = self._on_frame
        self.path = await sim.start_pty()
        self._ready.set()
        await self._stop.wait()
        await sim.stop()

    def __enter__(self) -> SimThread:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def make_bus(path: str, gap_s: float, poll_hz: float | None) -> LockBus:
    return LockBus("bench", path, "cu16", BOARDS, baudrate=BAUD, gap_s=gap_s, timeout_s=0.5, poll_hz=poll_hz)


async def unlock_latency(path: str, arrivals: list[float], gap_s: float, n: int, poll_hz: float | None):
    """Returns (call -> write returned, call -> frame at the simulator), in seconds."""
    bus = make_bus(path, gap_s, poll_hz)
    await bus.start()
    for board in BOARDS:
        await bus.read_status(board)  # port open, baselines taken
    to_write, to_sim = [], []
    for i in range(n):
        await asyncio.sleep(0.013 + (i % 7) * 0.003)  # spread the calls over the poll rhythm
        arrivals.clear()
        called = time.monotonic()
        result = await bus.unlock(i % 10, 1 + i % 16)
        to_write.append(result.sent_at - called)
        await asyncio.sleep(0.005)
        unlock_at = [t for t in arrivals if t >= called]
        to_sim.append((unlock_at[-1] if unlock_at else result.sent_at) - called)
    await bus.stop()
    return to_write, to_sim


async def poll_cycle(path: str, board0_polls: list[float], enough: threading.Event, gap_s: float) -> list[float]:
    """Saturate the line (poll far faster than it can go) and time board 0's successive polls."""
    bus = make_bus(path, gap_s, poll_hz=1000.0)
    await bus.start()
    await bus.wait_probed(5)
    board0_polls.clear()
    enough.clear()
    await asyncio.to_thread(enough.wait, 300)
    await bus.stop()
    return [b - a for a, b in itertools.pairwise(board0_polls[1:])]


def run(args: argparse.Namespace, wire_time: bool) -> list[tuple[str, list[float], float, float]]:
    gap = args.gap_ms / 1000
    status_to_board0 = cu16.encode_status_request(0)
    unlock_frames: list[float] = []
    board0_polls: list[float] = []
    enough = threading.Event()  # set in the simulator's thread once the cycles are recorded

    def on_frame(at: float, frame: bytes) -> None:
        if frame[2] == cu16.CMD_UNLOCK:
            unlock_frames.append(at)
        elif frame == status_to_board0 and not enough.is_set():
            board0_polls.append(at)
            if len(board0_polls) >= args.cycles + 2:
                enough.set()

    unlock_floor = wire_s(cu16.REQUEST_LENGTH)
    busy_floor = wire_s(EXCHANGE_BYTES) + unlock_floor  # one exchange in flight, then the unlock
    cycle_floor = len(BOARDS) * wire_s(EXCHANGE_BYTES)
    rows = []
    with SimThread(wire_time, on_frame) as sim:
        idle_w, idle_s = asyncio.run(unlock_latency(sim.path, unlock_frames, gap, args.unlocks, None))
        busy_w, busy_s = asyncio.run(unlock_latency(sim.path, unlock_frames, gap, args.unlocks, 4.0))
        cycles = asyncio.run(poll_cycle(sim.path, board0_polls, enough, gap))
    rows.append(("unlock, idle line: call -> write returned", idle_w, unlock_floor, gap))
    rows.append(("unlock, idle line: call -> frame at simulator", idle_s, unlock_floor, gap))
    rows.append(("unlock, 10 boards polled at 4 Hz: call -> write", busy_w, busy_floor, gap))
    rows.append(("unlock, 10 boards polled at 4 Hz: call -> sim", busy_s, busy_floor, gap))
    rows.append(("poll cycle, 10 CU16 boards x 16 locks", cycles, cycle_floor, len(BOARDS) * gap))
    return rows


def print_table(title: str, rows: list[tuple[str, list[float], float, float]]) -> None:
    print(f"\n{title}")
    head = f"{'measurement':50s} {'n':>4s} {'p50 ms':>7s} {'p99 ms':>7s} {'floor ms':>8s} {'gaps ms':>7s}"
    head += f" {'p50/floor':>9s} {'p99/floor':>9s} {'p99/(floor+gaps)':>16s} {'target ms':>9s} {'ok':>3s}"
    print(head)
    for name, values, floor, gaps in rows:
        p50, p99 = statistics.median(values), pct(values, 0.99)
        target = 5 * floor + gaps
        print(
            f"{name:50s} {len(values):4d} {p50 * 1e3:7.2f} {p99 * 1e3:7.2f} {floor * 1e3:8.2f} {gaps * 1e3:7.1f}"
            f" {p50 / floor:9.2f} {p99 / floor:9.2f} {p99 / (floor + gaps):16.2f} {target * 1e3:9.1f}"
            f" {'yes' if p99 <= target else 'NO':>3s}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--unlocks", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=10.0)
    parser.add_argument("--no-wire-time", action="store_true", help="simulator replies at once (software only)")
    args = parser.parse_args()
    print(f"lock-bus benchmark: CU16 at {BAUD} baud 8N1 over a pty, gap {args.gap_ms} ms, timeout 500 ms")
    print("floor = frame bytes x 10 / baud; target = 5 x floor + the configured gap(s)")
    print("a pty write returns at once: 'write returned' does not include the frame's own wire time")
    if not args.no_wire_time:
        print_table("simulator delays replies by the wire time of request + reply", run(args, True))
    print_table("simulator replies at once (driver + pty overhead only)", run(args, False))


if __name__ == "__main__":
    main()
