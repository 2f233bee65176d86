"""`station hw terminal ...`: talk to the ZVT card terminal directly (service technician).

--port is `tcp://host:20007` (ZVT over TCP) or a serial port (`/dev/ttyUSB0`, a pty, a pyserial URL).
Messages from the terminal are printed as they arrive, then the result.
Exit codes: 0 ok (approved, registered, ready, end-of-day done) · 1 the terminal did not approve
(declined, aborted, refused, locked, or outcome unknown) · 2 wrong arguments · 3 terminal not reachable.
A payment made here is answered "goods issued": it is booked. An unknown outcome is never retried.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from payments.zvt import (
    GOODS_ISSUED,
    GoodsAnswer,
    Message,
    Result,
    StatusInformation,
    TerminalBusy,
    TerminalUnavailable,
    ZvtClient,
    ZvtSettings,
    ZvtTimers,
)
from payments.zvt.messages import (
    Abort,
    Completion,
    IntermediateStatus,
    PrintLine,
    PrintTextBlock,
)

EXIT_OK, EXIT_NOT_APPROVED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
_AMOUNT = re.compile(r"^(\d{1,7})(?:\.(\d{1,2}))?$")
_PASSWORD = re.compile(r"^\d{6}$")

Action = Callable[[ZvtClient, argparse.Namespace], Awaitable[Result]]


def parse_euros(text: str) -> int:
    """`12.50` -> 1250 cents, exactly (no floating point); anything else is an argparse error."""
    match = _AMOUNT.match(text.strip())
    if not match:
        hint = " (use a dot, not a comma)" if "," in text else ""
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount in euros such as 12.50{hint}")
    euros, cents = match.group(1), (match.group(2) or "0").ljust(2, "0")
    total = int(euros) * 100 + int(cents)
    if total <= 0:
        raise argparse.ArgumentTypeError("the amount must be more than 0.00")
    return total


def _password(text: str) -> str:
    if not _PASSWORD.match(text):
        raise argparse.ArgumentTypeError("the terminal password has exactly 6 digits")
    return text


def _hex_byte(text: str) -> int:
    try:
        value = int(text, 16)
    except ValueError:
        value = -1
    if not 0 <= value <= 0xFF:
        raise argparse.ArgumentTypeError(f"{text!r} is not a byte in hex such as BE")
    return value


def register(hw_subparsers: argparse._SubParsersAction) -> None:
    """Add the `terminal` device command (with its own sub-commands) to `station hw`."""
    terminal = hw_subparsers.add_parser(
        "terminal",
        help="ZVT card terminal over TCP or RS232",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = terminal.add_subparsers(dest="terminal_command", required=True, metavar="COMMAND")
    common = _common_options()
    sub.add_parser("register", parents=[common], help="register the station at the terminal (06 00)").set_defaults(
        handler=run_register
    )
    sub.add_parser("status", parents=[common], help="status enquiry (05 01)").set_defaults(handler=run_status)
    pay = sub.add_parser("pay", parents=[common], help="take a card payment and book it (06 01)")
    pay.add_argument("amount", type=parse_euros, metavar="AMOUNT", help="euros, e.g. 12.50")
    pay.set_defaults(handler=run_pay)
    sub.add_parser("end-of-day", parents=[common], help="end-of-day, prints the totals (06 50)").set_defaults(
        handler=run_end_of_day
    )


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--port", required=True, help="tcp://host:20007, or a serial port / pyserial URL")
    common.add_argument("--password", type=_password, default="123456", help="terminal password (default 123456)")
    common.add_argument("--baudrate", type=int, default=9600, help="serial only (default 9600, 8N2)")
    common.add_argument("--config-byte", type=_hex_byte, default=0xBE, help="registration, hex (default BE)")
    common.add_argument("--timeout", type=float, default=180.0, help="longest dialogue in seconds (default 180)")
    common.add_argument("--json", action="store_true", help="one JSON object per line")
    return common


def run_register(args: argparse.Namespace) -> int:
    return _run(args, lambda client, _args: client.register())


def run_status(args: argparse.Namespace) -> int:
    return _run(args, lambda client, _args: client.status_enquiry())


def run_end_of_day(args: argparse.Namespace) -> int:
    return _run(args, lambda client, _args: client.end_of_day())


def run_pay(args: argparse.Namespace) -> int:
    async def goods_issued(_status: StatusInformation) -> GoodsAnswer:
        return GOODS_ISSUED  # a technician's test payment: nothing to release, book it

    return _run(args, lambda client, a: client.authorise(a.amount, decide=goods_issued))


def _run(args: argparse.Namespace, action: Action) -> int:
    try:
        settings = ZvtSettings(
            url=args.port,
            password=args.password,
            config_byte=args.config_byte,
            baudrate=args.baudrate,
            timers=ZvtTimers(t4_dialogue=args.timeout),
        )
    except ValueError as exc:
        return _fail(args, EXIT_USAGE, str(exc))

    async def session() -> int:
        client = ZvtClient(settings, observer=lambda message: _show(args, message))
        try:
            result = await action(client, args)
        except (TerminalUnavailable, TerminalBusy) as exc:
            return _fail(args, EXIT_UNREACHABLE, str(exc))
        finally:
            await client.close()
        _show_result(args, result)
        return EXIT_OK if _succeeded(result) else EXIT_NOT_APPROVED

    try:
        return asyncio.run(session())
    except ValueError as exc:  # e.g. a malformed tcp:// URL
        return _fail(args, EXIT_USAGE, str(exc))


def _succeeded(result: Result) -> bool:
    return result.ok and getattr(result, "ready", True)


def describe_message(message: Message) -> str:
    """One line per terminal message, for a technician."""
    match message:
        case IntermediateStatus():
            timeout = f" (up to {message.timeout_s} s)" if message.timeout_s else ""
            return f"terminal: {message.text}{timeout}"
        case StatusInformation():
            verdict = "ok" if message.approved else f"{message.text} (code {message.result_code or 0:02X})"
            parts = [f"status information: {verdict}"]
            if message.amount_cents is not None:
                parts.append(f"amount {message.amount_cents // 100}.{message.amount_cents % 100:02d} EUR")
            for label, value in (("receipt", message.receipt_no), ("trace", message.trace_no)):
                if value is not None:
                    parts.append(f"{label} {value}")
            if message.card_name:
                parts.append(f"card {message.card_name.rstrip(chr(0))} {message.pan or ''}".rstrip())
            return ", ".join(parts)
        case PrintLine():
            return f"print: {message.text}"
        case PrintTextBlock():
            return "print block:\n" + "\n".join(f"  {line}" for line in message.lines)
        case Completion():
            return "terminal: completed"
        case Abort():
            return f"terminal: aborted ({message.text}, code {message.result_code:02X})"
    return f"terminal: {type(message).__name__} {message.encode().hex(' ').upper()}"


def _show(args: argparse.Namespace, message: Message) -> None:
    if args.json:
        _print_json({"message": message.to_dict()})
    else:
        print(describe_message(message), flush=True)


def _show_result(args: argparse.Namespace, result: Result) -> None:
    if args.json:
        _print_json({"result": result.to_dict()})
    elif _succeeded(result):
        print(result.describe())
    else:
        print(result.describe(), file=sys.stderr)


def _fail(args: argparse.Namespace, code: int, message: str) -> int:
    if args.json:
        _print_json({"result": {"ok": False, "outcome": "error", "exit_code": code, "error": message}})
    print(f"error: {message}", file=sys.stderr)
    return code


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, default=str), flush=True)
