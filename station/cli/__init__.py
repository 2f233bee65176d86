"""The `station` command line."""

from __future__ import annotations

import argparse
import sys

from . import core, demo, haccp, hw, ops, users


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="station", description="Station daemon for unattended pick-up points")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    core.register(sub)
    demo.register(sub)
    hw.register(sub)
    haccp.register(sub)
    ops.register(sub)
    users.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
