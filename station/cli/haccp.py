"""`station haccp export|verify`: the HACCP temperature log for the food inspector."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config import ConfigError, load_config
from ..db.engine import Database, DatabaseError


def register(sub: argparse._SubParsersAction) -> None:
    haccp = sub.add_parser("haccp", help="HACCP temperature log: export for the inspector, verify the hash chain")
    haccp_sub = haccp.add_subparsers(dest="haccp_command", required=True, metavar="ACTION")

    export = haccp_sub.add_parser("export", help="export the log of a period (CSV: ';' separated, decimal comma)")
    export.add_argument("--config", required=True, type=Path, help="station TOML file")
    export.add_argument("--from", dest="first", required=True, type=date.fromisoformat, help="first day, YYYY-MM-DD")
    export.add_argument("--to", dest="last", required=True, type=date.fromisoformat, help="last day (inclusive)")
    export.add_argument("--format", choices=["csv"], default="csv")
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=cmd_export)

    verify = haccp_sub.add_parser("verify", help="check the hash chain; exit 1 naming the first bad row")
    verify.add_argument("--config", required=True, type=Path, help="station TOML file")
    verify.set_defaults(handler=cmd_verify)


def _open(config_path: Path):  # -> tuple[Config, Database] | None
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    db = Database(config.database.path, config.database.busy_timeout_ms)
    try:
        db.open_sync()
    except DatabaseError as exc:
        print(f"cannot open the database: {exc}", file=sys.stderr)
        return None
    return config, db


def cmd_export(args: argparse.Namespace) -> int:
    """Exit 0 after writing the CSV; 2 for a bad config, database or period."""
    from ..coldchain.export import day_range, write_csv

    opened = _open(args.config)
    if opened is None:
        return 2
    config, db = opened
    tz = ZoneInfo(config.station.timezone)
    try:
        start, end = day_range(args.first, args.last, tz)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        db.close_sync()
        return 2
    try:
        if args.output is None:
            count = db.run_sync(lambda s: write_csv(s, start, end, sys.stdout, tz), write=False)
        else:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                count = db.run_sync(lambda s: write_csv(s, start, end, out, tz), write=False)
    finally:
        db.close_sync()
    where = args.output or "standard output"
    print(f"{count} rows from {args.first} to {args.last} ({tz.key}) written to {where}", file=sys.stderr)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 0 when the chain is intact, 1 naming the first bad row, 2 for a bad config or database."""
    from ..coldchain.verify import verify

    opened = _open(args.config)
    if opened is None:
        return 2
    _config, db = opened
    try:
        report = db.run_sync(verify, write=False)
    finally:
        db.close_sync()
    if report.ok:
        print(f"HACCP log intact: {report.rows} rows, {report.compactions} compactions, head {report.head_hash}")
        return 0
    print(f"HACCP log BROKEN: first bad {report.first_problem}", file=sys.stderr)
    for problem in report.problems[1:]:
        print(f"  also: {problem}", file=sys.stderr)
    return 1
