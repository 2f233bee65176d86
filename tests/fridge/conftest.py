"""Fixtures: a simulated fridge line over a real pty or TCP, and Modbus lines that talk to it."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from drivers.fridge import RegisterMap, load_map
from drivers.modbus import LineSettings, ModbusLine
from simulators.fridge import FridgeBusSimulator

# pymodbus logs every timeout at ERROR with a frame dump; the tests provoke many on purpose.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

FAST = {"baudrate": 115200, "gap_ms": 1.0, "timeout_ms": 150.0, "retries": 1, "reconnect_min_s": 0.05}


def map_document(model: str) -> dict[str, Any]:
    """The JSON document of a shipped map, to derive variants from."""
    return json.loads(Path(load_map(model).source).read_text(encoding="utf-8"))


@pytest.fixture
def dixell() -> RegisterMap:
    return load_map("dixell-xr")


@pytest.fixture
def generic() -> RegisterMap:
    return load_map("generic")


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Any]]:
    """Collects simulators and lines; stops/closes them after the test, lines first."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        if isinstance(item, ModbusLine):
            await item.close()
        else:
            await item.stop()


@pytest.fixture
def open_line(cleanup: list[Any]) -> Callable[..., ModbusLine]:
    """`open_line(url, **settings)` -> a ModbusLine with fast test timings, closed after the test."""

    def make(port: str | None = None, *, trace: Any = None, tcp: str | None = None, **changes: Any) -> ModbusLine:
        line = ModbusLine("test", LineSettings(port=port, tcp=tcp, **{**FAST, **changes}), trace=trace)
        cleanup.append(line)
        return line

    return make


@pytest.fixture
def start_bus(cleanup: list[Any]) -> Callable[..., Any]:
    """`await start_bus(map, units, transport="tcp"|"pty", **kw)` -> (simulator, url or pty path)."""

    async def start(register_map: RegisterMap, units: Any, transport: str = "tcp", **kw: Any):
        sim = FridgeBusSimulator(register_map, units, **kw)
        cleanup.append(sim)
        url = await sim.start_pty() if transport == "pty" else await sim.start_tcp()
        return sim, url

    return start


class Recorder:
    """Trace hook collecting (direction, bytes) as the line reports them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, bytes]] = []

    def __call__(self, direction: str, data: bytes) -> None:
        self.events.append((direction, data))

    def exchanges(self) -> list[tuple[bytes, bytes]]:
        """(request, whole reply) pairs: rx chunks joined up to the next tx."""
        pairs: list[tuple[bytes, bytes]] = []
        for direction, data in self.events:
            if direction == "tx":
                pairs.append((data, b""))
            elif pairs:
                pairs[-1] = (pairs[-1][0], pairs[-1][1] + data)
        return pairs

    def sent(self) -> list[bytes]:
        return [data for direction, data in self.events if direction == "tx"]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
