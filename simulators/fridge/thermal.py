"""A simple thermal model of one refrigerated cabinet and its controller, stepped by an injectable clock.

Air temperature T (°C), per minute:
    dT = leak * (ambient - T)            heat through the walls (door open: door_leak instead)
       - cooling        while the compressor runs (not in defrost, not failed)
       + defrost_heat   while defrosting
       + load heat      spread over load_minutes after warm goods are loaded
The controller switches the compressor on at setpoint + hysteresis and off at the setpoint (Dixell
"Hy"), and defrosts every `defrost_interval_s` if set. The evaporator follows the air, colder while
the compressor runs, warm while defrosting. Numbers are plausible, not measured.
"""

from __future__ import annotations

from dataclasses import dataclass

STEP_S = 1.0  # integration step; fine enough for minute-scale dynamics


class ManualClock:
    """Time that only moves when a test says so (seconds)."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self.now += seconds


@dataclass(frozen=True)
class ThermalParams:
    """One cabinet: a chilled cabinet by default; see `freezer()` for a frozen-food cabinet."""

    setpoint_c: float = 4.0
    ambient_c: float = 20.0
    initial_c: float | None = None  # default: the setpoint
    hysteresis_k: float = 2.0
    cooling_k_per_min: float = 0.3
    leak_per_min: float = 1 / 240
    door_leak_per_min: float = 0.1
    defrost_heat_k_per_min: float = 0.15
    defrost_duration_s: float = 1200.0
    defrost_interval_s: float | None = None
    load_minutes: float = 5.0
    alarm_high_k: float = 6.0  # controller alarm: above setpoint + this (Dixell ALU, relative)
    alarm_low_k: float = 6.0
    evaporator_offset_k: float = 8.0  # evaporator below air while the compressor runs

    @classmethod
    def freezer(cls, **changes: float) -> ThermalParams:
        base = {"setpoint_c": -20.0, "cooling_k_per_min": 0.8, "defrost_heat_k_per_min": 0.25}
        return cls(**{**base, **changes})


@dataclass
class ThermalState:
    """What the model holds; tests read it as the truth to compare readings against."""

    air_c: float
    evaporator_c: float
    setpoint_c: float
    compressor_on: bool = False
    defrost_until: float | None = None
    door_open_until: float | None = None
    load_heat_k: float = 0.0  # warm-goods heat still to be released
    next_defrost_at: float | None = None
    compressor_failed: bool = False
    standby: bool = False


class ThermalModel:
    """Advance with `advance_to(now)`; all events take the current model time."""

    def __init__(self, params: ThermalParams, now: float) -> None:
        self.params = params
        start = params.setpoint_c if params.initial_c is None else params.initial_c
        self.state = ThermalState(air_c=start, evaporator_c=start, setpoint_c=params.setpoint_c)
        self.time = now
        if params.defrost_interval_s:
            self.state.next_defrost_at = now + params.defrost_interval_s

    @property
    def defrosting(self) -> bool:
        return self.state.defrost_until is not None

    @property
    def door_open(self) -> bool:
        return self.state.door_open_until is not None

    def open_door(self, seconds: float) -> None:
        self.state.door_open_until = self.time + seconds

    def load_warm_goods(self, kelvin: float) -> None:
        """Warm goods release `kelvin` worth of air heating over `load_minutes`."""
        self.state.load_heat_k += kelvin

    def start_defrost(self, seconds: float | None = None) -> None:
        self.state.defrost_until = self.time + (seconds or self.params.defrost_duration_s)
        self.state.compressor_on = False

    def stop_defrost(self) -> None:
        self.state.defrost_until = None

    def advance_to(self, now: float) -> None:
        while self.time < now:
            dt = min(STEP_S, now - self.time)
            self._step(dt)
            self.time += dt
        self._events()  # a defrost or door opening ending exactly now has ended

    def _step(self, dt: float) -> None:
        s, p = self.state, self.params
        minutes = dt / 60
        self._events()
        leak = p.door_leak_per_min if s.door_open_until is not None else p.leak_per_min
        change = leak * (p.ambient_c - s.air_c) * minutes
        if s.load_heat_k > 0:
            released = min(s.load_heat_k, s.load_heat_k * minutes / p.load_minutes + 0.001)
            s.load_heat_k -= released
            change += released
        if s.defrost_until is not None:
            change += p.defrost_heat_k_per_min * minutes
        elif s.compressor_on and not s.compressor_failed:
            change -= p.cooling_k_per_min * minutes
        s.air_c += change
        self._thermostat()
        self._evaporator(minutes)

    def _events(self) -> None:
        s, t = self.state, self.time
        if s.door_open_until is not None and t >= s.door_open_until:
            s.door_open_until = None
        if s.defrost_until is not None and t >= s.defrost_until:
            s.defrost_until = None
        if s.next_defrost_at is not None and t >= s.next_defrost_at and self.params.defrost_interval_s:
            self.start_defrost()
            s.next_defrost_at = t + self.params.defrost_interval_s

    def _thermostat(self) -> None:
        s = self.state
        if s.defrost_until is not None or s.standby:
            s.compressor_on = False
        elif s.air_c >= s.setpoint_c + self.params.hysteresis_k:
            s.compressor_on = True
        elif s.air_c <= s.setpoint_c:
            s.compressor_on = False

    def _evaporator(self, minutes: float) -> None:
        s = self.state
        if s.defrost_until is not None:
            target = 10.0  # heater on the coil
        elif s.compressor_on and not s.compressor_failed:
            target = s.air_c - self.params.evaporator_offset_k
        else:
            target = s.air_c
        s.evaporator_c += (target - s.evaporator_c) * min(1.0, minutes / 2.0)  # ~2 min time constant

    def alarms(self) -> set[str]:
        """Alarms the controller itself raises (no delay modelled: the service owns the delay)."""
        s, p = self.state, self.params
        active = set()
        if s.air_c > s.setpoint_c + p.alarm_high_k:
            active.add("high_temperature")
        if s.air_c < s.setpoint_c - p.alarm_low_k:
            active.add("low_temperature")
        return active
