"""Years in the field: the hot paths, a purchase and the database after two years of history vs. day one.

A station of 200 compartments on 10 lock boards (CU48) and 4 fridges runs as real processes:
`station simulate --record` (every device simulated) and `station run` (the daemon). Day one:
catalogue and goods only. Then `--days` of history are written straight into the database in bulk
(see bench/history/build.py: 100 sales, 20 restocks and 5 pick-ups a day copied from the real day-one
rows with fresh ids, their events acknowledged; 8,640 HACCP readings a day as compaction leaves them),
retention runs as the daemon would (once at the half, once at the end), and the daemon starts again
on the grown database: day 730.

Measured on both days, against the daemon over HTTP: `GET /api/offers`, `/api/health` and
`/api/staff/tasks` at `--rate` requests/s for `--seconds` each (open loop, p50/p99; the same load
runs `--warmup` s before and is not counted: the client opening its connections), and
`--purchases` card purchases, approval-to-unlock = the terminal simulator's approval to the unlock
frame at the simulated board (both stamped by the simulator process), and 5 pick-ups (an operator
announces and loads an order; the customer types its code: code sent to unlock frame). Then: the database size
(raw, after retention, 5 years projected from the growth rate of the second half), the idle
footprint of the daemon (RSS, CPU over `--idle` s, `--settle` s after the load) and bytes written
per sale (bench_bytes_per_sale.py, this checkout and, with `--baseline`, another one).
Targets: p99 <= 15 ms, day 730 <= 1.2 x day one.

    .venv/bin/python bench/bench_history.py [--days 730] [--rate 50] [--seconds 20] [--baseline /tmp/baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from history import build
from history.load import at_rate, operator_token, pickups, purchases, staff_token
from history.station import REPO, Daemon, config_text

from station.config import load_config
from station.db.engine import Database
from station.retention import Retention

PIN = "482915"
OPERATOR_BADGE = "04A1B2C3D4E5F6"
BUY = list(range(81, 121))  # ambient compartments bought on each day
PICKUP = list(range(196, 201))  # ambient compartments kept free for the day's 5 pick-ups


def say(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


async def measure_day(base: str, daemon: Daemon, args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """The day's latencies; `marks`: the history tables' newest rows between the purchases and the pick-ups."""
    token = await staff_token(base, 1, PIN)
    result = {
        "GET /api/offers": await at_rate(base, "/api/offers", args.rate, args.seconds, warmup=args.warmup),
        "GET /api/health": await at_rate(base, "/api/health", args.rate, args.seconds, warmup=args.warmup),
        "GET /api/staff/tasks": await at_rate(base, "/api/staff/tasks", args.rate, args.seconds,
                                              {"X-Staff-Session": token}, warmup=args.warmup),
    }
    result["purchase approval->unlock"] = await purchases(base, BUY[: args.purchases], daemon.physical)
    marks = build.marks(path)
    operator = await operator_token(base, OPERATOR_BADGE, PIN)
    result["pick-up code->unlock"] = await pickups(base, PICKUP, daemon.physical, operator)
    await printed(path)
    return {"latency": result, "marks": marks}


async def printed(path: Path, limit_s: float = 60.0) -> None:
    """Until every receipt of the day is printed: a job still queued when the daemon stops would be copied
    into every day of the history, and all of them expire (and wait for the platform) on day N."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            if not con.execute("SELECT count(*) FROM print_jobs WHERE state IN ('queued', 'sending')").fetchone()[0]:
                return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"print jobs still queued after {limit_s} s")


def run_day(config_path: Path, work: Path, base: str, args: argparse.Namespace, idle: bool,
            freeze: bool = True, label: str = "day") -> dict[str, Any]:
    os.sync()  # the bulk history written, on the disk before the day is measured (a station never writes so much)
    time.sleep(2)
    daemon = Daemon(config_path, work, env={"STATION_GC_FREEZE": "1" if freeze else "0"})
    try:
        daemon.wait_up(base)
        out: dict[str, Any] = asyncio.run(measure_day(base, daemon, args, config_path.parent / "station.db"))
        if idle:
            time.sleep(args.settle)  # the last purchase's doors shut, its boards back at the idle poll rate
            out["footprint"] = daemon.footprint(args.idle)
        with urllib.request.urlopen(f"{base}/api/health", timeout=5) as reply:
            out["runtime"] = json.loads(reply.read())["components"]["runtime"]["detail"]
        return out
    finally:
        daemon.stop()
        shutil.copy(daemon.record, work / f"physical-{label}.jsonl")  # each day's record, for --keep


def retain(path: Path, config: Any, now: Any) -> dict[str, Any]:
    db = Database(path)

    async def once() -> dict[str, Any]:
        await db.start()
        try:
            keeper = Retention(config.retention.model_copy(update={"pause_s": 0.0}), db, delivered_days=30.0,
                               clock=lambda: now)
            started = time.perf_counter()
            removed = await keeper.run_once()
            return {"removed": removed, "seconds": time.perf_counter() - started,
                    "longest_batch_ms": keeper.longest_batch_ms}
        finally:
            await db.stop()

    return asyncio.run(once())


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def bytes_per_sale(repo: Path, n: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(REPO / "bench" / "bench_bytes_per_sale.py"), "--json", "--n", str(n),
                          "--repo", str(repo)], capture_output=True, text=True, check=True, cwd=REPO)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def history(path: Path, config: Any, args: argparse.Namespace, units: list[tuple[dict[str, Any], float]]) -> dict:
    """Write the history in two halves, retention after each; sizes for the projection."""
    half, first = args.days // 2, build.start_of(args.days)
    build.drop_haccp(path)
    build.set_up_before(path, first)
    sizes: dict[str, Any] = {}
    for start, days, label in ((0, half, "half"), (half, args.days - half, "end")):
        day0 = first + timedelta(days=start)
        recent = first + timedelta(days=args.days - config.haccp.compact_after_days)
        build.write_haccp(path, config, day0, days, say, recent)
        build.write_history(path, units, day0.date(), days + (label == "end"), say)  # the last day is today
        sizes[f"raw_{label}"] = size(path)
        now = day0 + timedelta(days=days) if label == "half" else build.utcnow()
        sizes[f"retention_{label}"] = retain(path, config, now)
        sizes[label] = size(path)
        say(f"{label}: {sizes[f'raw_{label}'] / 1e6:.0f} MB raw, {sizes[label] / 1e6:.0f} MB after retention")
    growth = (sizes["end"] - sizes["half"]) / max(1, args.days - half)
    sizes["five_years"] = sizes["end"] + growth * (5 * 365 - args.days)
    sizes["growth_per_day"] = growth
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of the same load before each endpoint's measured seconds (not counted)")
    parser.add_argument("--purchases", type=int, default=20)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds the idle footprint is measured over")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after the load before the idle footprint")
    parser.add_argument("--baseline", type=Path, help="checkout of the issue's baseline, for bytes per sale")
    parser.add_argument("--gc-compare", action="store_true",
                        help="run day N once more with Python's collector untouched (STATION_GC_FREEZE=0)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (its path is printed)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(dir=REPO, prefix="bench-history-"))
    try:
        path = work / "station.db"
        text, port = config_text(path)
        config_path = work / "station.toml"
        config_path.write_text(text)
        config = load_config(config_path)
        base = f"http://127.0.0.1:{port}"
        say(f"work folder {work}")
        build.prepare(config, free=set(PICKUP))
        for account in (["--name", "Bench"], ["--name", "Betreiberin", "--role", "operator", "--badge-uid",
                                              OPERATOR_BADGE]):
            subprocess.run([sys.executable, "-m", "station.cli", "users", "add", "--config", str(config_path),
                            *account, "--pin-stdin"], input=PIN + "\n", text=True, cwd=REPO, check=True,
                           capture_output=True)
        empty = build.marks(path)
        say("day one")
        day_one = run_day(config_path, work, base, args, idle=False, label="day-1")
        sold = build.template(path, empty, day_one["marks"])
        picked = build.template(path, day_one["marks"])
        restocked_from = build.marks(path)
        build.with_db(path, lambda s: build.restock(s, BUY[: args.purchases], config))
        restocked = build.template(path, restocked_from)
        build.forget(path, empty)
        n = args.purchases
        units = [(sold, 100 / n), (restocked, 20 / n), (picked, 5 / len(PICKUP))]
        history_sizes = history(path, config, args, units)
        say(f"day {args.days}")
        last_day = run_day(config_path, work, base, args, idle=True, label=f"day-{args.days}")
        if args.gc_compare:
            say(f"day {args.days} without gc.freeze")
            build.with_db(path, lambda s: build.restock(s, BUY[: args.purchases], config))  # goods to buy again
            last_day["unfrozen"] = run_day(config_path, work, base, args, idle=False, freeze=False,
                                           label=f"day-{args.days}-unfrozen")
    finally:
        if not args.keep:
            shutil.rmtree(work)
    say("bytes per sale")
    after = bytes_per_sale(REPO, 40)
    before = bytes_per_sale(args.baseline, 40) if args.baseline else None
    report(args, day_one, last_day, history_sizes, after, before)


def report(args: argparse.Namespace, one: dict[str, Any], last: dict[str, Any], sizes: dict[str, Any],
           after: dict[str, Any], before: dict[str, Any] | None) -> None:
    print(f"200 compartments / 10 boards / 4 fridges, {args.days} days of history, {args.rate:.0f} requests/s "
          f"for {args.seconds:.0f} s each (after {args.warmup:g} s not counted), {args.purchases} purchases and "
          f"{len(PICKUP)} pick-ups a day")
    print(f"{'measured':<28}{'day-1 p50':>10}{'day-1 p99':>10}{'day-N p50':>10}{'day-N p99':>10}"
          f"{'N/1 p99':>9}{'errors':>8}")
    for name, first in one["latency"].items():
        then = last["latency"][name]
        print(f"{name:<28}{first.p50_ms:>10.2f}{first.p99_ms:>10.2f}{then.p50_ms:>10.2f}{then.p99_ms:>10.2f}"
              f"{then.p99_ms / first.p99_ms:>9.2f}{first.errors + then.errors:>8}")
    print(f"database: {sizes['raw_end'] / 1e6:.1f} MB written in {args.days} days without retention, "
          f"{sizes['end'] / 1e6:.1f} MB after retention (half-way {sizes['half'] / 1e6:.1f} MB); "
          f"growth {sizes['growth_per_day'] / 1e3:.1f} kB/day -> 5 years {sizes['five_years'] / 1e6:.1f} MB")
    r = sizes["retention_end"]
    print(f"retention at the end: {sum(r['removed'].values())} rows in {r['seconds']:.1f} s, "
          f"longest batch {r['longest_batch_ms']:.1f} ms")
    if "unfrozen" in last:
        print(f"day {args.days} with Python's collector untouched (no gc.freeze, default thresholds):")
        for name, then in last["unfrozen"]["latency"].items():
            print(f"  {name:<26}p50 {then.p50_ms:>7.2f}  p99 {then.p99_ms:>7.2f}  max {then.max_ms:>7.2f}")
    for label, day in (("gc.freeze", last), ("untouched", last.get("unfrozen"))):
        if day:
            g = day["runtime"]
            print(f"collector ({label}): collections per generation {g['gc_collections']}, longest pause ms "
                  f"{g['gc_longest_pause_ms']}, frozen objects {g['gc_frozen_objects']}")
    for label, day in (("day 1", one), (f"day {args.days}", last)):
        g = day["runtime"]
        print(f"malloc_trim ({label}): {g['malloc_trims']} trims, longest {g['longest_malloc_trim_ms']:.2f} ms")
    rss, cpu = last["footprint"]
    print(f"idle daemon on day {args.days}: RSS {rss:.0f} MB (target <= 120), CPU {cpu:.2f} % (target <= 3)")
    line = f"bytes written per sale (WAL + checkpoint): now {after['per_sale'] / 1e3:.1f} kB"
    if before:
        line += f", baseline {before['per_sale'] / 1e3:.1f} kB, ratio {after['per_sale'] / before['per_sale']:.2f}"
    print(line)


if __name__ == "__main__":
    main()
