"""Configuration of the cold chain: Modbus lines, temperature controllers, temperature zones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from .base import LocatedErrors, Name, Section, SerialUrl, split_host_port

if TYPE_CHECKING:
    from drivers.fridge.registermap import RegisterMap

TemperatureClass = Literal["ambient", "chilled", "poultry", "minced", "frozen"]


class ModbusLineConfig(Section):
    """One Modbus RTU line (serial URL) or Modbus TCP gateway; one request at a time per line."""

    port: SerialUrl | None = None
    tcp: str | None = Field(
        default=None, description="host:port (port 502 if left out) of a Modbus TCP device instead of a serial line"
    )
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    gap_ms: float = Field(default=10.0, ge=0, le=1000, description="silence before each request (at least 3.5 chars)")
    timeout_ms: float = Field(default=500.0, ge=10, le=10_000)
    retries: int = Field(default=1, ge=0, le=5)
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60, description="first reconnect delay when the port is gone")
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600, description="reconnect delay cap")

    @field_validator("tcp")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            split_host_port(value, default_port=502)
        return value

    @model_validator(mode="after")
    def _one_target(self) -> ModbusLineConfig:
        if (self.port is None) == (self.tcp is None):
            raise ValueError("give exactly one of port (serial URL) or tcp (host:port)")
        return self


class FridgeConfig(Section):
    """One temperature controller on a Modbus line."""

    line: Name
    unit: int = Field(ge=1, le=247, description="Modbus device id (controller parameter Adr)")
    model: str = Field(
        default="dixell-xr", description="register map: a shipped one (drivers/fridge/maps) or a .json file path"
    )
    zone: Name
    poll_s: float = Field(default=10.0, gt=0, le=3600)
    probes: list[str] | None = Field(
        default=None, min_length=1, description="probes fitted (default: the map's default_probes)"
    )
    product_probe: str | None = Field(
        default=None, description="probe compared with the zone limit (default: the map's product_probe)"
    )

    @field_validator("model")
    @classmethod
    def _shipped_model(cls, value: str) -> str:
        if not value.endswith(".json"):  # a map file is read by the environment check
            from drivers.fridge.registermap import available_models

            if value not in available_models():
                raise ValueError(
                    f"unknown fridge model {value!r}: shipped maps are {', '.join(available_models())} "
                    "(or give the path of a .json map file)"
                )
        return value

    @model_validator(mode="after")
    def _probes_in_map(self) -> FridgeConfig:
        if not self.model.endswith(".json"):
            from drivers.fridge.registermap import load_map

            problems = map_problems(self, load_map(self.model))
            if problems:
                raise LocatedErrors(problems)
        return self


def map_problems(fridge: FridgeConfig, register_map: RegisterMap) -> list[tuple[tuple[str | int, ...], str]]:
    """What of `fridge`'s probe settings the register map does not have (what the controller would refuse)."""
    known = [p.name for p in register_map.probes]
    probes = list(fridge.probes if fridge.probes is not None else register_map.default_probes)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    unknown = [name for name in probes if name not in known]
    if unknown:
        problems.append((("probes",), f"{unknown} not in map {register_map.model!r} (it has {', '.join(known)})"))
    if fridge.product_probe is not None and fridge.product_probe not in probes:
        problems.append((("product_probe",), f"{fridge.product_probe!r} is not one of the probes {probes}"))
    return problems


class ZoneConfig(Section):
    """A temperature zone; its limit defaults from the product class table when not given.

    Defaults (hardware.md §2.5): chilled +7 °C, poultry +4 °C, minced +2 °C, frozen −18 °C with a
    tolerated brief rise to −15 °C; ambient has no limit. Delays (§2.4): an excursion must last longer
    than `alarm_delay_s`; a defrost or door opening seen during it (or just before) extends that once.
    """

    temperature_class: TemperatureClass
    limit_c: float | None = Field(default=None, ge=-40, le=30)
    tolerated_rise_c: float | None = Field(
        default=None, ge=-40, le=30, description="brief rises up to this are tolerated for `tolerated_rise_max_s`"
    )
    alarm_delay_s: float = Field(default=900.0, ge=0, le=86_400)
    door_extra_delay_s: float = Field(
        default=600.0, ge=0, le=86_400, description="added once to the delay when a door opened during the excursion"
    )
    defrost_extra_delay_s: float = Field(
        default=1800.0, ge=0, le=86_400, description="added once to the delay when the controller defrosted"
    )
    tolerated_rise_max_s: float = Field(
        default=3600.0, ge=0, le=86_400, description="longest tolerated time between limit_c and tolerated_rise_c"
    )

    @model_validator(mode="after")
    def _rise_above_limit(self) -> ZoneConfig:
        if self.limit_c is not None and self.tolerated_rise_c is not None and self.tolerated_rise_c < self.limit_c:
            raise ValueError("tolerated_rise_c must not be below limit_c (it is the ceiling of a brief rise)")
        return self


class HaccpConfig(Section):
    """The HACCP temperature log: sampling, compaction of old samples, retention, telemetry to the platform."""

    sample_interval_s: float = Field(default=300.0, ge=10, le=3600, description="one sample per probe this often")
    compact_after_days: int = Field(
        default=30, ge=1, le=365, description="older samples become min/max/mean rows per `aggregate_s`"
    )
    aggregate_s: int = Field(default=3600, ge=300, le=86_400, description="length of one aggregate interval")
    retention_days: int = Field(
        default=760, ge=365, le=3650, description="rows older than this are pruned (Reg. (EC) 37/2005: ≥ 1 year)"
    )
    telemetry_interval_s: float = Field(default=300.0, ge=10, le=86_400, description="temperature telemetry rate")
    telemetry_ttl_s: float = Field(default=3600.0, ge=60, le=7 * 86_400, description="telemetry expires unsent after")

    @model_validator(mode="after")
    def _whole_buckets(self) -> HaccpConfig:
        if 86_400 % self.aggregate_s:
            raise ValueError("aggregate_s must divide a day (86400 s) evenly")
        return self
