"""Simulated Modbus temperature controllers with a thermal model (see `bus.FridgeBusSimulator`)."""

from .bus import FridgeBusSimulator, wire_seconds
from .device import Faults, SimulatedController
from .thermal import ManualClock, ThermalModel, ThermalParams

__all__ = [
    "Faults",
    "FridgeBusSimulator",
    "ManualClock",
    "SimulatedController",
    "ThermalModel",
    "ThermalParams",
    "wire_seconds",
]
