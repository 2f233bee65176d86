"""`station hw locks ...`: talk to one Kerong lock board directly (service technician).

Boards by the address set on the board (from 0), locks by the number printed on it (from 1).
Exit codes: 0 ok · 1 pulse sent but the read-back does not show the lock unlocked ·
2 wrong arguments · 3 no answer · 4 bad frame · 5 port not available.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

from drivers.locks import (
    PROTOCOLS,
    BadReply,
    BoardSpec,
    BoardStatus,
    LockBus,
    LockBusError,
    NoAnswer,
    PortUnavailable,
)

EXIT_OK, EXIT_NOT_CONFIRMED, EXIT_USAGE, EXIT_NO_ANSWER, EXIT_BAD_FRAME, EXIT_PORT = 0, 1, 2, 3, 4, 5
_HINTS = {
    EXIT_NO_ANSWER: "check the board address switch, the wiring (A/B), the protocol and the baud rate",
    EXIT_BAD_FRAME: "check the protocol (cu16/cu48), the baud rate and the RS485 wiring/termination",
    EXIT_PORT: "check the port name and that no other program (the station daemon) holds it",
}


def register(hw_subparsers: argparse._SubParsersAction) -> None:
    """Add the `locks` device command (with its own sub-commands) to `station hw`."""
    locks = hw_subparsers.add_parser(
        "locks",
        help="Kerong lock boards (CU16, CU48) on one RS485 line",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = locks.add_subparsers(dest="locks_command", required=True, metavar="COMMAND")
    common = _common_options()
    status = sub.add_parser("status", parents=[common], help="print the lock and sensor states of one board")
    status.set_defaults(handler=run_status)
    opener = sub.add_parser("open", parents=[common], help="unlock one lock and confirm it by reading back")
    opener.add_argument("--lock", type=int, required=True, help="lock number as printed on the board, from 1")
    opener.add_argument(
        "--confirm-s", type=float, default=3.0, help="how long to read back for 'unlocked' (default 3 s)"
    )
    opener.set_defaults(handler=run_open)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--port", required=True, help="pyserial URL: /dev/ttyUSB0, a pty path, socket://host:port")
    common.add_argument("--protocol", required=True, choices=PROTOCOLS, help="board family")
    common.add_argument("--board", required=True, type=int, help="board address as set on the board, from 0")
    common.add_argument("--baudrate", type=int, default=19200, help="default 19200 (factory setting)")
    common.add_argument("--timeout-ms", type=float, default=500.0, help="reply timeout (default 500 ms)")
    common.add_argument(
        "--hook-locked-bit", type=int, choices=(0, 1), default=1, help="hook bit value meaning 'locked' (default 1)"
    )
    common.add_argument("--item-sensors", action="store_true", help="CU16 infrared item sensors are fitted")
    common.add_argument("--dialect", choices=("standard", "alt"), default="standard", help="CU48 command set")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    return common


def _quiet_logger() -> logging.Logger:
    """The bus logs for a daemon's journal; here the command prints its own messages."""
    logger = logging.getLogger("station.cli.hw_locks.bus")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def _make_bus(args: argparse.Namespace) -> LockBus:
    spec = BoardSpec(args.board, None, args.hook_locked_bit, args.item_sensors)
    return LockBus(
        args.port,  # the bus name appears in messages: the port says most to a technician
        args.port,
        args.protocol,
        [spec],
        baudrate=args.baudrate,
        timeout_s=args.timeout_ms / 1000,
        poll_hz=None,  # no background polling: only the reads this command makes
        dialect=args.dialect,
        logger=_quiet_logger(),
    )


def run_status(args: argparse.Namespace) -> int:
    """`station hw locks status`."""
    return _run(args, _status)


def run_open(args: argparse.Namespace) -> int:
    """`station hw locks open`."""
    return _run(args, _open)


def _run(args: argparse.Namespace, action: Any) -> int:
    try:
        bus = _make_bus(args)
        count = bus.lock_count(args.board)
        if hasattr(args, "lock") and not 1 <= args.lock <= count:
            raise ValueError(f"a {args.protocol} board has locks 1-{count}, not {args.lock}")
    except ValueError as exc:
        return _fail(args, EXIT_USAGE, str(exc))

    async def _session() -> int:
        await bus.start()
        try:
            return int(await action(bus, args))
        except LockBusError as exc:
            return _fail(args, _exit_code(exc), str(exc))
        finally:
            await bus.stop()

    return asyncio.run(_session())


async def _status(bus: LockBus, args: argparse.Namespace) -> int:
    status = await bus.read_status(args.board)
    if args.json:
        _print_json({"ok": True, "port": args.port, "protocol": args.protocol, **status.as_dict()})
    else:
        _print_table(args, status)
    return EXIT_OK


async def _open(bus: LockBus, args: argparse.Namespace) -> int:
    result = await bus.unlock(args.board, args.lock)
    status = result.status
    deadline = result.sent_at + args.confirm_s
    while status is None or status.lock(args.lock).locked is not False:
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.1)
        try:
            status = await bus.read_status(args.board)
        except LockBusError as exc:
            return _fail(args, _exit_code(exc), f"unlock pulse sent, but the status read-back failed: {exc}")
    confirmed = status is not None and status.lock(args.lock).locked is False
    after = (status.at - result.sent_at) if status is not None else None
    if args.json:
        _print_json(
            {"ok": confirmed, "pulse_sent": True, "confirmed": confirmed, "board": args.board, "lock": args.lock}
            | {"seconds_to_confirm": round(after, 3) if confirmed and after is not None else None}
            | {"status": status.as_dict() if status is not None else None}
        )
    elif confirmed:
        where = f"board {args.board} lock {args.lock}"
        print(f"{where}: unlock pulse sent; read-back shows it unlocked after {after:.2f} s")
    if not confirmed:  # on stderr in both output modes, like every failure
        print(
            f"board {args.board} lock {args.lock}: unlock pulse sent, but the read-back still shows it locked "
            f"after {args.confirm_s:.1f} s (jammed lock, wrong lock number, or a hook sensor fault)",
            file=sys.stderr,
        )
    return EXIT_OK if confirmed else EXIT_NOT_CONFIRMED


def _print_table(args: argparse.Namespace, status: BoardStatus) -> None:
    locked, unlocked = len(status.locked()), len(status.unlocked())
    print(f"board {status.board} on {args.port} ({args.protocol}): {locked} locked, {unlocked} unlocked")
    print("lock  hook      item")
    for number, state in enumerate(status.locks, start=1):
        hook = "locked" if state.locked else "UNLOCKED"
        item = "-" if state.item_present is None else ("present" if state.item_present else "empty")
        print(f"{number:4d}  {hook:8s}  {item}")
    raw = f"raw hook bytes: {status.hooks.hex(' ').upper()}"
    if status.items is not None:
        raw += f"   infrared bytes: {status.items.hex(' ').upper()}"
    print(raw)


def _exit_code(exc: LockBusError) -> int:
    if isinstance(exc, BadReply):
        return EXIT_BAD_FRAME
    if isinstance(exc, PortUnavailable):
        return EXIT_PORT
    if isinstance(exc, NoAnswer):
        return EXIT_NO_ANSWER
    return EXIT_NO_ANSWER  # BusBusy / BusClosed: the board could not be reached in time


def _fail(args: argparse.Namespace, code: int, message: str) -> int:
    hint = _HINTS.get(code)
    if args.json:
        _print_json({"ok": False, "exit_code": code, "error": message, "hint": hint})
    print(f"error: {message}" + (f"\nhint: {hint}" if hint else ""), file=sys.stderr)
    return code


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2))
