"""Declarative register maps: one JSON file per controller model drives the driver and the simulator.

A map lists points (hardware.md §2.3): name, kind, function (hr/ir/coil/di), address (protocol
address, 0-based; "0x0100" strings allowed), type (int16/uint16/bit/bitfield), scale, unit,
access (r/rw), write_mask, status_bits / alarm_bits ({bit: name}), valid_range, source, verified.

Kinds: `probe` (a temperature; needs `valid_range` and a `role`), `setpoint`, `status` (named
flags and alarms) and `value` (anything else, decoded but not interpreted).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

MAPS_DIR = Path(__file__).with_name("maps")
REGISTER_FUNCTIONS = ("hr", "ir")
BIT_FUNCTIONS = ("coil", "di")


class MapError(ValueError):
    """A register map file is missing or invalid; the message lists every problem."""


def _parse_int(value: object) -> object:
    """Accept 256 or "0x0100" (addresses and masks read best in hex, as in vendor tables)."""
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            raise ValueError(f'{value!r} is not a number (use 256 or "0x0100")') from None
    return value


HexInt = Annotated[int, BeforeValidator(_parse_int)]


class Point(BaseModel):
    """One value in the controller's register space."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    kind: Literal["probe", "setpoint", "status", "value"]
    function: Literal["hr", "ir", "coil", "di"]
    address: HexInt = Field(ge=0, le=0xFFFF)
    type: Literal["int16", "uint16", "bit", "bitfield"]
    scale: float = Field(default=1.0, gt=0)
    unit: str = ""
    access: Literal["r", "rw"] = "r"
    role: Literal["cabinet", "evaporator", "product", "auxiliary"] | None = None
    write_mask: HexInt | None = Field(default=None, ge=0, le=0xFFFF)
    status_bits: dict[int, str] = Field(default_factory=dict)
    alarm_bits: dict[int, str] = Field(default_factory=dict)
    valid_range: tuple[float, float] | None = None
    write_range: tuple[float, float] | None = None
    source: str = Field(min_length=1)
    verified: bool
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Point:
        problems = list(_point_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def is_bit(self) -> bool:
        return self.function in BIT_FUNCTIONS

    @property
    def writable(self) -> bool:
        return self.access == "rw"


def _point_problems(p: Point) -> Iterable[str]:
    """Every rule a point breaks (so one error message lists them all)."""
    if (p.type == "bit") != p.is_bit:
        yield f"type {p.type} does not fit function {p.function} (coil/di hold bits, hr/ir hold registers)"
    if p.access == "rw" and p.function in ("ir", "di"):
        yield f"function {p.function} is read-only by definition; access must be r"
    bits = [*p.status_bits, *p.alarm_bits]
    if (p.type == "bitfield") != bool(bits):
        yield "status_bits/alarm_bits belong on (and are required for) a bitfield"
    if any(not 0 <= bit <= 15 for bit in bits):
        yield "bit numbers must be 0-15"
    if len(set(bits)) != len(bits):
        yield "a bit is listed both as status and as alarm"
    names = [*p.status_bits.values(), *p.alarm_bits.values()]
    if len(set(names)) != len(names):
        yield "flag and alarm names within a point must be unique"
    if p.write_mask is not None:
        if p.type != "bitfield" or p.access != "rw":
            yield "write_mask only applies to a writable bitfield"
        elif p.write_mask & 0xFF00:
            yield "write_mask holds the enable bits of the low byte (at most 0x00FF); status bits live in the high byte"
    if p.kind == "probe":
        if p.type not in ("int16", "uint16") or p.valid_range is None or p.role is None:
            yield "a probe is an int16/uint16 register with a valid_range (outside = sensor fault) and a role"
    elif p.role is not None:
        yield "role only applies to probes"
    if p.kind == "setpoint" and p.type not in ("int16", "uint16"):
        yield "a setpoint is an int16/uint16 register"
    if p.kind == "status" and p.type not in ("bit", "bitfield"):
        yield "a status point is a bit or a bitfield"
    for label, span in (("valid_range", p.valid_range), ("write_range", p.write_range)):
        if span is not None and span[0] >= span[1]:
            yield f"{label} must be [low, high] with low < high"
    if p.write_range is not None and p.access != "rw":
        yield "write_range only applies to a writable point"


class _MapFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    description: str
    serial: dict[str, int | str] = Field(default_factory=dict)
    product_probe: str
    default_probes: list[str] = Field(min_length=1)
    points: list[Point] = Field(min_length=1)


@dataclass(frozen=True)
class RegisterMap:
    """A validated map; points keep file order. Build with `load_map` or `parse_map`."""

    model: str
    description: str
    serial: dict[str, int | str]
    product_probe: str
    default_probes: tuple[str, ...]
    points: tuple[Point, ...]
    source: str

    def point(self, name: str) -> Point:
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(f"register map {self.model!r} has no point {name!r}")

    @property
    def probes(self) -> tuple[Point, ...]:
        return tuple(p for p in self.points if p.kind == "probe")

    @property
    def setpoint(self) -> Point | None:
        return next((p for p in self.points if p.kind == "setpoint"), None)

    def flag_names(self) -> set[str]:
        """Every status flag name (bit points and status_bits)."""
        names = {p.name for p in self.points if p.kind == "status" and p.type == "bit"}
        for p in self.points:
            names.update(p.status_bits.values())
        return names

    def alarm_names(self) -> set[str]:
        return {name for p in self.points for name in p.alarm_bits.values()}


def parse_map(data: object, source: str = "<map>") -> RegisterMap:
    """Validate a decoded JSON document; raises MapError listing every problem."""
    try:
        raw = _MapFile.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_where(err['loc'])}: {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()]
        raise MapError(f"{source}: invalid register map\n" + "\n".join(f"  - {p}" for p in problems)) from None
    problems = list(_map_problems(raw))
    if problems:
        raise MapError(f"{source}: invalid register map\n" + "\n".join(f"  - {p}" for p in problems))
    return RegisterMap(
        raw.model,
        raw.description,
        dict(raw.serial),
        raw.product_probe,
        tuple(raw.default_probes),
        tuple(raw.points),
        source,
    )


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "top level"


def _map_problems(raw: _MapFile) -> Iterable[str]:
    names = [p.name for p in raw.points]
    for name in sorted({n for n in names if names.count(n) > 1}):
        yield f"point {name!r} is defined twice"
    seen: dict[tuple[str, int], str] = {}
    for p in raw.points:
        key = (p.function, p.address)
        if key in seen:
            yield f"{p.name!r} and {seen[key]!r} both use {p.function} 0x{p.address:04X}"
        seen[key] = p.name
    probes = {p.name for p in raw.points if p.kind == "probe"}
    if raw.product_probe not in probes:
        yield f"product_probe {raw.product_probe!r} is not a probe point"
    for name in raw.default_probes:
        if name not in probes:
            yield f"default_probes: {name!r} is not a probe point"
    if sum(p.kind == "setpoint" for p in raw.points) > 1:
        yield "at most one setpoint point"
    flags = [n for p in raw.points for n in (*p.status_bits.values(), *p.alarm_bits.values())]
    flags += [p.name for p in raw.points if p.kind == "status" and p.type == "bit"]
    for name in sorted({n for n in flags if flags.count(n) > 1}):
        yield f"flag or alarm {name!r} is defined twice"


def available_models() -> list[str]:
    """Names of the maps shipped with the driver."""
    return sorted(path.stem for path in MAPS_DIR.glob("*.json"))


@lru_cache(maxsize=32)
def load_map(model_or_path: str) -> RegisterMap:
    """Load a shipped map by model name (`dixell-xr`) or any map file by path (`/etc/station/x.json`)."""
    path = Path(model_or_path) if model_or_path.endswith(".json") else MAPS_DIR / f"{model_or_path}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        known = ", ".join(available_models())
        raise MapError(f"no register map {model_or_path!r} (shipped maps: {known}; or give a .json path)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MapError(f"{path}: not valid JSON: {exc}") from None
    return parse_map(data, str(path))
