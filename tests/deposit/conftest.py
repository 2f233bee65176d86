"""Fixtures: a simulated line with a deposit machine (and fridges) over a real pty or TCP, and lines to it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from deposit import DepositMachine
from drivers.modbus import LineSettings, ModbusLine
from simulators.deposit import DepositBusSimulator, SimulatedDepositMachine

# pymodbus logs every timeout at ERROR with a frame dump; the tests provoke many on purpose.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

FAST = {"baudrate": 115200, "gap_ms": 1.0, "timeout_ms": 150.0, "retries": 1, "reconnect_min_s": 0.05}
UNIT = 10


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


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def cleanup() -> AsyncIterator[list[Any]]:
    """Collects simulators and lines; closes lines first after the test."""
    items: list[Any] = []
    yield items
    for item in reversed(items):
        if isinstance(item, ModbusLine):
            await item.close()
        else:
            await item.stop()


@pytest.fixture
def start_line(cleanup: list[Any]) -> Callable[..., Any]:
    """`await start_line(machine, transport="tcp"|"pty", fridge_units=...)` -> (simulator, url or pty path)."""

    async def start(*machines: SimulatedDepositMachine, transport: str = "tcp", **kw: Any):
        sim = DepositBusSimulator(machines or [SimulatedDepositMachine(UNIT)], **kw)
        cleanup.append(sim)
        url = await sim.start_pty() if transport == "pty" else await sim.start_tcp()
        return sim, url

    return start


@pytest.fixture
def open_line(cleanup: list[Any]) -> Callable[..., ModbusLine]:
    """`open_line(url, trace=None, **settings)` -> a ModbusLine with fast test timings, closed after the test."""

    def make(port: str, *, trace: Any = None, **changes: Any) -> ModbusLine:
        line = ModbusLine("test", LineSettings(port=port, **{**FAST, **changes}), trace=trace)
        cleanup.append(line)
        return line

    return make


@pytest.fixture
def driver(open_line: Callable[..., ModbusLine]) -> Callable[..., DepositMachine]:
    """`driver(url, unit=10, trace=None, **line settings)` -> DepositMachine on a fresh line."""

    def make(url: str, unit: int = UNIT, *, trace: Any = None, **changes: Any) -> DepositMachine:
        return DepositMachine("test", open_line(url, trace=trace, **changes), unit, command_poll_s=0.01)

    return make
