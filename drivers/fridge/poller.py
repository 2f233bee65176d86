"""Poll the controllers of one Modbus line in turn and hand readings and failures to the service."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from common.tasks import cancel_tasks

from ..modbus import ModbusError
from .controller import FridgeController
from .reading import FridgeReading, PollFailure

log = logging.getLogger(__name__)

OnReading = Callable[[FridgeReading], Awaitable[None] | None]
OnFailure = Callable[[PollFailure], Awaitable[None] | None]


class FridgePoller:
    """Every `interval_s`, read each controller once, in order, and deliver the result.

    A controller that fails (silent, line down, bad reply, even a bug) yields a `PollFailure` for that
    controller only; the others are still read in the same cycle. Callbacks may be plain functions or
    coroutines; an exception in a callback is logged and polling goes on. Keep callbacks short: the
    next controller waits for them.
    """

    def __init__(
        self,
        controllers: Sequence[FridgeController],
        interval_s: float,
        on_reading: OnReading,
        on_failure: OnFailure,
        *,
        name: str = "fridges",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.controllers = list(controllers)
        self.interval_s = interval_s
        self.name = name
        self._on_reading = on_reading
        self._on_failure = on_failure
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._last_unexpected: dict[str, str] = {}
        self.cycles = 0

    async def poll_once(self) -> list[FridgeReading | PollFailure]:
        """One cycle over all controllers; returns what was delivered, in controller order."""
        results: list[FridgeReading | PollFailure] = []
        for controller in self.controllers:
            result = await self._poll(controller)
            if isinstance(result, FridgeReading):
                await self._deliver(self._on_reading, result)
            else:
                await self._deliver(self._on_failure, result)
            results.append(result)
        self.cycles += 1
        return results

    async def _poll(self, controller: FridgeController) -> FridgeReading | PollFailure:
        try:
            reading = await controller.read()
        except asyncio.CancelledError:
            raise
        except ModbusError as exc:  # availability already logged the transition once
            return self._failure(controller, exc)
        except Exception as exc:  # a bug must not stop the other controllers; log each new one once
            message = f"{type(exc).__name__}: {exc}"
            if self._last_unexpected.get(controller.name) != message:
                self._last_unexpected[controller.name] = message
                log.exception("fridge %s: unexpected error while polling", controller.name)
            return self._failure(controller, exc)
        self._last_unexpected.pop(controller.name, None)
        return reading

    def _failure(self, controller: FridgeController, error: Exception) -> PollFailure:
        snap = controller.snapshot()
        return PollFailure(controller.name, controller.unit, self._clock(), error, snap.available, snap.since)

    async def _deliver(self, callback: Callable[..., object], result: FridgeReading | PollFailure) -> None:
        try:
            outcome = callback(result)
            if inspect.isawaitable(outcome):
                await outcome
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("fridge poller %s: callback failed for %s", self.name, result.fridge)

    async def run(self) -> None:
        """Poll forever at the interval (a cycle longer than the interval starts the next one at once)."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self.poll_once()
            await asyncio.sleep(max(0.0, started + self.interval_s - loop.time()))

    def start(self) -> asyncio.Task[None]:
        """Run in a named background task; `stop()` ends it."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"fridge-poller-{self.name}")
        return self._task

    async def stop(self) -> None:
        """Stop polling; safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_tasks([task])
