"""`station hw deposit ...`: talk to the deposit return machine directly (service technician).

`status` reads the whole register map once (interface v1, docs/deposit-machine.md) and prints the
state, faults, FIFO depth and counters. It changes nothing on the machine: no session is opened and
no event is acknowledged. Exit codes: 0 the machine answered · 1 no answer, line down, or the unit
does not speak interface v1 · 2 wrong arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from deposit import Command, DepositMachine, MachineStatus, ProtocolError
from drivers.modbus import LineSettings, ModbusError, ModbusExceptionResponse, ModbusLine
from station.cli.hw_modbus import add_line_arguments, quiet_logs

EXIT_OK, EXIT_NO_ANSWER, EXIT_USAGE = 0, 1, 2


def register(hw_subparsers: argparse._SubParsersAction) -> None:
    """Add the `deposit` device command (with its own sub-commands) to `station hw`."""
    deposit = hw_subparsers.add_parser("deposit", help="deposit return machine (Modbus, interface v1)")
    sub = deposit.add_subparsers(dest="deposit_command", required=True, metavar="ACTION")
    status = sub.add_parser("status", help="state, faults, FIFO depth and counters of the machine (read only)")
    add_line_arguments(status, "Modbus TCP gateway instead of a serial line", "Modbus unit id of the machine, 1-247")
    status.add_argument("--baudrate", type=int, default=9600)
    status.add_argument("--parity", choices=["N", "E", "O"], default="N")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    with quiet_logs():
        return _status_command(args)


def _status_command(args: argparse.Namespace) -> int:
    try:
        settings = LineSettings(
            port=args.port,
            tcp=args.tcp,
            baudrate=args.baudrate,
            parity=args.parity,
            timeout_ms=args.timeout_ms,
            retries=args.retries,
        )
        line = ModbusLine("cli", settings)
        machine = DepositMachine(str(args.unit), line, args.unit)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        status = asyncio.run(_read(line, machine))
    except ModbusExceptionResponse as exc:
        print(
            f"error: unit {args.unit} answers but refuses the deposit machine registers HR 0-31 "
            f"(exception {exc.code:02X}, {exc.code_name}): is this the machine's unit id?",
            file=sys.stderr,
        )
        return EXIT_NO_ANSWER
    except ModbusError as exc:
        print(f"error: no status from unit {args.unit}: {exc}", file=sys.stderr)
        return EXIT_NO_ANSWER
    except ProtocolError as exc:
        print(f"error: unit {args.unit} answers, but not as a deposit machine (interface v1): {exc}", file=sys.stderr)
        return EXIT_NO_ANSWER
    if args.json:
        print(json.dumps({"unit": args.unit, **status.to_dict()}, indent=2))
    else:
        print(format_status(status, args.unit, args.port or args.tcp))
    return EXIT_OK


async def _read(line: ModbusLine, machine: DepositMachine) -> MachineStatus:
    try:
        return await machine.read_status()
    finally:
        await line.close()


def _euro(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d} €"


def format_status(status: MachineStatus, unit: int, where: str) -> str:
    """Plain-text report for a technician."""
    state = status.state.name.lower().replace("_", " ")
    if status.session_open:
        state += f" (session {status.session_id} open)"
    rows = [f"deposit machine unit {unit} on {where} (interface v{status.proto_version})"]
    rows.append(f"  {'state':<14} {state}")
    rows.append(f"  {'faults':<14} {', '.join(status.fault_names()).replace('_', ' ') or 'none'}")
    fifo = f"{status.evt_pending} of {status.fifo_capacity} events pending"
    head = status.head
    if head is not None:
        kind = head.kind.name.lower().replace("_", "-")
        fifo += f"; oldest: seq {head.seq}, session {head.session_id}, GTIN {head.gtin_text}, {kind}, "
        fifo += _euro(head.deposit_cents)
    rows.append(f"  {'FIFO':<14} {fifo}")
    rows.append(f"  {'boot count':<14} {status.boot_count}")
    name = Command(status.cmd).name.lower() if status.cmd in {int(c) for c in Command} else f"command {status.cmd}"
    command = f"seq {status.cmd_seq} {name}: "
    command += "running" if status.command_pending else status.cmd_result.name.lower().replace("_", " ")
    rows.append(f"  {'last command':<14} {command if status.cmd_seq else 'none'}")
    rows.append(f"  {'last reject':<14} {status.last_reject_reason.name.lower().replace('_', ' ')}")
    c = status.counters
    session = f"session {status.session_id}" if status.session_id else "session"
    rows.append(
        f"  {session:<14} {c.session_accepted} accepted ({_euro(c.session_deposit_cents)}), "
        f"{c.session_rejected} rejected"
    )
    rows.append(
        f"  {'lifetime':<14} {c.accepted_total} accepted ({_euro(c.deposit_total_cents)}), {c.rejected_total} rejected"
    )
    return "\n".join(rows)
