"""`station demo`: the daemon on simulated hardware, on one machine, in one command."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from ..config import ConfigError, load_config
from ..logsetup import setup_logging

log = logging.getLogger("station.demo")

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "station.sim.toml"


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="start the demo station: simulated devices + the daemon")
    demo.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="a simulated station's TOML file")
    demo.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    demo.add_argument("--log-format", default="auto", choices=["auto", "json", "text"])
    demo.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    if config.simulation is None or not config.simulation.enabled:
        log.error("%s has no [simulation] section: the demo refuses to run on a production config", args.config)
        return 2
    from ..demo import run_demo

    try:
        asyncio.run(run_demo(config))
    except Exception:
        log.exception("demo stopped by an error")
        return 1
    return 0
