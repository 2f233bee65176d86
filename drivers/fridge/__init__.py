"""Fridge and freezer temperature controllers over Modbus (RTU or TCP), driven by declarative register maps.

Public API for the cold-chain service:
- `load_map(model)` -> `RegisterMap` (shipped: `dixell-xr`, `generic`; or a path to a .json map)
- `FridgeController(name, line, unit, register_map, probes=None, product_probe=None)`:
  `await read() -> FridgeReading`, `await write_setpoint(celsius)`, `await write_flags({...})`, `snapshot()`
- `FridgePoller(controllers, interval_s, on_reading, on_failure)`: `poll_once()`, `start()`, `stop()`
- `FridgeReading` / `ProbeReading` / `PollFailure`: immutable results.
"""

from .codec import PROBE_OPEN, PROBE_SHORT, decode_reading, plan_reads
from .controller import FridgeController, WriteNotConfirmed, WriteRefused
from .poller import FridgePoller
from .reading import FridgeReading, PollFailure, ProbeReading
from .registermap import MapError, Point, RegisterMap, available_models, load_map, parse_map

__all__ = [
    "PROBE_OPEN",
    "PROBE_SHORT",
    "FridgeController",
    "FridgePoller",
    "FridgeReading",
    "MapError",
    "Point",
    "PollFailure",
    "ProbeReading",
    "RegisterMap",
    "WriteNotConfirmed",
    "WriteRefused",
    "available_models",
    "decode_reading",
    "load_map",
    "parse_map",
    "plan_reads",
]
