"""`station run`, `station config check`, `station db upgrade|status`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from ..config import ConfigError, load_config
from ..db import migrate
from ..logsetup import setup_logging

log = logging.getLogger("station")


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the station daemon")
    run.add_argument("--config", required=True, type=Path, help="station TOML file")
    _log_options(run)
    run.set_defaults(handler=cmd_run)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser("check", help="validate a config file and print every error")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=cmd_config_check)
    reference = config_sub.add_parser("reference", help="print the configuration reference (Markdown)")
    reference.set_defaults(handler=cmd_config_reference)

    openapi = sub.add_parser("openapi", help="print the HTTP API's OpenAPI document (JSON)")
    openapi.set_defaults(handler=cmd_openapi)

    db = sub.add_parser("db", help="database schema migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, handler, text in (
        ("upgrade", cmd_db_upgrade, "apply pending migrations"),
        ("status", cmd_db_status, "show the schema revision"),
    ):
        p = db_sub.add_parser(name, help=text)
        target = p.add_mutually_exclusive_group(required=True)
        target.add_argument("--config", type=Path, help="station TOML file (uses its database path)")
        target.add_argument("--database", type=Path, help="SQLite file")
        p.set_defaults(handler=handler)


def _log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", default="auto", choices=["auto", "json", "text"])


def _load_or_report(path: Path):  # -> Config | None
    try:
        return load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def cmd_config_check(args: argparse.Namespace) -> int:
    config = _load_or_report(args.file)
    if config is None:
        return 2
    print(f"{args.file}: ok (station {config.station.id}, {len(config.compartments)} compartments)")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from ..config import Config
    from ..config.reference import render

    sys.stdout.write(render(Config))
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    import json

    from ..api.app import create_app

    print(json.dumps(create_app(None).openapi(), indent=2, ensure_ascii=False))
    return 0


def _database_path(args: argparse.Namespace) -> Path | None:
    if args.database is not None:
        return args.database
    config = _load_or_report(args.config)
    return None if config is None else config.database.path


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    path = _database_path(args)
    if path is None:
        return 2
    before = migrate.status(path)
    migrate.upgrade(path)
    after = migrate.status(path)
    print(f"{path}: {before.current or 'empty'} -> {after.current}")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    path = _database_path(args)
    if path is None:
        return 2
    if not path.exists():
        print(f"{path}: no database yet (head is {migrate.head()})")
        return 1
    status = migrate.status(path)
    state = "up to date" if status.up_to_date else f"{len(status.pending)} pending: {', '.join(status.pending)}"
    print(f"{path}: revision {status.current or 'empty'}, head {status.head} ({state})")
    return 0 if status.up_to_date else 1


def cmd_run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    config = _load_or_report(args.config)
    if config is None:
        log.error("refusing to start: %s is not a valid configuration", args.config)
        return 2
    from ..assembly import build_station
    from ..config.overlay import effective_config

    effective, overlay = effective_config(config)
    try:
        asyncio.run(build_station(effective, file_config=config, overlay=overlay).run())
    except Exception:
        log.exception("station stopped by an error")
        return 1
    return 0
