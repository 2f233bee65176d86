"""`station demo`: the daemon on simulated hardware, on one machine, in one command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
from pathlib import Path

from ..config import Config, ConfigError, load_config
from ..logsetup import setup_logging
from .core import load_checked_or_report, report_config_error

log = logging.getLogger("station.demo")

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "station.sim.toml"

# What the demo keeps beside its database (station/demo.py): its broker's folder and the platform
# consumer's store. The operator key stays, so commands and scripts that use it keep working.
DEMO_STATE_DIRS = ("demo-broker",)
DEMO_STATE_FILES = ("demo-platform.db",)
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


class ResetRefused(Exception):
    """--fresh found something it must not delete; nothing was deleted."""


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="start the demo station: simulated devices + the daemon",
        description="Start the demo station: simulated devices, the daemon, a private broker and platform. "
        "It keeps its state (sales, stock, broker) between runs beside its database; --fresh starts clean.",
    )
    demo.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="a simulated station's TOML file")
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="start from a clean demo state: delete the demo database and its broker and platform state "
        "beside it (only those files, only in that folder) before starting",
    )
    demo.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    demo.add_argument("--log-format", default="auto", choices=["auto", "json", "text"])
    demo.set_defaults(handler=cmd_demo)

    simulate = sub.add_parser(
        "simulate",
        help="run a simulated station's devices in their own process (the daemon runs against them)",
        description="Serve the simulated devices of a [simulation] config on their configured ports until "
        "SIGTERM/SIGINT, so `station run` can be killed and restarted against the same physical state. "
        "--record appends what physically happened (pulses, doors opened and closed, terminal approvals, "
        "bookings and reversals) as JSON lines.",
    )
    simulate.add_argument("--config", type=Path, required=True, help="a simulated station's TOML file")
    simulate.add_argument("--record", type=Path, help="append the physical record here (JSON lines)")
    simulate.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    simulate.add_argument("--log-format", default="auto", choices=["auto", "json", "text"])
    simulate.set_defaults(handler=cmd_simulate)


def demo_state_paths(config: Config) -> list[Path]:
    """Every path --fresh deletes (existing or not): the database and the broker/platform state beside it."""
    database = config.database.path
    folder = database.parent
    paths = [database.with_name(database.name + suffix) for suffix in SQLITE_SIDE_FILES]
    for name in DEMO_STATE_FILES:
        paths += [folder / (name + suffix) for suffix in SQLITE_SIDE_FILES]
    paths += [folder / name for name in DEMO_STATE_DIRS]
    return paths


def reset_demo_state(config: Config) -> list[Path]:
    """Delete the demo's state (see `demo_state_paths`); returns what was deleted.

    Refuses (ResetRefused, before deleting anything) a config without [simulation] and any
    path that is not a plain file or folder directly in the demo's folder, e.g. a symlink out of it.
    """
    if config.simulation is None or not config.simulation.enabled:
        raise ResetRefused("--fresh deletes a database: only a [simulation] config's, never a station's")
    folder = config.database.path.parent.resolve()
    found = [path for path in demo_state_paths(config) if path.is_symlink() or path.exists()]
    for path in found:
        if path.is_symlink() or path.resolve().parent != folder:
            raise ResetRefused(f"{path} leads out of the demo's folder {folder}: delete it yourself if you mean to")
        if not (path.is_file() or path.is_dir()):
            raise ResetRefused(f"{path} is neither a file nor a folder: delete it yourself if you mean to")
    for path in found:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return found


def cmd_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        report_config_error(exc)
        log.error("refusing to start: %s is not a valid configuration", args.config)
        return 2
    if config.simulation is None or not config.simulation.enabled:
        log.error("%s has no [simulation] section: the demo refuses to run on a production config", args.config)
        return 2
    if args.fresh:
        try:
            removed = reset_demo_state(config)
        except ResetRefused as exc:
            log.error("--fresh: %s", exc)
            return 2
        log.info("fresh demo: removed %s", ", ".join(p.name for p in removed) or "nothing (already clean)")
    with contextlib.suppress(OSError):  # the demo's own var/ folder: made here, so no warning about it
        config.database.path.parent.mkdir(exist_ok=True)
    checked = load_checked_or_report(args.config)
    if checked is None:
        log.error("refusing to start: %s is not a valid configuration", args.config)
        return 2
    for warning in checked.warnings:
        log.warning("config %s: %s", args.config, warning)
    from ..demo import run_demo

    try:
        asyncio.run(run_demo(checked.config))
    except Exception:
        log.exception("demo stopped by an error")
        return 1
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    checked = load_checked_or_report(args.config)
    if checked is None:
        return 2
    config = checked.config
    if config.simulation is None or not config.simulation.enabled:
        log.error("%s has no [simulation] section: there is nothing to simulate", args.config)
        return 2
    from ..simulate import main

    return main(config, args.record)
