"""`station hw printer status|test`: talk to the receipt printer directly (service technician).

`status` asks the printer's real-time status (DLE EOT 1-4) and names what is wrong; `test`
prints a test receipt (code page, styles, EAN-13, QR code, cut) after checking the status.
Exit codes: 0 ok (paper near end is only a warning) · 1 the printer reports a fault (paper out,
cover open, offline, cutter error, …) or did not confirm the test print · 2 wrong arguments ·
3 no answer or not a status byte · 5 port not available.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
from typing import Any

from drivers.printer import (
    AFTER_JOB,
    Fault,
    Printer,
    PrinterFault,
    PrinterStatus,
    PrintFailed,
)
from station.receipts import LANGUAGES, PrinterTestPage, Shop, render_receipt

EXIT_OK, EXIT_FAULT, EXIT_USAGE, EXIT_NO_ANSWER, EXIT_PORT = 0, 1, 2, 3, 5
_EXIT = {Fault.PORT_UNAVAILABLE: EXIT_PORT, Fault.NO_ANSWER: EXIT_NO_ANSWER, Fault.INVALID_REPLY: EXIT_NO_ANSWER}
_HINTS = {
    Fault.PORT_UNAVAILABLE: "check the port (or usb:VID:PID), the cable, and that the station daemon does not hold it",
    Fault.NO_ANSWER: "check power and cable, the port and the baud rate; a printer that is off does not answer",
    Fault.INVALID_REPLY: "the bytes that came back are not a status: check the baud rate and flow control",
    Fault.PAPER_OUT: "the paper roll is empty: put in a new roll and close the cover",
    Fault.COVER_OPEN: "close the printer cover",
    Fault.CUTTER_ERROR: "the cutter is blocked: open the cover, clear the paper, close it",
    Fault.UNRECOVERABLE_ERROR: "switch the printer off and on; if it stays, the printer needs repair",
    Fault.RECOVERABLE_ERROR: "clear the paper path, then switch the printer off and on",
    Fault.OFFLINE: "the printer is offline: check the cover, the paper and the feed button",
}


def register(hw_subparsers: argparse._SubParsersAction) -> None:
    """Add the `printer` device command (status, test) to `station hw`."""
    printer = hw_subparsers.add_parser(
        "printer",
        help="ESC/POS receipt printer (serial, network, USB)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = printer.add_subparsers(dest="printer_command", required=True, metavar="COMMAND")
    common = _common_options()
    status = sub.add_parser("status", parents=[common], help="read the printer's status and name any fault")
    status.set_defaults(handler=run_status)
    test = sub.add_parser("test", parents=[common], help="print a test receipt")
    test.add_argument("--language", choices=LANGUAGES, default="de", help="receipt language (default de)")
    test.add_argument("--columns", type=int, default=48, help="characters per line (80 mm: 48, 58 mm: 32)")
    test.add_argument("--shop", default="Pick-up-Point", help="name printed at the top")
    test.set_defaults(handler=run_test)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--port", required=True, help="pyserial URL (/dev/ttyUSB0, a pty, socket://host:9100) or usb:VID:PID"
    )
    common.add_argument("--baudrate", type=int, default=9600, help="serial printers only (default 9600)")
    common.add_argument("--flow-control", choices=("none", "rtscts", "dsrdtr", "xonxoff"), default="none")
    common.add_argument("--timeout-ms", type=float, default=500.0, help="wait for each status byte (default 500 ms)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    return common


def _quiet_logger() -> logging.Logger:
    """The driver logs for a daemon's journal; here the command prints its own messages."""
    logger = logging.getLogger("station.cli.hw_printer.driver")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def _make_printer(args: argparse.Namespace) -> Printer:
    return Printer(
        args.port,
        name="printer-cli",
        status_timeout_s=args.timeout_ms / 1000,
        baudrate=args.baudrate,
        flow_control=args.flow_control,
        logger=_quiet_logger(),
    )


def run_status(args: argparse.Namespace) -> int:
    """`station hw printer status`."""

    async def _session() -> PrinterStatus:
        printer = _make_printer(args)
        try:
            return await printer.status(AFTER_JOB)  # all four bytes: the technician wants the error cause too
        finally:
            await printer.stop()

    try:
        status = asyncio.run(_session())
    except ValueError as exc:
        return _usage(args, str(exc))
    code = _exit_code(status)
    if args.json:
        _print_json({"port": args.port, "exit_code": code} | status.as_dict())
    else:
        _print_status(args.port, status)
    _complain(args, status)
    return code


def run_test(args: argparse.Namespace) -> int:
    """`station hw printer test`."""
    page = PrinterTestPage(shop=Shop(name=args.shop), at=dt.datetime.now().astimezone(), port=args.port)
    try:
        data = render_receipt("test", page, args.language, columns=args.columns)
    except ValueError as exc:
        return _usage(args, str(exc))
    job_id = f"test-{dt.datetime.now():%Y%m%d-%H%M%S}"

    async def _session() -> tuple[PrinterStatus, int, PrinterFault | None]:
        printer = _make_printer(args)
        try:
            result = await printer.print_job(job_id, data)
            return result.after, result.bytes_sent, None
        except PrinterFault as exc:
            return exc.status, exc.bytes_sent, exc
        finally:
            await printer.stop()

    try:
        status, sent, failure = asyncio.run(_session())
    except ValueError as exc:
        return _usage(args, str(exc))
    code = _exit_code(status) if failure is not None or not status.ok else EXIT_OK
    if args.json:
        report = {"port": args.port, "job_id": job_id, "printed": failure is None, "bytes_sent": sent}
        _print_json(report | {"exit_code": code} | status.as_dict())
    elif failure is None:
        print(f"test receipt {job_id} printed on {args.port} ({sent} bytes); status after the job: OK")
    if isinstance(failure, PrintFailed):
        print(f"error: the test receipt was sent ({sent} bytes) but the printer reports a problem", file=sys.stderr)
    _complain(args, status)
    return code


def _print_status(port: str, status: PrinterStatus) -> None:
    print(f"printer on {port}: {'OK' if status.ok else 'FAULT: ' + ', '.join(f.value for f in status.faults)}")
    rows = [
        ("online", _yes_no(status.online)),
        ("cover", _flag(None if status.offline_cause is None else status.offline_cause.cover_open, "OPEN", "closed")),
        ("paper", _paper(status)),
        ("cutter", _flag(None if status.error_cause is None else status.error_cause.cutter, "ERROR", "ok")),
        ("other errors", _other_errors(status)),
        ("raw replies", "  ".join(f"n{n}={'--' if b is None else f'{b:02X}'}" for n, b in status.replies.items())),
    ]
    for name, value in rows:
        print(f"  {name:13s} {value}")


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else ("yes" if value else "NO")


def _flag(value: bool | None, bad: str, good: str) -> str:
    return "unknown" if value is None else (bad if value else good)


def _paper(status: PrinterStatus) -> str:
    if status.paper is None:
        return "unknown"
    if status.paper.out:
        return "OUT"
    return "NEAR END (change the roll soon)" if status.paper.near_end else "ok"


def _other_errors(status: PrinterStatus) -> str:
    cause = status.error_cause
    if cause is None:
        return "unknown"
    found = [name for name, on in (("unrecoverable", cause.unrecoverable), ("recoverable", cause.recoverable)) if on]
    if cause.auto_recoverable:
        found.append("auto-recoverable")
    return ", ".join(found) or "none"


def _exit_code(status: PrinterStatus) -> int:
    if status.ok:
        return EXIT_OK
    return _EXIT.get(status.fault or Fault.NO_ANSWER, EXIT_FAULT)


def _complain(args: argparse.Namespace, status: PrinterStatus) -> None:
    """Name the fault (or the near-end warning) on stderr, in both output modes."""
    if status.ok:
        if status.paper_near_end:
            print("warning: paper near end: change the roll soon", file=sys.stderr)
        return
    fault = status.fault or Fault.NO_ANSWER
    detail = f" ({status.detail})" if status.detail else ""
    print(f"error: printer on {args.port}: {fault.value}{detail}\nhint: {_HINTS[fault]}", file=sys.stderr)


def _usage(args: argparse.Namespace, message: str) -> int:
    if args.json:
        _print_json({"ok": False, "exit_code": EXIT_USAGE, "error": message})
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2))
