"""LockBus with failing boards and ports: one dead board never stops the others."""

from __future__ import annotations

import asyncio

import pytest

from drivers.locks import (
    BoardBaseline,
    BoardDown,
    BoardUp,
    LockBus,
    LockChanged,
    LockState,
    NoAnswer,
    PortUnavailable,
)
from simulators.locks import LockBusSimulator
from tests.conftest import free_port
from tests.locks.harness import FAST_BUS, EventLog, sim_and_bus

LOCKED, UNLOCKED = LockState(True), LockState(False)
DOORS = {"open_delay_s": 0.05, "close_after_s": 0.3}


async def test_dead_board_among_three_recovers() -> None:
    def kill_board_1(sim: LockBusSimulator) -> None:
        sim.set_board_faults(1, dead=True)

    async with sim_and_bus("cu16", [0, 1, 2], sim_options=DOORS, before_start=kill_board_1) as (sim, bus, log):
        assert await bus.wait_probed(2.0)
        down = await log.wait(BoardDown, board=1)
        assert "no answer" in down.error
        assert not log.of(BoardDown, board=0) and not log.of(BoardDown, board=2)
        counts = {b.address: b.counters.requests for b in bus.snapshot().boards}
        # the other two keep working: polls continue, an unlock is seen opening and closing
        await bus.unlock(2, 7)
        await log.wait(LockChanged, board=2, lock=7, new=UNLOCKED)
        await log.wait(LockChanged, board=2, lock=7, new=LOCKED)
        later = {b.address: b.counters.requests for b in bus.snapshot().boards}
        assert later[0] > counts[0] + 3 and later[2] > counts[2] + 3
        # while down, board 1 is only re-probed with backoff, no retries
        assert bus.snapshot().boards[1].counters.retries <= 1
        assert later[1] - counts[1] < later[0] - counts[0]
        sim.set_board_faults(1, dead=False)
        up = await log.wait(BoardUp, board=1, within=3.0)
        assert up.at > down.at
        assert log.of(BoardBaseline, board=1)  # its first status is the baseline
        assert len(log.of(BoardDown, board=1)) == 1  # went down once, logged once


@pytest.mark.parametrize("mode", ["bad_sum", "garbage", "noise"])
async def test_corrupted_replies_are_retried_counted_and_never_change_state(mode: str) -> None:
    async with sim_and_bus("cu48", [0, 1], sim_options={**DOORS, "seed": 11}) as (sim, bus, log):
        sim.set_board_faults(0, corrupt=mode, corrupt_every=2)  # every second reply of board 0
        await bus.wait_probed(2.0)
        await asyncio.sleep(0.5)
        counters = bus.snapshot().boards[0].counters
        assert counters.bad_frames >= 3
        if mode == "noise":
            assert counters.retries == 0  # stray bytes before an intact reply: skipped, no retry
        else:
            assert counters.retries >= 3
        assert counters.timeouts == 0
        assert not log.of(LockChanged) and not log.of(BoardDown)
        assert bus.snapshot().boards[0].status.locked() == list(range(1, 49))  # type: ignore[union-attr]
        assert bus.snapshot().boards[1].counters.bad_frames == 0


async def test_always_corrupt_board_goes_down_with_bad_frame() -> None:
    async with sim_and_bus("cu16", [0, 1], sim_options=DOORS) as (sim, _bus, log):
        sim.set_board_faults(1, corrupt="bad_sum")
        down = await log.wait(BoardDown, board=1)
        assert "bad frame" in down.error and "checksum" in down.error
        assert log.of(BoardUp, board=0)


async def test_late_replies_are_ignored_by_the_other_boards() -> None:
    async with sim_and_bus("cu16", [0, 1, 2], sim_options=DOORS) as (sim, bus, log):
        # Later than timeout + retry (2 x 100 ms). A reply only a little late can be taken by the
        # retry to the same board (the protocol has no sequence numbers): still that board's data.
        sim.set_board_faults(1, late_s=0.35)
        await log.wait(BoardDown, board=1)
        await asyncio.sleep(0.5)
        assert not log.of(LockChanged)  # a late reply is never taken for another board's
        assert not log.of(BoardDown, board=0) and not log.of(BoardDown, board=2)
        assert bus.snapshot().boards[1].counters.timeouts >= 2


async def test_status_read_retried_once_then_no_answer() -> None:
    async with sim_and_bus("cu16", [0, 3], sim_options=DOORS, bus_options={"poll_hz": None}) as (sim, bus, _log):
        sim.set_board_faults(3, dead=True)
        before = len(sim.received)
        with pytest.raises(NoAnswer, match=r"board 3 .*no answer within 100 ms \(2 attempts\)"):
            await bus.read_status(3)
        assert [f for _, f in sim.received][before:] == [bytes.fromhex("02 30 30 03 65")] * 2  # 02+30+30+03


async def test_unlock_on_a_silent_cu16_board_is_sent_once() -> None:
    async with sim_and_bus("cu16", [0, 3], sim_options=DOORS, bus_options={"poll_hz": None}) as (sim, bus, _log):
        sim.set_board_faults(3, dead=True)
        result = await bus.unlock(3, 2)
        assert result.status is None and "no answer" in (result.reply_error or "")
        await asyncio.sleep(0.3)
        unlocks = [f for _, f in sim.received if f == bytes.fromhex("02 31 31 03 67")]  # 02+31+31+03
        assert len(unlocks) == 1  # never repeated by the driver


async def test_missing_port_start_does_not_fail() -> None:
    bus = LockBus("wall", "/dev/does-not-exist-lock-bus", "cu16", [0, 1], **FAST_BUS)
    log = EventLog()
    bus.subscribe(log)
    await bus.start()
    assert await bus.wait_probed(1.0)
    assert {e.board for e in log.of(BoardDown)} == {0, 1}
    assert all("port unavailable" in e.error for e in log.of(BoardDown))
    with pytest.raises(PortUnavailable, match="does-not-exist"):
        await bus.unlock(0, 1)
    assert bus.snapshot().port.available is False
    await bus.stop()


async def test_port_that_appears_later_brings_the_boards_up() -> None:
    port = free_port()
    options = {**FAST_BUS, "reprobe_cap_s": 0.2}
    bus = LockBus("wall", f"socket://127.0.0.1:{port}", "cu48", [0, 5], **options)
    log = EventLog()
    bus.subscribe(log)
    await bus.start()
    await log.wait(BoardDown, board=5)
    async with LockBusSimulator("cu48", [0, 5], **DOORS) as sim:
        await sim.start_tcp(port=port)
        await log.wait(BoardUp, board=0)
        await log.wait(BoardUp, board=5)
        await bus.unlock(5, 48)
        await log.wait(LockChanged, board=5, lock=48, new=UNLOCKED)
        await bus.stop()
