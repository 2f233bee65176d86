"""Run a simulated return machine: `python -m simulators.deposit --unit 10 --tcp 0 --pty --shopper 12`.

Prints one line per endpoint ("tcp socket://127.0.0.1:15020", "pty /dev/pts/7") and serves until
interrupted. `--fridge-units 1,2` puts fridge controllers on the same line (one server, different
unit ids). With `--shopper N`, a scripted shopper (seeded) returns N containers each time a session
is opened by the host.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import time

from deposit.protocol import State

from ..cli import run, serve_until_signalled
from .bus import DepositBusSimulator
from .machine import SimulatedDepositMachine
from .shopper import Shopper


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.deposit", description="Simulated deposit machine")
    parser.add_argument("--unit", type=int, default=10, help="Modbus unit id of the machine")
    parser.add_argument("--fridge-units", default="", help="comma-separated fridge unit ids on the same line")
    parser.add_argument("--tcp", type=int, default=None, metavar="PORT", help="serve RTU over TCP (0 = any port)")
    parser.add_argument("--pty", action="store_true", help="also serve on a pty")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fifo-capacity", type=int, default=32)
    parser.add_argument("--bin-capacity", type=int, default=None, help="bin full after this many containers")
    parser.add_argument("--lose-fifo-on-power-loss", action="store_true", help="a power loss empties the FIFO")
    parser.add_argument("--shopper", type=int, default=0, metavar="N", help="containers returned per session")
    parser.add_argument("--reject-rate", type=float, default=0.1, help="share of the shopper's containers rejected")
    parser.add_argument("--pace", type=float, default=0.5, metavar="S", help="seconds between two containers")
    return parser


async def _shop(machine: SimulatedDepositMachine, args: argparse.Namespace) -> None:
    """Whenever the host opens a session, return `args.shopper` containers, then wait for the next one."""
    shopper = Shopper(machine, random.Random(args.seed))
    served: set[int] = set()
    while True:
        if machine.state in (State.SESSION, State.BUSY) and machine.session_id not in served:
            served.add(machine.session_id)
            containers = shopper.pick(args.shopper, reject_rate=args.reject_rate)
            await shopper.feed(containers, pace_s=args.pace, transport_s=min(args.pace / 2, 0.3))
        await machine.wait_change(1.0)


async def _serve(args: argparse.Namespace) -> None:
    machine = SimulatedDepositMachine(
        args.unit, fifo_capacity=args.fifo_capacity, bin_capacity=args.bin_capacity, seed=args.seed
    )
    machine.faults.fifo_survives_power_loss = not args.lose_fifo_on_power_loss
    fridges = [int(part) for part in args.fridge_units.split(",") if part.strip()]
    start = time.monotonic()
    sim = DepositBusSimulator([machine], fridge_units=fridges, seed=args.seed, clock=lambda: time.monotonic() - start)
    shopper = asyncio.create_task(_shop(machine, args), name="deposit-sim-shopper") if args.shopper else None
    try:
        await serve_until_signalled(sim, args.tcp, args.pty)
    finally:
        if shopper is not None:
            shopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await shopper


def main(argv: list[str] | None = None) -> int:
    return run(_serve(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
