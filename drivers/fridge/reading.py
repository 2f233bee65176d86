"""What a fridge controller reports: immutable readings and poll failures for the cold-chain service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProbeReading:
    """One probe: a temperature, or a fault and no temperature (never a bogus number)."""

    name: str
    role: str  # cabinet / evaporator / product / auxiliary (from the register map)
    celsius: float | None
    raw: int | None  # the register as read (unsigned 16 bit), None when it could not be read
    fault: str | None = None  # why there is no temperature: out of range (probe failure) or not readable

    @property
    def ok(self) -> bool:
        return self.fault is None


@dataclass(frozen=True)
class FridgeReading:
    """One poll of one controller.

    `errors` names the points whose registers the controller refused (a Modbus exception, e.g. an
    unmapped setpoint register); those points are None/absent, the rest of the reading is valid.
    A controller that does not answer at all produces a `PollFailure`, not a reading.
    """

    fridge: str
    unit: int
    model: str
    at: float  # UNIX time of the reading
    probes: Mapping[str, ProbeReading]
    product_probe: str
    setpoint_c: float | None
    defrost_active: bool | None  # None: the map has no defrost flag or its register was not readable
    flags: Mapping[str, bool]
    alarms: frozenset[str]
    errors: Mapping[str, str]

    @property
    def product(self) -> ProbeReading:
        """The probe compared with the zone limit (cabinet air unless configured otherwise)."""
        return self.probes[self.product_probe]

    @property
    def product_celsius(self) -> float | None:
        """Product-probe temperature, or None when that probe has failed (count it as an excursion)."""
        return self.product.celsius

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI `--json`, logs, telemetry)."""
        return {
            "fridge": self.fridge,
            "unit": self.unit,
            "model": self.model,
            "at": self.at,
            "product_probe": self.product_probe,
            "probes": {
                name: {"role": p.role, "celsius": p.celsius, "raw": p.raw, "fault": p.fault}
                for name, p in self.probes.items()
            },
            "setpoint_c": self.setpoint_c,
            "defrost_active": self.defrost_active,
            "flags": dict(self.flags),
            "alarms": sorted(self.alarms),
            "errors": dict(self.errors),
        }


@dataclass(frozen=True)
class PollFailure:
    """A poll that produced no reading: the controller is silent, the line is down, or the reply was bad.

    `available` is the unit's availability after this failure (False once it is marked down);
    `since` is when it went down. Silence for longer than the alarm delay counts as an excursion.
    """

    fridge: str
    unit: int
    at: float
    error: Exception
    available: bool | None
    since: float | None

    @property
    def message(self) -> str:
        return str(self.error)
