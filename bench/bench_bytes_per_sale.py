"""Bytes written to disk per sale, WAL and checkpoints included, by the purchase service of a given checkout.

Runs `--n` card purchases through the real purchase service (lock boards and ZVT terminal simulated
over ptys, as in bench_purchase.py) against a station database in a temporary folder, and counts the
bytes this process hands to `write`/`pwrite` (`wchar` in /proc/self/io: the database file, its WAL,
its journal; the few bytes of lock and terminal frames are in it too) from the purchase's start until
the sale is final and its door closed. Restocking between purchases is not counted. At the end one
full checkpoint (closing the database, then `wal_checkpoint(TRUNCATE)`) moves the WAL into the
database file; its bytes are
shared out over the purchases. `--repo` runs the code of another checkout (the issue's baseline).

    .venv/bin/python bench/bench_bytes_per_sale.py [--n 40] [--repo /tmp/baseline] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]


def written() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


def restock(session: Any, compartment: int) -> None:
    """Goods back into the compartment, with whichever API the checkout has."""
    from datetime import date, timedelta

    try:
        from station.compartments.contents import load
    except ImportError:  # the baseline
        from station.stock import load_compartment

        load_compartment(session, compartment, "4001234567890", 1, best_before=date.today() + timedelta(days=30),
                         loaded_by="bench")
        return
    load(session, compartment, "4001234567890", 1, best_before=date.today() + timedelta(days=30), actor="bench")


async def run(n: int) -> dict[str, Any]:
    from payments.zvt import ZvtTimers
    from simulators.locks import LockBusSimulator
    from simulators.zvt import SimConfig, ZvtSimulator
    from station.purchase import FINAL
    from tests.purchase.conftest import open_shop

    locks = LockBusSimulator("cu16", [0, 1], open_delay_s=0.02, close_after_s=0.1)
    terminal_sim = ZvtSimulator(SimConfig(seed=5, step_s=0.002, resend_s=0.05))
    timers = ZvtTimers(t2_frame_ack=1.0, t3_ack=1.0, t4_dialogue=10.0, decide_s=0.5)
    per_sale: list[int] = []
    with tempfile.TemporaryDirectory(dir=HERE) as tmp:
        async with open_shop(Path(tmp), locks, terminal_sim, serial_terminal=True, timers=timers) as shop:
            service, db = shop.service, shop.db
            for i in range(n):
                if i:
                    await db.write(lambda s: restock(s, 2))
                before = written()
                sale_id = await service.begin([2])
                version = -1
                while (item := await service.board.wait_change(sale_id, version, 10.0)) and item.state not in FINAL:
                    version = item.version
                await asyncio.sleep(0.3)  # the simulated shopper closes the door; the door operation ends
                per_sale.append(written() - before)
            db_path = Path(tmp) / "station.db"
            before = written()
        with sqlite3.connect(db_path) as con:  # closing the service's connection may have checkpointed already
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        checkpoint = written() - before
        size = db_path.stat().st_size
    return {"n": n, "wal_per_sale": sum(per_sale) / n, "checkpoint_per_sale": checkpoint / n,
            "per_sale": sum(per_sale) / n + checkpoint / n, "db_bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--repo", type=Path, default=HERE, help="checkout whose station code runs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    for name in [m for m in sys.modules if m.split(".")[0] in ("station", "tests", "payments", "simulators",
                                                              "drivers")]:
        del sys.modules[name]
    import logging

    logging.disable(logging.WARNING)
    result = asyncio.run(run(args.n))
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.n} card purchases, code of {args.repo}")
    print(f"{'written per sale':<28}{'bytes':>10}")
    for key in ("wal_per_sale", "checkpoint_per_sale", "per_sale"):
        print(f"{key.replace('_', ' '):<28}{result[key]:>10.0f}")


if __name__ == "__main__":
    main()
