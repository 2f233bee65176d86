"""LockBus against the board simulator over a real pty: unlock, door events, priorities, timing."""

from __future__ import annotations

import asyncio

import pytest

from drivers.locks import (
    BoardBaseline,
    BoardSpec,
    BoardUp,
    BusBusy,
    LockBus,
    LockChanged,
    LockState,
    NoAnswer,
    PulseSent,
)
from simulators.locks import LockBusSimulator, SimBoard
from tests.locks.harness import FAST_BUS, EventLog, sim_and_bus

LOCKED, UNLOCKED = LockState(True), LockState(False)
DOORS = {"open_delay_s": 0.05, "close_after_s": 0.3}


async def polled(bus: LockBus, rounds: int, within: float = 5.0) -> None:
    """Until every board has answered `rounds` more status reads: the proof that time has passed on
    the bus (a fixed sleep would pass vacuously when the bus is merely slower than the sleep)."""

    def answered() -> list[int]:
        return [b.counters.requests - b.counters.timeouts for b in bus.snapshot().boards]

    start = answered()
    await EventLog().wait_until(
        lambda: all(now >= before + rounds for now, before in zip(answered(), start, strict=True)),
        within,
        f"{rounds} poll rounds",
    )


@pytest.mark.parametrize("protocol", ["cu16", "cu48"])
async def test_start_reports_baseline_and_never_unlocks(protocol: str) -> None:
    async with sim_and_bus(protocol, [0, 1, 2], sim_options=DOORS) as (sim, bus, log):
        assert await bus.wait_probed(2.0)
        for board in (0, 1, 2):
            baseline = await log.wait(BoardBaseline, board=board)
            assert baseline.status.locked() == list(range(1, 17 if protocol == "cu16" else 49))
        await polled(bus, rounds=3)  # several poll rounds after the baselines, whatever they took
        assert sim.unlock_requests() == 0
        assert not log.of(LockChanged) and not log.of(PulseSent)
        assert [type(e).__name__ for e in log.events[:2]] == ["BoardUp", "BoardBaseline"]
        snap = bus.snapshot()
        assert [b.availability.available for b in snap.boards] == [True, True, True]
        assert all(b.counters.requests >= 3 for b in snap.boards)


# Unlock frames for board 1, lock 3, computed by hand from the documented layouts:
# CU16 ADDR 12: 02+12+31+03 = 48; CU48 LOCKNUM 02: 02+01+02+51+03 = 59.
UNLOCK_FRAMES = {"cu16": bytes.fromhex("02 12 31 03 48"), "cu48": bytes.fromhex("02 01 02 51 03 59")}


@pytest.mark.parametrize("protocol", ["cu16", "cu48"])
async def test_unlock_then_person_opens_and_closes(protocol: str) -> None:
    async with sim_and_bus(protocol, [0, 1, 2], sim_options=DOORS) as (sim, bus, log):
        await bus.wait_probed(2.0)
        result = await bus.unlock(1, 3)
        assert (result.board, result.lock) == (1, 3)
        if protocol == "cu16":
            assert result.status is not None and result.status.board == 1  # CU16 answers an unlock
        else:
            assert result.status is None and result.reply_error is None  # CU48 never does
        opened = await log.wait(LockChanged, board=1, lock=3, new=UNLOCKED)
        closed = await log.wait(LockChanged, board=1, lock=3, new=LOCKED)
        pulse = log.of(PulseSent, board=1, lock=3)[0]
        assert pulse.at == result.sent_at < opened.at < closed.at
        assert opened.old == LOCKED and closed.old == UNLOCKED
        assert [f for _, f in sim.received if f == UNLOCK_FRAMES[protocol]] == [UNLOCK_FRAMES[protocol]]
        assert sim.unlock_requests() == 1
        assert len(log.of(LockChanged)) == 2  # nothing else moved


async def test_jammed_lock_stays_locked_and_is_not_pulsed_again() -> None:
    async with sim_and_bus("cu16", [0], sim_options=DOORS) as (sim, bus, log):
        sim.set_lock_faults(0, 5, jammed=True)
        await bus.wait_probed(2.0)
        await bus.unlock(0, 5)
        await bus.unlock(0, 6)  # a working lock pulsed after the jammed one: its door opens
        await log.wait(LockChanged, board=0, lock=6, new=UNLOCKED)  # so lock 5's would have opened by now
        await polled(bus, rounds=1)
        status = await bus.read_status(0)
        assert status.lock(5) == LOCKED
        assert not log.of(LockChanged, lock=5)
        assert sim.lock(0, 5).pulses == 1


async def test_forced_door_is_a_change_without_pulse() -> None:
    async with sim_and_bus("cu48", [0, 1], sim_options=DOORS) as (sim, bus, log):
        await bus.wait_probed(2.0)
        sim.open_door(1, 40)
        event = await log.wait(LockChanged, board=1, lock=40, new=UNLOCKED)
        assert event.old == LOCKED
        assert not log.of(PulseSent)
        await log.wait(LockChanged, board=1, lock=40, new=LOCKED)  # the door fell shut again


async def test_sensor_reading_open_does_not_block_the_pulse() -> None:
    async with sim_and_bus("cu16", [0], sim_options=DOORS) as (sim, bus, _log):
        sim.set_lock_faults(0, 2, sensor="stuck_unlocked")
        await bus.wait_probed(2.0)
        assert bus.snapshot().boards[0].status.lock(2) == UNLOCKED  # type: ignore[union-attr]
        await bus.unlock(0, 2)
        assert sim.lock(0, 2).pulses == 1
        assert await _log.wait_until(lambda: sim.door_states(0)[2], what="door 2 open")  # only the sensor is broken


async def test_unlock_jumps_ahead_of_queued_reads() -> None:
    options = {"poll_hz": None}
    async with sim_and_bus("cu16", [0, 1, 2], sim_options=DOORS, bus_options=options) as (sim, bus, _log):
        for board in (0, 1, 2):
            await bus.read_status(board)  # baselines taken
        before = len(sim.received)
        reads = [asyncio.create_task(bus.read_status(b)) for b in (0, 1, 2, 0, 1)]
        unlock = asyncio.create_task(bus.unlock(2, 1))
        await asyncio.gather(*reads, unlock)
        frames = [f for _, f in sim.received][before:]
        assert len(frames) == 6
        assert frames.index(bytes.fromhex("02 20 31 03 56")) <= 1  # 02+20+31+03 = 56


async def test_request_withdrawn_when_not_sent_in_time() -> None:
    # Board 1 is configured but absent: reading it keeps the line busy for its timeout and retry.
    async with sim_and_bus("cu16", [0], sim_options=DOORS, specs=[0, 1], bus_options={"poll_hz": None}) as (
        sim,
        bus,
        _log,
    ):
        await bus.read_status(0)
        silent = asyncio.create_task(bus.read_status(1))
        await asyncio.sleep(0.05)  # the read of board 1 is on the wire
        with pytest.raises(BusBusy):
            await bus.unlock(0, 1, wait_s=0.05)
        with pytest.raises(NoAnswer):
            await silent
        # an unlock jumps ahead of reads: had it stayed queued, it would go out before this read
        await bus.read_status(0)
        assert sim.unlock_requests() == 0  # withdrawn means never sent


async def test_inter_frame_gap_is_kept() -> None:
    # The simulated boards miss a request that starts < 5 ms after the last reply.
    sim_options = {**DOORS, "min_gap_s": 0.005}
    async with sim_and_bus("cu16", [0], sim_options=sim_options, bus_options={"gap_s": 0.0, "poll_hz": None}) as (
        sim,
        bus,
        _,
    ):
        for _ in range(5):
            await bus.read_status(0)
        assert sim.gap_violations > 0
        assert bus.snapshot().boards[0].counters.timeouts > 0
    async with sim_and_bus("cu16", [0], sim_options=sim_options, bus_options={"gap_s": 0.01, "poll_hz": None}) as (
        sim,
        bus,
        _,
    ):
        for _ in range(5):
            await bus.read_status(0)
        assert sim.gap_violations == 0
        assert bus.snapshot().boards[0].counters.timeouts == 0


async def test_input_is_flushed_before_each_command() -> None:
    async with sim_and_bus("cu16", [0], sim_options=DOORS, bus_options={"poll_hz": None}) as (sim, bus, _log):
        # A stale reply of board 0 claiming lock 1 unlocked sits in the input buffer
        # (02+00+35+FE+FF+00+00+03 = 0x237 -> 37); the fresh read must not be fooled by it.
        await bus.read_status(0)  # the port is open
        sim.inject(bytes.fromhex("02 00 35 FE FF 00 00 03 37"))
        await asyncio.sleep(0.05)
        status = await bus.read_status(0)
        assert status.lock(1) == LOCKED
        assert bus.snapshot().flushed_bytes == 9


async def test_polarity_and_item_sensors_end_to_end() -> None:
    boards = [SimBoard(0, 16, hook_locked_bit=0, item_sensors=True, **DOORS)]
    specs = [BoardSpec(0, locks=12, hook_locked_bit=0, item_sensors=True)]
    async with sim_and_bus("cu16", boards, specs=specs) as (sim, bus, log):
        sim.set_lock_faults(0, 4, item_present=True)
        status = await bus.read_status(0)
        assert len(status.locks) == 12
        assert status.locked() == list(range(1, 13))
        assert status.lock(4) == LockState(True, True) and status.lock(5) == LockState(True, False)
        await log.wait(BoardBaseline, board=0)
        sim.set_lock_faults(0, 4, item_present=False)  # the customer took the goods
        change = await log.wait(LockChanged, board=0, lock=4)
        assert (change.old, change.new) == (LockState(True, True), LockState(True, False))


async def test_subscriber_errors_do_not_stop_the_bus() -> None:
    async with sim_and_bus("cu16", [0], sim_options=DOORS) as (_sim, bus, log):

        def broken(event: object) -> None:
            raise RuntimeError("subscriber bug")

        unsubscribe = bus.subscribe(broken)
        await bus.unlock(0, 1)
        await log.wait(LockChanged, board=0, lock=1, new=UNLOCKED)
        unsubscribe()
        assert log.of(BoardUp, board=0)


async def test_wrong_numbers_are_refused() -> None:
    async with sim_and_bus("cu48", [0], sim_options=DOORS) as (sim, bus, _):
        with pytest.raises(ValueError, match="not configured"):
            await bus.unlock(4, 1)
        with pytest.raises(ValueError, match="locks 1-48"):
            await bus.unlock(0, 49)
        assert sim.unlock_requests() == 0


async def test_built_from_the_config_section() -> None:
    from station.config.locks import LockBusConfig

    async with LockBusSimulator("cu48", [SimBoard(4, 48, hook_locked_bit=0, **DOORS)], **DOORS) as sim:
        path = await sim.start_pty()
        config = LockBusConfig(
            port=path,
            protocol="cu48",
            timeout_ms=100,
            gap_ms=2,
            poll_hz=20,
            boards=[{"address": 4, "hook_locked_bit": 0}],
        )
        bus = LockBus.from_settings("wall", config)
        await bus.start()
        status = await bus.read_status(4)
        await bus.stop()
    assert status.locked() == list(range(1, 49))  # polarity taken from the config


async def test_restart_with_a_door_open_sends_nothing_and_reports_it_in_the_baseline() -> None:
    async with sim_and_bus("cu16", [0], sim_options={"open_delay_s": 0.0, "close_after_s": 30}) as (sim, bus, log):
        await bus.unlock(0, 6)
        await log.wait(LockChanged, board=0, lock=6, new=UNLOCKED)
        await bus.stop()  # the daemon restarts while the door stands open
        restarted = LockBus("wall", bus.url, "cu16", [0], **FAST_BUS)
        second = EventLog()
        restarted.subscribe(second)
        await restarted.start()
        baseline = await second.wait(BoardBaseline, board=0)
        await polled(restarted, rounds=3)
        await restarted.stop()
    assert baseline.status.unlocked() == [6]
    assert sim.unlock_requests() == 1  # only the one before the restart
    assert not second.of(LockChanged) and not second.of(PulseSent)
