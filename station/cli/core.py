"""`station run`, `station config check`, `station db upgrade|status`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from ..config import ConfigError, load_config
from ..config.environment import CheckedConfig, check_database, load_checked
from ..logsetup import setup_logging

log = logging.getLogger("station")


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run the station daemon")
    run.add_argument("--config", required=True, type=Path, help="station TOML file")
    _log_options(run)
    run.set_defaults(handler=cmd_run)

    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser(
        "check", help="check a config file (and this machine's files and devices for it); print every problem"
    )
    check.add_argument("file", type=Path)
    check.set_defaults(handler=cmd_config_check)
    reference = config_sub.add_parser("reference", help="print the configuration reference (Markdown)")
    reference.set_defaults(handler=cmd_config_reference)

    openapi = sub.add_parser("openapi", help="print the HTTP API's OpenAPI document (JSON)")
    openapi.set_defaults(handler=cmd_openapi)

    flows = sub.add_parser("flows", help="print every flow's arrow table and recovery (Markdown)")
    flows.add_argument("--update", type=Path, help="rewrite the generated block of this file (docs/architecture.md)")
    flows.set_defaults(handler=cmd_flows)

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


def report_config_error(exc: ConfigError) -> None:
    """The problem list, exactly as `config check` prints it (stderr, one line per problem)."""
    print(exc, file=sys.stderr)


def load_checked_or_report(path: Path) -> CheckedConfig | None:
    """Everything `config check` checks; None (and the problem list on stderr) when the config is refused."""
    try:
        return load_checked(path)
    except ConfigError as exc:
        report_config_error(exc)
        return None


def cmd_config_check(args: argparse.Namespace) -> int:
    checked = load_checked_or_report(args.file)
    if checked is None:
        return 2
    config = checked.config
    print(f"{args.file}: ok (station {config.station.id}, {len(config.compartments)} compartments)")
    for warning in checked.warnings:
        print(f"  - warning: {warning}")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from ..config import Config
    from ..config.reference import render

    sys.stdout.write(render(Config))
    return 0


def cmd_flows(args: argparse.Namespace) -> int:
    from ..flows import docs

    if args.update is None:
        sys.stdout.write(docs.render() + "\n")
        return 0
    args.update.write_text(docs.replace_in(args.update.read_text()))
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    import json

    from ..api.app import create_app

    print(json.dumps(create_app(None).openapi(), indent=2, ensure_ascii=False))
    return 0


def _database_path(args: argparse.Namespace) -> Path | None:
    """The database of `--database` or of the config's file, if it can be used (problems on stderr)."""
    if args.database is not None:
        path, source = args.database.resolve(), str(args.database)
    else:
        try:
            path, source = load_config(args.config).database.path, str(args.config)
        except ConfigError as exc:
            report_config_error(exc)
            return None
    errors = [f.message for f in check_database(path) if not f.warning]
    if errors:
        report_config_error(ConfigError(source, errors))
        return None
    return path


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    path = _database_path(args)
    if path is None:
        return 2
    from ..db import migrate  # not at the top: `config check` starts faster without SQLAlchemy

    before = migrate.status(path)
    migrate.upgrade(path)
    after = migrate.status(path)
    print(f"{path}: {before.current or 'empty'} -> {after.current}")
    return 0


def cmd_db_status(args: argparse.Namespace) -> int:
    path = _database_path(args)
    if path is None:
        return 2
    from ..db import migrate

    if not path.exists():
        print(f"{path}: no database yet (head is {migrate.head()})")
        return 1
    status = migrate.status(path)
    state = "up to date" if status.up_to_date else f"{len(status.pending)} pending: {', '.join(status.pending)}"
    print(f"{path}: revision {status.current or 'empty'}, head {status.head} ({state})")
    return 0 if status.up_to_date else 1


def cmd_run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    checked = load_checked_or_report(args.config)
    if checked is None:
        log.error("refusing to start: %s is not a valid configuration (`station config check` explains)", args.config)
        return 2
    for warning in checked.warnings:
        log.warning("config %s: %s", args.config, warning)
    config = checked.config
    from ..assembly import build_station, daemon_freezes_heap
    from ..config.overlay import effective_config

    effective, overlay = effective_config(config)
    try:
        station = build_station(effective, file_config=config, overlay=overlay, freeze_heap=daemon_freezes_heap())
        asyncio.run(station.run())
    except Exception:
        log.exception("station stopped by an error")
        return 1
    return 0
