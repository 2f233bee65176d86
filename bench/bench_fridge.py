"""Benchmark: one poll cycle of 8 fridge controllers on one Modbus RTU line, against the physical floor.

Run: `.venv/bin/python bench/bench_fridge.py [--cycles 30] [--baud 9600] [--gap-ms 10]`

Floor = sum over the cycle's requests of (request + reply bytes) x 10 bits / baud, plus one inter-frame
gap before each request. A pty does not model baud-rate timing, so the first row measures only our
stack plus the gaps; the second row has the simulator hold each reply for the frame time at the
given baud rate (a timing-aware simulator), which is what a real line costs.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.fridge import FridgeController, FridgePoller, load_map
from drivers.fridge.codec import plan_reads
from drivers.modbus import LineSettings, ModbusLine
from simulators.fridge import FridgeBusSimulator

UNITS = list(range(1, 9))


def floor_ms(model: str, baud: int, gap_ms: float) -> tuple[float, int, int]:
    """(floor in ms, requests per cycle, bytes per cycle) for one cycle over UNITS."""
    register_map = load_map(model)
    fitted = [p for p in register_map.points if p.kind != "probe" or p.name in register_map.default_probes]
    blocks = plan_reads(fitted)
    per_controller = sum(8 + 5 + 2 * block.count for block in blocks)  # FC03: 8-byte request, 5+2n reply
    requests = len(blocks) * len(UNITS)
    wire_bytes = per_controller * len(UNITS)
    gap_s = LineSettings(port="/dev/null", baudrate=baud, gap_ms=gap_ms).gap_s
    return (wire_bytes * 10 / baud + requests * gap_s) * 1000, requests, wire_bytes


async def measure(model: str, cycles: int, baud: int, gap_ms: float, wire_timed: bool) -> list[float]:
    """Milliseconds per poll cycle over a pty."""
    register_map = load_map(model)
    sim = FridgeBusSimulator(register_map, UNITS, wire_baud=baud if wire_timed else None)
    path = await sim.start_pty()
    line = ModbusLine("bench", LineSettings(port=path, baudrate=baud, gap_ms=gap_ms, timeout_ms=1000))
    fridges = [FridgeController(f"k{u}", line, u, register_map) for u in UNITS]
    failures: list[str] = []
    poller = FridgePoller(fridges, 60.0, lambda _r: None, lambda f: failures.append(f.message))
    try:
        await poller.poll_once()  # warm-up: opens the port
        samples = []
        for _ in range(cycles):
            started = time.perf_counter()
            await poller.poll_once()
            samples.append((time.perf_counter() - started) * 1000)
    finally:
        await line.close()
        await sim.stop()
    if failures:
        raise SystemExit(f"benchmark invalid, polls failed: {failures[:3]}")
    return samples


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--baud", type=int, default=9600)
    parser.add_argument("--gap-ms", type=float, default=10.0)
    parser.add_argument("--model", default="dixell-xr")
    args = parser.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    floor, requests, wire_bytes = floor_ms(args.model, args.baud, args.gap_ms)
    print(f"fridge poll cycle: {len(UNITS)} controllers ({args.model}), {requests} requests, {wire_bytes} bytes")
    print(f"physical floor at {args.baud} baud, gap {args.gap_ms:g} ms: {floor:.1f} ms per cycle")
    print("note: a pty does not model baud-rate timing; row 1 is stack + gaps only, row 2 adds simulated wire time")
    print()
    print(f"{'transport':<40} {'cycles':>6} {'p50 ms':>8} {'p99 ms':>8} {'p50/floor':>9} {'p99/floor':>9}")
    rows = (("pty, no baud timing", False), (f"pty, simulator holds replies {args.baud} bd", True))
    for label, wire_timed in rows:
        samples = asyncio.run(measure(args.model, args.cycles, args.baud, args.gap_ms, wire_timed))
        p50, p99 = statistics.median(samples), percentile(samples, 0.99)
        print(f"{label:<40} {len(samples):>6} {p50:>8.1f} {p99:>8.1f} {p50 / floor:>9.2f} {p99 / floor:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
