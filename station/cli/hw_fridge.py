"""`station hw fridge ...`: talk to one temperature controller directly (service technician)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from drivers.fridge import FridgeController, FridgeReading, MapError, load_map
from drivers.modbus import LineSettings, ModbusError, ModbusLine
from station.cli.hw_modbus import add_line_arguments, quiet_logs


def register(hw_subparsers: argparse._SubParsersAction) -> None:
    """Add the `fridge` device command (with its own sub-commands) to `station hw`."""
    fridge = hw_subparsers.add_parser("fridge", help="fridge/freezer temperature controllers (Modbus)")
    sub = fridge.add_subparsers(dest="fridge_command", required=True, metavar="ACTION")
    read = sub.add_parser("read", help="read probes, setpoint and alarm state of one controller")
    add_line_arguments(
        read, "Modbus TCP device instead of a serial line", "Modbus unit id (controller parameter Adr), 1-247"
    )
    read.add_argument("--model", default="dixell-xr", help="register map name or .json path (default dixell-xr)")
    read.add_argument("--baudrate", type=int, default=None, help="default: the map's (9600 for dixell-xr)")
    read.add_argument("--parity", choices=["N", "E", "O"], default=None)
    read.add_argument("--probes", default=None, help="comma-separated probes to read (default: the map's)")
    read.add_argument("--json", action="store_true", help="print the reading as JSON")
    read.set_defaults(handler=read_command)


def read_command(args: argparse.Namespace) -> int:
    """Exit 0 with a reading; 1 when the controller does not answer or refuses; 2 for a bad map or option."""
    with quiet_logs():
        return _read_command(args)


def _read_command(args: argparse.Namespace) -> int:
    try:
        register_map = load_map(args.model)
        serial = register_map.serial
        settings = LineSettings(
            port=args.port,
            tcp=args.tcp,
            baudrate=args.baudrate or int(serial.get("baudrate", 9600)),
            parity=args.parity or str(serial.get("parity", "N")),
            stopbits=int(serial.get("stopbits", 1)),
            timeout_ms=args.timeout_ms,
            retries=args.retries,
        )
        probes = args.probes.split(",") if args.probes else None
        line = ModbusLine("cli", settings)
        controller = FridgeController(f"{args.unit}", line, args.unit, register_map, probes=probes)
    except (MapError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        reading = asyncio.run(_read(line, controller))
    except ModbusError as exc:
        print(f"error: no reading from unit {args.unit}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(reading.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_reading(reading, args.port or args.tcp))
    return 1 if reading.errors else 0


async def _read(line: ModbusLine, controller: FridgeController) -> FridgeReading:
    try:
        return await controller.read()
    finally:
        await line.close()


def format_reading(reading: FridgeReading, where: str) -> str:
    """Plain-text table for a technician."""
    rows = [f"unit {reading.unit} ({reading.model}) on {where}"]
    for probe in reading.probes.values():
        value = f"{probe.celsius:6.1f} °C" if probe.celsius is not None else f"FAULT  {probe.fault}"
        marker = "  <- product" if probe.name == reading.product_probe else ""
        rows.append(f"  {probe.name:<10} {probe.role:<11} {value}{marker}")
    setpoint = f"{reading.setpoint_c:6.1f} °C" if reading.setpoint_c is not None else "unknown"
    rows.append(f"  {'setpoint':<22} {setpoint}")
    defrost = {True: "yes", False: "no", None: "unknown"}[reading.defrost_active]
    rows.append(f"  {'defrost':<22} {defrost}")
    rows.append(f"  {'alarms':<22} {', '.join(sorted(reading.alarms)) or 'none'}")
    active = sorted(name for name, on in reading.flags.items() if on)
    rows.append(f"  {'flags on':<22} {', '.join(active) or 'none'}")
    for name, error in reading.errors.items():
        rows.append(f"  NOT READABLE {name}: {error}")
    return "\n".join(rows)
