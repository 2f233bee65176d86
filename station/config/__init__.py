"""Station configuration: one TOML file, validated by pydantic; unknown keys are errors.

Each device gets only its own section (see the modules beside this one). `load_config`
raises `ConfigError` listing every problem with its TOML path and, where it can be
found, the line in the file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from .base import Name, Section
from .fridge import FridgeConfig, HaccpConfig, ModbusLineConfig, ZoneConfig
from .locate import locate_line
from .locks import DoorConfig, LockBusConfig
from .mqtt import MqttConfig
from .payment import PaymentConfig

__all__ = ["CompartmentConfig", "Config", "ConfigError", "load_config", "parse_config", "validate_config"]


class StationIdentity(Section):
    id: Name = Field(description="station id; one MQTT topic level, equals the TLS certificate CN")
    name: str = Field(default="Pick-up-Point", max_length=120)
    hotline: str | None = Field(default=None, max_length=40, description="shown on screens under 'Hilfe'")
    timezone: str = "Europe/Berlin"


class DatabaseConfig(Section):
    path: Path = Field(description="SQLite file; relative paths are relative to the config file")
    busy_timeout_ms: int = Field(default=5000, ge=100, le=60_000)


class HttpConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, lt=65536)


class SimulationConfig(Section):
    """Present only on a simulated station: the demo starts simulators at these addresses."""

    enabled: bool = True
    seed: int = 1


class CompartmentConfig(Section):
    id: int = Field(ge=1, le=9999, description="number printed on the door")
    bus: Name
    board: int = Field(ge=0, le=15)
    lock: int = Field(ge=1, le=48, description="lock number as printed on the board, from 1")
    size: Literal["S", "M", "L", "XL"] = "M"
    zone: Name | None = Field(default=None, description="temperature zone; none = ambient")


class Config(Section):
    station: StationIdentity
    database: DatabaseConfig
    http: HttpConfig = HttpConfig()
    simulation: SimulationConfig | None = None
    lock_buses: dict[Name, LockBusConfig] = Field(default_factory=dict)
    doors: DoorConfig = DoorConfig()
    compartments: list[CompartmentConfig] = Field(default_factory=list)
    modbus_lines: dict[Name, ModbusLineConfig] = Field(default_factory=dict)
    fridges: dict[Name, FridgeConfig] = Field(default_factory=dict)
    zones: dict[Name, ZoneConfig] = Field(default_factory=dict)
    haccp: HaccpConfig = HaccpConfig()
    payment: PaymentConfig | None = None
    mqtt: MqttConfig | None = None

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        errors: list[str] = []
        seen_ids: set[int] = set()
        seen_locks: set[tuple[str, int, int]] = set()
        for index, comp in enumerate(self.compartments):
            where = f"compartments[{index}]"
            if comp.id in seen_ids:
                errors.append(f"{where}.id: compartment {comp.id} is defined twice")
            seen_ids.add(comp.id)
            bus = self.lock_buses.get(comp.bus)
            if bus is None:
                errors.append(f"{where}.bus: no lock bus named {comp.bus!r}")
            elif comp.board not in {b.address for b in bus.boards}:
                errors.append(f"{where}.board: bus {comp.bus!r} has no board {comp.board}")
            else:
                limit = 16 if bus.protocol == "cu16" else 48
                if comp.lock > limit:
                    errors.append(f"{where}.lock: a {bus.protocol} board has locks 1-{limit}")
            key = (comp.bus, comp.board, comp.lock)
            if key in seen_locks:
                errors.append(f"{where}.lock: lock {comp.lock} of board {comp.board} is used twice")
            seen_locks.add(key)
            if comp.zone is not None and comp.zone not in self.zones:
                errors.append(f"{where}.zone: no zone named {comp.zone!r}")
        for name, fridge in self.fridges.items():
            if fridge.line not in self.modbus_lines:
                errors.append(f"fridges.{name}.line: no modbus line named {fridge.line!r}")
            if fridge.zone not in self.zones:
                errors.append(f"fridges.{name}.zone: no zone named {fridge.zone!r}")
        if errors:
            raise ValueError("; ".join(errors))
        return self


class ConfigError(Exception):
    """An invalid configuration; `problems` lists one readable line per error."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid configuration\n" + "\n".join(f"  - {p}" for p in problems))


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse and validate TOML text; raises ConfigError with every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    config = validate_config(raw, source, text)
    if base_dir is not None and not config.database.path.is_absolute():
        database = config.database.model_copy(update={"path": (base_dir / config.database.path).resolve()})
        config = config.model_copy(update={"database": database})
    return config


def validate_config(raw: dict[str, Any], source: str = "<config>", text: str | None = None) -> Config:
    """Validate an already parsed config; `text` (the TOML it came from) adds line numbers."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-after[_check_name(), str]",))
            path = _loc_to_path(loc)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            line = locate_line(text, loc) if text is not None else None
            where = f"{path} (line {line})" if line else (path or "top level")
            problems.append(f"{where}: {msg}")
        raise ConfigError(source, problems) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; relative paths in it are relative to the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_config(text, str(path), base_dir=path.resolve().parent)
