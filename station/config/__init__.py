"""Station configuration: one TOML file, validated by pydantic; unknown keys are errors.

Each device gets only its own section (see the modules beside this one). `load_config`
raises `ConfigError` listing every problem with its TOML path and, where it can be
found, the line in the file. These are the checks of the file alone; `environment.py`
adds the checks against the machine (files, folders, devices), and `environment.load_checked`
runs both: it is what `station config check` and start-up call.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationError, field_validator, model_validator

from .apppay import AppPaymentConfig
from .base import Host, LocatedErrors, Name, Section
from .deposit import DepositConfig
from .fridge import FridgeConfig, HaccpConfig, ModbusLineConfig, ZoneConfig
from .locate import locate_line
from .locks import DoorConfig, LockBusConfig
from .mqtt import MqttConfig
from .nfc import NfcConfig
from .payment import PaymentConfig
from .pickup import PickupConfig
from .printer import PrinterConfig
from .receipts import ReceiptsConfig
from .retention import RetentionConfig
from .staff import StaffConfig
from .ui import UiConfig

__all__ = [
    "CompartmentConfig",
    "Config",
    "ConfigError",
    "describe",
    "load_config",
    "parse_config",
    "read_config_text",
    "validate_config",
]


class StationIdentity(Section):
    id: Name = Field(description="station id; one MQTT topic level, equals the TLS certificate CN")
    name: str = Field(default="Pick-up-Point", max_length=120)
    hotline: str | None = Field(default=None, max_length=40, description="shown on screens under 'Hilfe'")
    timezone: str = Field(default="Europe/Berlin", description="IANA time zone of the station's local time")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError; an odd path a ValueError
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value


class DatabaseConfig(Section):
    path: Path = Field(description="SQLite file; relative paths are relative to the config file")
    busy_timeout_ms: int = Field(default=5000, ge=100, le=60_000)


class HttpConfig(Section):
    host: Host = Field(default="127.0.0.1", description="address to listen on (0.0.0.0: every interface)")
    port: int = Field(default=8080, ge=0, lt=65536, description="TCP port; 0 picks a free one")


class SimulationConfig(Section):
    """Present only on a simulated station: `station demo` and `station simulate` start simulators there."""

    enabled: bool = True
    seed: int = 1
    door_open_delay_s: float = Field(default=0.1, ge=0, le=60, description="simulated shopper: pulse to door open")
    door_close_after_s: float = Field(
        default=8.0, gt=0, le=3600, description="simulated shopper: door open to closed again (goods taken)"
    )
    deposit_containers: int = Field(
        default=6, ge=0, le=100, description="simulated shopper: containers returned each time a return starts"
    )
    deposit_pace_s: float = Field(default=0.8, ge=0, le=60, description="simulated shopper: seconds between containers")


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
    printer: PrinterConfig | None = None
    receipts: ReceiptsConfig = ReceiptsConfig()
    deposit: DepositConfig | None = None
    nfc: NfcConfig | None = None
    ui: UiConfig = UiConfig()
    retention: RetentionConfig = RetentionConfig()
    mqtt: MqttConfig | None = None
    staff: StaffConfig = StaffConfig()
    app_payment: AppPaymentConfig = AppPaymentConfig()
    pickup: PickupConfig = PickupConfig()

    @model_validator(mode="after")
    def _cross_references(self) -> Config:
        errors: list[tuple[tuple[str | int, ...], str]] = []
        seen_ids: set[int] = set()
        seen_locks: set[tuple[str, int, int]] = set()
        for index, comp in enumerate(self.compartments):
            where = ("compartments", index)
            if comp.id in seen_ids:
                errors.append(((*where, "id"), f"compartment {comp.id} is defined twice"))
            seen_ids.add(comp.id)
            bus = self.lock_buses.get(comp.bus)
            if bus is None:
                errors.append(((*where, "bus"), f"no lock bus named {comp.bus!r}"))
            elif comp.board not in {b.address for b in bus.boards}:
                errors.append(((*where, "board"), f"bus {comp.bus!r} has no board {comp.board}"))
            else:
                limit = 16 if bus.protocol == "cu16" else 48
                if comp.lock > limit:
                    errors.append(((*where, "lock"), f"a {bus.protocol} board has locks 1-{limit}"))
            key = (comp.bus, comp.board, comp.lock)
            if key in seen_locks:
                errors.append(((*where, "lock"), f"lock {comp.lock} of board {comp.board} is used twice"))
            seen_locks.add(key)
            if comp.zone is not None and comp.zone not in self.zones:
                errors.append(((*where, "zone"), f"no zone named {comp.zone!r}"))
        for name, fridge in self.fridges.items():
            if fridge.line not in self.modbus_lines:
                errors.append((("fridges", name, "line"), f"no modbus line named {fridge.line!r}"))
            if fridge.zone not in self.zones:
                errors.append((("fridges", name, "zone"), f"no zone named {fridge.zone!r}"))
        if self.deposit is not None:
            if self.deposit.line not in self.modbus_lines:
                errors.append((("deposit", "line"), f"no modbus line named {self.deposit.line!r}"))
            taken = {f.unit for f in self.fridges.values() if f.line == self.deposit.line}
            if self.deposit.unit in taken:
                errors.append((("deposit", "unit"), f"unit {self.deposit.unit} is a fridge controller on that line"))
        if errors:
            raise LocatedErrors(errors)
        return self


class ConfigError(Exception):
    """An invalid configuration; `problems` lists one readable line per error, `warnings` what may still work."""

    def __init__(self, source: str, problems: list[str], warnings: list[str] | None = None) -> None:
        self.source = source
        self.problems = problems
        self.warnings = list(warnings or [])
        lines = [f"  - {p}" for p in problems] + [f"  - warning: {w}" for w in self.warnings]
        super().__init__(f"{source}: invalid configuration\n" + "\n".join(lines))


def loc_to_path(loc: tuple[int | str, ...]) -> str:
    """("compartments", 0, "bus") -> "compartments[0].bus" (how the TOML file spells it)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe(loc: tuple[int | str, ...], message: str, text: str | None) -> str:
    """One problem line: `path (line N): message`, the line when `text` shows where the key is."""
    path = loc_to_path(loc)
    line = locate_line(text, loc) if text is not None and loc else None
    where = f"{path} (line {line})" if line else (path or "top level")
    return f"{where}: {message}"


_TOML_POSITION = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse and validate TOML text; raises ConfigError with every problem found.

    With `base_dir`, relative file paths in the config (database, TLS files, fridge map files) are
    taken relative to it: the folder of the config file.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POSITION.match(str(exc))
        where = f" (line {found['line']}, column {found['col']})" if found else ""
        raise ConfigError(source, [f"not valid TOML{where}: {found['msg'] if found else exc}"]) from None
    if base_dir is not None:
        anchor_relative_paths(raw, base_dir)
    return validate_config(raw, source, text)


def anchor_relative_paths(raw: dict[str, Any], base_dir: Path) -> None:
    """Make the config's relative file paths absolute, relative to `base_dir` (in place; odd shapes are left
    for validation to report)."""

    def anchor(table: Any, key: str) -> None:
        value = table.get(key) if isinstance(table, dict) else None
        if isinstance(table, dict) and isinstance(value, str) and value and not Path(value).is_absolute():
            table[key] = str((base_dir / value).resolve())

    anchor(raw.get("database"), "path")
    anchor(raw.get("staff"), "secret_file")
    mqtt = raw.get("mqtt")
    tls = mqtt.get("tls") if isinstance(mqtt, dict) else None
    for key in ("ca_file", "cert_file", "key_file"):
        anchor(tls, key)
    fridges = raw.get("fridges")
    for fridge in fridges.values() if isinstance(fridges, dict) else ():
        if isinstance(fridge, dict) and str(fridge.get("model", "")).endswith(".json"):
            anchor(fridge, "model")


def validate_config(raw: dict[str, Any], source: str = "<config>", text: str | None = None) -> Config:
    """Validate an already parsed config; `text` (the TOML it came from) adds line numbers."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-after[_check_name(), str]",))
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, LocatedErrors):  # one validator, several keys: one line each
                problems.extend(describe((*loc, *sub), msg, text) for sub, msg in cause.problems)
                continue
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            problems.append(describe(loc, msg, text))
        raise ConfigError(source, problems) from None


def read_config_text(path: Path) -> str:
    """The file as text; raises ConfigError when it cannot be read or is not UTF-8 (with the line)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = f"not UTF-8 text (line {line}, column {column}: byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        raise ConfigError(str(path), [problem]) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a config file; relative paths in it are relative to the file.

    This is the static check only; `station.config.environment.load_checked` adds the checks
    against this machine (files, folders, devices) that `config check` and start-up run.
    """
    path = Path(path)
    return parse_config(read_config_text(path), str(path), base_dir=path.resolve().parent)
