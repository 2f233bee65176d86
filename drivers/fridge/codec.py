"""Pure functions between register values and typed fridge readings (no I/O; used by driver and simulator)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .reading import FridgeReading, ProbeReading
from .registermap import Point, RegisterMap

Raw = int | bool

# Out-of-range codes the simulator reports for a failed probe; any value outside valid_range is a fault.
PROBE_OPEN = 0x7FFF  # +3276.7 °C at 0.1 scale: open circuit / probe missing
PROBE_SHORT = 0x8000  # -3276.8 °C at 0.1 scale: short circuit


def to_signed16(raw: int) -> int:
    """0xFFDD -> -35 (hardware.md §2.1: decode probes as int16, never as unsigned)."""
    return raw - 0x10000 if raw & 0x8000 else raw


def decode_number(point: Point, raw: int) -> float:
    """Register value in engineering units (scale applied, float noise removed)."""
    number = to_signed16(raw) if point.type == "int16" else raw
    return round(number * point.scale, 6)


def encode_number(point: Point, value: float) -> int:
    """Engineering value -> raw unsigned register; ValueError when it does not fit the register type."""
    steps = round(value / point.scale)
    low, high = (-0x8000, 0x7FFF) if point.type == "int16" else (0, 0xFFFF)
    if not low <= steps <= high:
        raise ValueError(f"{value} {point.unit} does not fit {point.name} ({point.type}, scale {point.scale})")
    return steps & 0xFFFF


def decode_probe(point: Point, raw: int) -> ProbeReading:
    """A temperature, or a fault when the value is outside the probe's valid range (failed probe)."""
    celsius = decode_number(point, raw)
    assert point.valid_range is not None and point.role is not None  # guaranteed by map validation
    low, high = point.valid_range
    if not low <= celsius <= high:
        fault = f"probe failure: raw 0x{raw:04X} ({celsius:g} {point.unit}) outside [{low:g}, {high:g}]"
        return ProbeReading(point.name, point.role, None, raw, fault)
    return ProbeReading(point.name, point.role, celsius, raw)


def decode_bits(point: Point, raw: Raw) -> tuple[dict[str, bool], set[str]]:
    """Named flags and the set of active alarms of one status point."""
    if point.type == "bit":
        return {point.name: bool(raw)}, set()
    value = int(raw)
    flags = {name: bool(value >> bit & 1) for bit, name in point.status_bits.items()}
    alarms = {name for bit, name in point.alarm_bits.items() if value >> bit & 1}
    return flags, alarms


def encode_flag_write(point: Point, changes: Mapping[str, bool]) -> int:
    """Register value that sets/clears the named status bits of a write-masked (Dixell-style) bitfield.

    The high byte carries the status bits; the low byte enables each one (bit b is written only when
    enable bit b-8 is 1), so bits not named here are left alone by the controller.
    """
    by_name = {name: bit for bit, name in point.status_bits.items()}
    value = 0
    for name, on in changes.items():
        bit = by_name.get(name)
        if bit is None or bit < 8 or point.write_mask is None or not point.write_mask >> (bit - 8) & 1:
            raise ValueError(f"{point.name}: status bit {name!r} is not writable through the write mask")
        value |= (int(on) << bit) | (1 << (bit - 8))
    return value


def apply_masked_write(point: Point, old: int, written: int) -> int:
    """What a write-masked register holds after `written` arrives (simulator side of encode_flag_write)."""
    enable = written & (point.write_mask or 0) & 0xFF
    changed = enable << 8
    return (old & ~changed & 0xFF00) | (written & changed)


@dataclass(frozen=True)
class ReadBlock:
    """Contiguous points of one function, fetched with one request."""

    function: str
    address: int
    count: int
    points: tuple[Point, ...]


def plan_reads(points: Iterable[Point], max_count: int = 125) -> list[ReadBlock]:
    """Group points into as few requests as possible without reading unmapped addresses in between.

    Reading across a gap would ask the controller for an unmapped register, which real controllers
    answer with exception 02, so only strictly adjacent addresses are merged.
    """
    blocks: list[ReadBlock] = []
    ordered = sorted(points, key=lambda p: (p.function, p.address))
    for point in ordered:
        last = blocks[-1] if blocks else None
        if (
            last is not None
            and last.function == point.function
            and point.address == last.address + last.count
            and last.count < max_count
        ):
            blocks[-1] = ReadBlock(last.function, last.address, last.count + 1, (*last.points, point))
        else:
            blocks.append(ReadBlock(point.function, point.address, 1, (point,)))
    return blocks


def block_values(block: ReadBlock, data: list[int] | list[bool]) -> dict[str, Raw]:
    """Raw value per point name from one block's reply."""
    return {p.name: data[p.address - block.address] for p in block.points}


def decode_reading(
    register_map: RegisterMap,
    raw: Mapping[str, Raw],
    *,
    fridge: str,
    unit: int,
    at: float,
    probes: Iterable[str],
    product_probe: str,
    errors: Mapping[str, str] | None = None,
) -> FridgeReading:
    """Turn raw register values (by point name) into a reading; points missing from `raw` need an error."""
    errors = dict(errors or {})
    probe_readings: dict[str, ProbeReading] = {}
    for name in probes:
        point = register_map.point(name)
        assert point.role is not None
        if name in raw:
            probe_readings[name] = decode_probe(point, int(raw[name]))
        else:
            reason = errors.get(name, "not read")
            probe_readings[name] = ProbeReading(name, point.role, None, None, f"not readable: {reason}")
    flags: dict[str, bool] = {}
    alarms: set[str] = set()
    setpoint: float | None = None
    for point in register_map.points:
        if point.name not in raw:
            continue
        if point.kind == "status":
            point_flags, point_alarms = decode_bits(point, raw[point.name])
            flags.update(point_flags)
            alarms |= point_alarms
        elif point.kind == "setpoint":
            setpoint = decode_number(point, int(raw[point.name]))
    return FridgeReading(
        fridge=fridge,
        unit=unit,
        model=register_map.model,
        at=at,
        probes=probe_readings,
        product_probe=product_probe,
        setpoint_c=setpoint,
        defrost_active=flags.get("defrost_active"),
        flags=flags,
        alarms=frozenset(alarms),
        errors=errors,
    )
