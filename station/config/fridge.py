"""Configuration of the cold chain: Modbus lines, temperature controllers, temperature zones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Name, Section, SerialUrl

TemperatureClass = Literal["ambient", "chilled", "poultry", "minced", "frozen"]


class ModbusLineConfig(Section):
    """One Modbus RTU line (serial URL) or Modbus TCP gateway; one request at a time per line."""

    port: SerialUrl | None = None
    tcp: str | None = Field(default=None, description="host:port of a Modbus TCP device instead of a serial line")
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    gap_ms: float = Field(default=10.0, ge=0, le=1000, description="silence before each request (at least 3.5 chars)")
    timeout_ms: float = Field(default=500.0, ge=10, le=10_000)
    retries: int = Field(default=1, ge=0, le=5)
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60, description="first reconnect delay when the port is gone")
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600, description="reconnect delay cap")

    @model_validator(mode="after")
    def _one_target(self) -> ModbusLineConfig:
        if (self.port is None) == (self.tcp is None):
            raise ValueError("give exactly one of port (serial URL) or tcp (host:port)")
        return self


class FridgeConfig(Section):
    """One temperature controller on a Modbus line."""

    line: Name
    unit: int = Field(ge=1, le=247, description="Modbus device id (controller parameter Adr)")
    model: str = Field(default="dixell-xr", description="register map name")
    zone: Name
    poll_s: float = Field(default=10.0, gt=0, le=3600)
    probes: list[str] | None = Field(
        default=None, min_length=1, description="probes fitted (default: the map's default_probes)"
    )
    product_probe: str | None = Field(
        default=None, description="probe compared with the zone limit (default: the map's product_probe)"
    )


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
