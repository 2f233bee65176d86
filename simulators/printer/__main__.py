"""Run a simulated receipt printer: `python -m simulators.printer --tcp 9100 --pty --paper near_end`.

Prints one line per endpoint ("tcp socket://127.0.0.1:9100", "pty /dev/pts/7"), then, with
`--transcripts`, each received job's transcript; serves until interrupted.
"""

from __future__ import annotations

import argparse
import sys

from ..cli import run, serve_until_signalled
from .device import Paper, ReplyMode
from .server import PrinterSimulator
from .transcript import Job


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.printer", description="Simulated ESC/POS printer")
    parser.add_argument("--tcp", type=int, default=None, metavar="PORT", help="serve raw TCP (0 = any free port)")
    parser.add_argument("--pty", action="store_true", help="also serve on a pty")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--paper", choices=[p.value for p in Paper], default="ok")
    parser.add_argument("--paper-lines", type=int, default=None, help="lines left on the roll (default endless)")
    parser.add_argument("--cover-open", action="store_true")
    parser.add_argument("--offline", action="store_true")
    parser.add_argument("--cutter-error", action="store_true")
    parser.add_argument("--reply", choices=[r.value for r in ReplyMode], default="normal")
    parser.add_argument("--late-s", type=float, default=1.0, help="delay of a late reply")
    parser.add_argument("--transcripts", action="store_true", help="print each job's transcript")
    return parser


def _print_job(job: Job) -> None:
    state = "printed" if job.printed else "NOT printed"
    print(f"--- job {job.number} ({len(job.raw)} bytes, {state}) ---\n{job.transcript()}", flush=True)


async def _serve(args: argparse.Namespace) -> None:
    sim = PrinterSimulator(seed=args.seed, paper_lines=args.paper_lines, late_s=args.late_s)
    if args.paper != "ok":
        sim.set_faults(paper=args.paper)
    sim.set_faults(cover_open=args.cover_open, offline=args.offline, cutter_error=args.cutter_error, reply=args.reply)
    if args.transcripts:
        sim.on_job = _print_job
    await serve_until_signalled(sim, args.tcp, args.pty)


def main(argv: list[str] | None = None) -> int:
    return run(_serve(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
