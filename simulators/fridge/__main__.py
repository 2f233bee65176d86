"""Run a simulated fridge line: `python -m simulators.fridge --units 1,2,3 --tcp 15020 --pty`.

Prints one line per endpoint ("tcp socket://127.0.0.1:15020", "pty /dev/pts/7") and serves until
interrupted. Time runs `--speed` times faster than real time so the demo shows defrosts and drifts.
"""

from __future__ import annotations

import argparse
import sys
import time

from drivers.fridge.registermap import load_map

from ..cli import run, serve_until_signalled
from .bus import FridgeBusSimulator
from .thermal import ThermalParams


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.fridge", description="Simulated fridge controllers")
    parser.add_argument("--model", default="dixell-xr", help="register map name or .json path")
    parser.add_argument("--units", default="1", help="comma-separated unit ids, e.g. 1,2,3")
    parser.add_argument("--freezers", default="", help="unit ids (comma-separated) that are freezers (-20 °C)")
    parser.add_argument("--tcp", type=int, default=None, metavar="PORT", help="serve RTU over TCP (0 = any port)")
    parser.add_argument("--pty", action="store_true", help="also serve on a pty")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--defrost-every", type=float, default=None, metavar="S", help="defrost interval (sim s)")
    return parser


def _ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


async def _serve(args: argparse.Namespace) -> None:
    start = time.monotonic()

    def clock() -> float:
        return (time.monotonic() - start) * args.speed

    freezers = set(_ids(args.freezers))
    units = {
        unit: (ThermalParams.freezer if unit in freezers else ThermalParams)(defrost_interval_s=args.defrost_every)
        for unit in _ids(args.units)
    }
    sim = FridgeBusSimulator(load_map(args.model), units, clock=clock, seed=args.seed)
    await serve_until_signalled(sim, args.tcp, args.pty)


def main(argv: list[str] | None = None) -> int:
    return run(_serve(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
