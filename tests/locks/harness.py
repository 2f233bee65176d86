"""Shared helpers for the lock-board tests: an event recorder and a simulator + bus pair."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from drivers.locks import BoardSpec, LockBus, LockEvent
from simulators.locks import LockBusSimulator

# Fast settings so each test takes well under a few seconds.
FAST_BUS = {"gap_s": 0.002, "timeout_s": 0.1, "retries": 1, "poll_hz": 25.0, "idle_poll_hz": 25.0}
FAST_BUS["reprobe_base_s"] = 0.05


class EventLog:
    """Records a bus's events; `wait()` blocks until one matches (with a deadline)."""

    def __init__(self) -> None:
        self.events: list[LockEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: LockEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type, **fields: Any) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind) and all(getattr(e, k) == v for k, v in fields.items())]

    async def wait(self, kind: type, within: float = 3.0, **fields: Any) -> Any:
        return await self.wait_until(lambda: self.of(kind, **fields), within, f"{kind.__name__} {fields}")

    async def wait_until(self, check: Callable[[], Any], within: float = 3.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + within
        while not (found := check()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}; events: {self.events}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))
            except TimeoutError:
                pass
        return found[0] if isinstance(found, list) else found


@asynccontextmanager
async def sim_and_bus(
    protocol: str,
    boards: list[Any],
    *,
    sim_options: dict[str, Any] | None = None,
    bus_options: dict[str, Any] | None = None,
    specs: list[BoardSpec | int] | None = None,
    before_start: Callable[[LockBusSimulator], None] | None = None,
) -> AsyncIterator[tuple[LockBusSimulator, LockBus, EventLog]]:
    """A simulator on a real pty and a LockBus on its path, with an event recorder subscribed."""
    sim = LockBusSimulator(protocol, boards, **(sim_options or {}))
    if before_start is not None:
        before_start(sim)
    path = await sim.start_pty()
    addresses = [b if isinstance(b, int) else b.address for b in boards]
    bus = LockBus("wall", path, protocol, specs or addresses, **{**FAST_BUS, **(bus_options or {})})
    log = EventLog()
    bus.subscribe(log)
    await bus.start()
    try:
        yield sim, bus, log
    finally:
        await bus.stop()
        await sim.stop()
