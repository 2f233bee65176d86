"""What the `station hw` commands for Modbus devices share: where the device is, and quiet logs."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterator


def add_line_arguments(parser: argparse.ArgumentParser, tcp_help: str, unit_help: str) -> None:
    """--port or --tcp (one of them), --unit, --timeout-ms and --retries."""
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", help="serial port as pyserial URL: /dev/ttyUSB0, a pty, socket://host:port")
    where.add_argument("--tcp", metavar="HOST[:PORT]", help=tcp_help)
    parser.add_argument("--unit", type=int, required=True, help=unit_help)
    parser.add_argument("--timeout-ms", type=float, default=1000.0)
    parser.add_argument("--retries", type=int, default=1)


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """The command prints its own verdict: silence pymodbus's per-timeout errors and the down/up lines."""
    loggers = {logging.getLogger("pymodbus"): logging.CRITICAL, logging.getLogger("drivers"): logging.ERROR}
    saved = {logger: logger.level for logger in loggers}
    for logger, level in loggers.items():
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, level in saved.items():
            logger.setLevel(level)
