"""The poller: one failing controller never stops the others; results reach the callbacks."""

from __future__ import annotations

import asyncio
import logging

from drivers.fridge import FridgeController, FridgePoller, FridgeReading, PollFailure
from drivers.modbus import LineUnavailable, NoResponse


class _Collector:
    def __init__(self) -> None:
        self.readings: list[FridgeReading] = []
        self.failures: list[PollFailure] = []

    async def on_reading(self, reading: FridgeReading) -> None:  # async callback
        self.readings.append(reading)

    def on_failure(self, failure: PollFailure) -> None:  # plain callback
        self.failures.append(failure)


async def _three(start_bus, open_line, dixell, transport="pty"):
    sim, url = await start_bus(dixell, [1, 2, 3], transport=transport)
    line = open_line(url)
    return sim, [FridgeController(f"k{u}", line, u, dixell) for u in (1, 2, 3)]


async def test_one_silent_controller_of_three_does_not_stop_the_others(start_bus, open_line, dixell) -> None:
    sim, fridges = await _three(start_bus, open_line, dixell)
    got = _Collector()
    poller = FridgePoller(fridges, 10.0, got.on_reading, got.on_failure)
    sim.controller(2).faults.silent = True
    for _ in range(3):
        results = await poller.poll_once()
        assert [type(r).__name__ for r in results] == ["FridgeReading", "PollFailure", "FridgeReading"]
        sim.advance(60)
    assert [r.fridge for r in got.readings] == ["k1", "k3"] * 3
    failure = got.failures[-1]
    assert failure.fridge == "k2" and failure.unit == 2 and isinstance(failure.error, NoResponse)
    assert failure.available is False and failure.since is not None and "no answer" in failure.message
    sim.controller(2).faults.silent = False
    assert all(isinstance(r, FridgeReading) for r in await poller.poll_once())
    assert fridges[1].snapshot().available is True


async def test_a_failing_callback_is_logged_and_polling_goes_on(start_bus, open_line, dixell, caplog) -> None:
    _sim, fridges = await _three(start_bus, open_line, dixell, transport="tcp")
    delivered: list[str] = []

    def on_reading(reading: FridgeReading) -> None:
        if reading.fridge == "k1":
            raise RuntimeError("database is locked")
        delivered.append(reading.fridge)

    poller = FridgePoller(fridges, 10.0, on_reading, lambda failure: None)
    await poller.poll_once()
    assert delivered == ["k2", "k3"]
    assert "callback failed for k1" in caplog.text and "database is locked" in caplog.text


class _BuggyController(FridgeController):
    """A controller whose decoding has a bug: the poller must contain it."""

    async def read(self) -> FridgeReading:
        raise KeyError("probe7")


async def test_an_unexpected_error_is_contained_and_logged_once(start_bus, open_line, dixell, caplog) -> None:
    _sim, fridges = await _three(start_bus, open_line, dixell, transport="tcp")
    fridges[0] = _BuggyController("k1", fridges[0].line, 1, dixell)
    got = _Collector()
    poller = FridgePoller(fridges, 10.0, got.on_reading, got.on_failure)
    caplog.set_level(logging.ERROR, logger="drivers.fridge.poller")
    for _ in range(3):
        await poller.poll_once()
    assert [r.fridge for r in got.readings] == ["k2", "k3"] * 3
    assert [f.fridge for f in got.failures] == ["k1"] * 3 and isinstance(got.failures[0].error, KeyError)
    assert len([r for r in caplog.records if "unexpected error" in r.getMessage()]) == 1


async def test_line_down_gives_failures_for_everyone(open_line, dixell) -> None:
    line = open_line("socket://127.0.0.1:9")  # discard port: nothing listens
    fridges = [FridgeController(f"k{u}", line, u, dixell) for u in (1, 2)]
    got = _Collector()
    results = await FridgePoller(fridges, 10.0, got.on_reading, got.on_failure).poll_once()
    assert [type(r.error) for r in results if isinstance(r, PollFailure)] == [LineUnavailable, LineUnavailable]
    assert got.readings == [] and all(f.available is False for f in got.failures)


async def test_background_polling_at_the_interval(start_bus, open_line, dixell) -> None:
    _sim, fridges = await _three(start_bus, open_line, dixell)
    got = _Collector()
    nine = asyncio.Event()

    async def on_reading(reading: FridgeReading) -> None:
        await got.on_reading(reading)
        if len(got.readings) >= 9:
            nine.set()

    poller = FridgePoller(fridges, 0.05, on_reading, got.on_failure)
    loop = asyncio.get_running_loop()
    started = loop.time()
    task = poller.start()
    assert poller.start() is task  # idempotent
    await asyncio.wait_for(nine.wait(), 5.0)
    elapsed = loop.time() - started
    await poller.stop()
    await poller.stop()
    assert task.done() and elapsed >= 0.1  # cycles 2 and 3 each waited for the interval
    assert len(got.readings) >= 9 and got.failures == []
