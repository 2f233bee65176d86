"""One simulated temperature controller: thermal model + register map + fault knobs.

Registers are rendered from the model on every read, using the same register map and codec as the
driver, so a map change reaches both sides. A failed probe reads `PROBE_OPEN` (0x7FFF) or
`PROBE_SHORT` (0x8000): far outside every probe's valid_range, which is what the driver treats
as a probe failure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pymodbus.constants import ExcCodes

from drivers.fridge.codec import (
    PROBE_OPEN,
    PROBE_SHORT,
    apply_masked_write,
    decode_bits,
    decode_number,
    encode_number,
)
from drivers.fridge.registermap import Point, RegisterMap

from .thermal import ThermalModel, ThermalParams

ProbeFault = Literal["open", "short"]


@dataclass
class Faults:
    """Fault knobs; change them any time (tests, demo)."""

    compressor_failed: bool = False
    failed_probes: dict[str, ProbeFault] = field(default_factory=dict)
    silent: bool = False  # no reply at all, as if unplugged
    forced_alarms: set[str] = field(default_factory=set)  # alarm bits set regardless of the model
    corrupt_crc: bool = False  # reply with a broken CRC (the master must discard it)
    truncate_reply: bool = False  # reply loses its last 3 bytes (cable fault mid-frame)
    garbage_before_reply: bytes = b""  # line noise before the reply (the master must resync)
    # Late reply. pymodbus's server labels a reply with the unit id of the newest request, so a reply
    # delayed past the master's timeout while it asks another unit goes out under that unit's id.
    reply_delay_s: float = 0.0


class SimulatedController:
    """The device side of one unit on the simulated bus."""

    def __init__(
        self,
        unit: int,
        register_map: RegisterMap,
        params: ThermalParams,
        clock: Callable[[], float],
        rng: random.Random,
        noise_k: float = 0.05,
    ) -> None:
        self.unit = unit
        self.map = register_map
        self.clock = clock
        self.model = ThermalModel(params, clock())
        self.faults = Faults()
        self._rng = rng
        self._noise_k = noise_k
        self._stored: dict[str, int] = {}  # written 'value' points and flags the model does not own

    # ----- control API --------------------------------------------------------------------------

    def sync(self) -> None:
        """Bring the model up to the clock (fault flags set directly apply from the previous sync)."""
        self.model.state.compressor_failed = self.faults.compressor_failed
        self.model.advance_to(self.clock())

    def fail_compressor(self, failed: bool = True) -> None:
        """The compressor stops cooling from now on (the controller still demands it)."""
        self.sync()
        self.faults.compressor_failed = failed
        self.model.state.compressor_failed = failed

    @property
    def air_c(self) -> float:
        """The true cabinet temperature (what a perfect probe would read)."""
        self.sync()
        return self.model.state.air_c

    def open_door(self, seconds: float = 60.0) -> None:
        self.sync()
        self.model.open_door(seconds)

    def load_warm_goods(self, kelvin: float = 3.0) -> None:
        self.sync()
        self.model.load_warm_goods(kelvin)

    def start_defrost(self, seconds: float | None = None) -> None:
        self.sync()
        self.model.start_defrost(seconds)

    def fail_probe(self, name: str, mode: ProbeFault = "open") -> None:
        point = self.map.point(name)
        if point.kind != "probe":
            raise ValueError(f"{name} is not a probe")
        self.faults.failed_probes[name] = mode

    def force_alarm(self, name: str) -> None:
        if name not in self.map.alarm_names():
            raise ValueError(f"map {self.map.model!r} has no alarm {name!r} ({sorted(self.map.alarm_names())})")
        self.faults.forced_alarms.add(name)

    def clear_faults(self) -> None:
        self.sync()
        self.faults = Faults()

    # ----- register side ------------------------------------------------------------------------

    def _flag(self, name: str) -> bool:
        s = self.model.state
        modelled = {
            "defrost_active": self.model.defrosting,
            "compressor_on": s.compressor_on,
            "fan_on": s.compressor_on,
            "door_open": self.model.door_open,
            "standby": s.standby,
        }
        return modelled[name] if name in modelled else bool(self._stored.get(name, 0))

    def _alarms(self) -> set[str]:
        failed = self.faults.failed_probes
        active = set(self.faults.forced_alarms)
        if self.map.product_probe not in failed:  # a controller without its probe cannot judge temperature
            active |= self.model.alarms()
        active |= {f"{name}_failure" for name in failed}
        if failed:
            active.add("probe_failure")
        if self.model.door_open:
            active.add("door_alarm")
        return active

    def render(self, point: Point) -> int:
        """Raw register (or bit as 0/1) the controller shows for `point` now."""
        s = self.model.state
        if point.kind == "probe":
            mode = self.faults.failed_probes.get(point.name)
            if mode is not None:
                return PROBE_OPEN if mode == "open" else PROBE_SHORT
            true_c = s.evaporator_c if point.role == "evaporator" else s.air_c
            return encode_number(point, true_c + self._rng.gauss(0.0, self._noise_k))
        if point.kind == "setpoint":
            return encode_number(point, s.setpoint_c)
        if point.type == "bit":
            return int(self._flag(point.name))
        if point.type == "bitfield":
            alarms = self._alarms()
            value = sum(1 << bit for bit, name in point.status_bits.items() if self._flag(name))
            return value | sum(1 << bit for bit, name in point.alarm_bits.items() if name in alarms)
        return self._stored.get(point.name, 0)

    def apply_write(self, point: Point, raw: int) -> ExcCodes | None:
        """A master wrote `raw` to `point`; returns an exception code to refuse it."""
        if not point.writable:
            return ExcCodes.ILLEGAL_ADDRESS
        if point.kind == "setpoint":
            value = decode_number(point, raw)
            if point.write_range is not None and not point.write_range[0] <= value <= point.write_range[1]:
                return ExcCodes.ILLEGAL_VALUE
            self.model.state.setpoint_c = value
        elif point.type == "bitfield":
            new = apply_masked_write(point, self.render(point), raw) if point.write_mask is not None else raw
            flags, _alarms = decode_bits(point, new)
            for name, on in flags.items():
                self._set_flag(name, on)
        elif point.type == "bit":
            self._set_flag(point.name, bool(raw))
        else:
            self._stored[point.name] = raw
        return None

    def _set_flag(self, name: str, on: bool) -> None:
        if name == "defrost_active":
            if on and not self.model.defrosting:
                self.model.start_defrost()
            elif not on and self.model.defrosting:
                self.model.stop_defrost()
        elif name == "standby":
            self.model.state.standby = on
        elif name not in ("compressor_on", "fan_on", "door_open"):  # outputs and inputs cannot be written
            self._stored[name] = int(on)
