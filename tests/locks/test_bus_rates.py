"""Poll rates: a quiet board at the idle rate, a board where something happens at the full rate."""

from __future__ import annotations

import asyncio
import time

from drivers.locks import LockBus, LockChanged, LockState, PulseSent
from tests.locks.harness import FAST_BUS, sim_and_bus

UNLOCKED = LockState(False)
DOORS = {"open_delay_s": 0.05, "close_after_s": 5.0}  # a door opened stays open while we count
RATES = {**FAST_BUS, "poll_hz": 20.0, "idle_poll_hz": 2.0, "linger_s": 0.3}


def requests(bus: LockBus) -> dict[int, int]:
    return {b.address: b.counters.requests for b in bus.snapshot().boards}


async def polls_during(bus: LockBus, seconds: float) -> dict[int, int]:
    before = requests(bus)
    await asyncio.sleep(seconds)
    return {board: n - before[board] for board, n in requests(bus).items()}


async def test_a_quiet_board_is_polled_at_the_idle_rate_and_one_with_a_door_open_at_the_full_rate() -> None:
    async with sim_and_bus("cu48", [0, 1], sim_options=DOORS, bus_options=RATES) as (sim, bus, log):
        await bus.wait_probed(2.0)
        sim.open_door(1, 40)  # forced: no pulse; it stays open for 5 s
        await log.wait(LockChanged, board=1, lock=40, new=UNLOCKED)
        counts = await polls_during(bus, 1.5)
        assert counts[0] <= 5  # 2 a second (20 at the full rate)
        assert counts[1] >= 15  # the open door is watched at 20 a second


async def test_a_forced_door_on_a_quiet_board_is_seen_within_the_idle_period() -> None:
    async with sim_and_bus("cu48", [0, 1], sim_options=DOORS, bus_options=RATES) as (sim, bus, log):
        await bus.wait_probed(2.0)
        await asyncio.sleep(0.5)  # past the linger of the baseline: both boards quiet
        assert max((await polls_during(bus, 1.0)).values()) <= 4
        opened_at = time.monotonic()
        sim.open_door(0, 7)
        event = await log.wait(LockChanged, board=0, lock=7, new=UNLOCKED)
        assert not log.of(PulseSent)
        assert event.at - opened_at <= 0.5 + 0.25  # one idle period, and a poll's own time


async def test_a_pulse_brings_its_board_to_the_full_rate_at_once() -> None:
    async with sim_and_bus("cu48", [0, 1], sim_options=DOORS, bus_options=RATES) as (_sim, bus, log):
        await bus.wait_probed(2.0)
        await asyncio.sleep(0.5)
        await bus.unlock(1, 3)
        counts = await polls_during(bus, 0.25)  # inside the linger, before the door even opened
        assert counts[1] >= 3 and counts[0] <= 1
        await log.wait(LockChanged, board=1, lock=3, new=UNLOCKED)


async def test_a_full_rate_below_the_idle_rate_wins() -> None:
    slow = {**RATES, "poll_hz": 2.0, "idle_poll_hz": 20.0}
    async with sim_and_bus("cu48", [0], sim_options=DOORS, bus_options=slow) as (_sim, bus, _log):
        await bus.wait_probed(2.0)
        await asyncio.sleep(0.5)
        assert (await polls_during(bus, 1.5))[0] <= 5
