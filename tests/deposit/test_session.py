"""Return sessions end to end: shopper → simulated machine → wire → driver → host; nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import random

import pytest

from deposit import Command, CommandResult, Fault, State
from drivers.modbus import NoResponse
from simulators.deposit import CATALOGUE, InsertResult, Shopper, SimulatedDepositMachine

from .conftest import UNIT
from .host import Host, retry


async def _poll_fridge(line, unit: int, stop: asyncio.Event) -> int:
    """Another driver on the same line: read a fridge probe until told to stop; returns the reads done."""
    reads = 0
    while not stop.is_set():
        await line.read_holding(unit, 0x0100, 2)
        reads += 1
        await asyncio.sleep(0.002)
    return reads


@pytest.mark.parametrize("transport", ["tcp", "pty"])
async def test_twenty_containers_with_lost_acks_and_retried_reads(start_line, driver, transport: str) -> None:
    machine = SimulatedDepositMachine(UNIT, fifo_capacity=16, seed=3)
    _sim, url = await start_line(machine, transport=transport, fridge_units=[1])
    deposit = driver(url)
    host = Host(deposit)
    machine.faults.lose_reply_probability = 0.2  # seeded: any reply of the machine lost after it took effect
    faults = {
        4: lambda: setattr(machine.faults, "lose_write_replies", 2),  # an ack lands, both replies lost
        # An ack never lands, so the same event is read again. Three, not two: if the knob catches the line's
        # second attempt of an ack in flight, the next ack still loses both of its attempts.
        9: lambda: setattr(machine.faults, "lose_write_requests", 3),
        14: lambda: setattr(machine.faults, "lose_read_replies", 2),  # a FIFO read fails twice: read again
    }

    def inject(index: int, _result: InsertResult) -> None:
        if index in faults:
            faults[index]()

    shopper = Shopper(machine, random.Random(11))
    containers = shopper.pick(20)
    feeding = asyncio.create_task(shopper.feed(containers, pace_s=0.004, after_each=inject))
    stop = asyncio.Event()
    fridge = asyncio.create_task(_poll_fridge(deposit.line, 1, stop))
    await host.run_session(feeding)
    stop.set()
    report = feeding.result()

    assert report.accepted == containers and report.ended == "all inserted"
    assert host.persisted == machine.ledger  # same events, same order: none lost, none doubled
    assert len({event.key for event in host.persisted}) == 20 and {e.session_id for e in host.persisted} == {1}
    assert [(e.gtin, e.kind, e.deposit_cents) for e in host.persisted] == [
        (c.gtin, c.kind, c.deposit_cents) for c in containers
    ]
    assert host.cursor.stats.reread >= 1 and host.cursor.stats.ack_unanswered >= 2
    assert machine.stats.acks_ignored >= 1 and machine.stats.replies_lost >= 6
    status = await retry(deposit.read_status)
    assert status.state is State.READY and status.evt_pending == 0
    assert status.counters.session_accepted == 20
    assert status.counters.session_deposit_cents == sum(e.deposit_cents for e in host.persisted)
    assert await fridge > 0  # the fridge unit on the same line was polled all along


async def test_fifo_full_makes_the_shopper_wait(start_line, driver) -> None:
    machine = SimulatedDepositMachine(UNIT, fifo_capacity=16)
    _sim, url = await start_line(machine)
    host = Host(driver(url))
    await host.command(Command.OPEN_SESSION)
    shopper = Shopper(machine, random.Random(2))
    containers = shopper.pick(20)
    feeding = asyncio.create_task(shopper.feed(containers))
    while len(machine.fifo) < 16:
        await machine.wait_change(1.0)
    assert machine.begin_insert(CATALOGUE[0]) is InsertResult.FIFO_FULL
    status = await host.deposit.read_status()
    assert status.fifo_full and status.state is State.SESSION
    while not feeding.done():
        await host.drain()
        await machine.wait_change(0.05)
    await host.command(Command.CLOSE_SESSION)
    await host.drain()
    assert feeding.result().accepted == containers and host.persisted == machine.ledger


async def test_restart_between_persist_and_ack_does_not_double(start_line, driver) -> None:
    machine = SimulatedDepositMachine(UNIT)
    _sim, url = await start_line(machine)
    first = Host(driver(url))
    await first.command(Command.OPEN_SESSION)
    for container in CATALOGUE[:4]:
        machine.insert(container)
    await first.cursor.step()
    machine.faults.lose_write_requests = 2  # the host "crashes": event 2 persisted, its ack never lands
    await first.cursor.step()
    assert [e.seq for e in first.persisted] == [1, 2] and len(machine.fifo) == 3

    restarted = Host(driver(url), last_persisted=first.persisted[-1].key)  # key read back from the database
    await restarted.drain()
    assert [e.seq for e in restarted.persisted] == [3, 4] and restarted.cursor.stats.reread == 1
    assert first.persisted + restarted.persisted == machine.ledger


@pytest.mark.parametrize("fifo_survives", [True, False])
async def test_power_loss_mid_session(start_line, driver, fifo_survives: bool) -> None:
    machine = SimulatedDepositMachine(UNIT)
    machine.faults.fifo_survives_power_loss = fifo_survives
    _sim, url = await start_line(machine)
    deposit = driver(url)
    host = Host(deposit)
    await host.command(Command.OPEN_SESSION)
    before = await deposit.read_status()
    for container in CATALOGUE[:6]:
        machine.insert(container)
    for _ in range(3):
        await host.cursor.step()
    assert machine.begin_insert(CATALOGUE[6]) is InsertResult.ACCEPTED  # in transport when the power goes
    machine.power_off()
    with pytest.raises(NoResponse):
        await deposit.read_status()
    assert deposit.snapshot().available is False
    machine.power_on()

    after = await deposit.read_status()
    assert deposit.available and after.boot_count == before.boot_count + 1  # the host sees the restart
    assert after.state is State.READY and not after.session_open  # a power loss always ends the session
    assert machine.uncredited == [CATALOGUE[6]]  # never credited, so never an event
    await host.drain()
    # Reconciliation: what the machine counted for the session against what the host persisted.
    accepted = after.counters.session_accepted
    assert accepted == 6 and after.counters.accepted_total - before.counters.accepted_total == 6
    if fifo_survives:
        assert host.persisted == machine.ledger and Fault.EVENTS_LOST not in after.faults
    else:
        assert Fault.EVENTS_LOST in after.faults and after.evt_pending == 0
        missing = accepted - len(host.persisted)
        assert missing == 3 and machine.lost_events == machine.ledger[3:]
        missing_cents = after.counters.session_deposit_cents - sum(e.deposit_cents for e in host.persisted)
        assert missing_cents == sum(e.deposit_cents for e in machine.lost_events)
        assert (await host.command(Command.RESET_FAULTS)).result is CommandResult.DONE
        assert Fault.EVENTS_LOST not in (await deposit.read_status()).faults
    assert (await host.command(Command.OPEN_SESSION)).result is CommandResult.DONE
    assert (await deposit.read_status()).session_id == 2


@pytest.mark.parametrize(("fault", "state"), [(Fault.BIN_FULL, State.BIN_FULL), (Fault.JAM, State.FAULT)])
async def test_bin_full_or_jam_mid_session(start_line, driver, fault: Fault, state: State) -> None:
    machine = SimulatedDepositMachine(UNIT, bin_capacity=5 if fault is Fault.BIN_FULL else None)
    _sim, url = await start_line(machine)
    deposit = driver(url)
    host = Host(deposit)
    shopper = Shopper(machine, random.Random(5))
    containers = shopper.pick(8)

    def jam_after_fourth(index: int, _result: InsertResult) -> None:
        if fault is Fault.JAM and index == 3:
            machine.set_condition(Fault.JAM)

    feeding = asyncio.create_task(shopper.feed(containers, after_each=jam_after_fourth))
    await host.run_session(feeding)
    report = feeding.result()
    credited = 5 if fault is Fault.BIN_FULL else 4
    assert len(report.accepted) == credited and report.not_inserted == containers[credited:]
    assert report.ended == f"session ended ({state.name.lower()})"
    assert host.persisted == machine.ledger and len(host.persisted) == credited
    status = await deposit.read_status()
    assert status.state is state and fault in status.faults and status.evt_pending == 0
    assert (await host.command(Command.OPEN_SESSION)).result is CommandResult.WRONG_STATE


async def test_sequence_numbers_wrap_without_confusing_the_host(start_line, driver) -> None:
    machine = SimulatedDepositMachine(UNIT, last_seq=65533, last_session=65535)
    _sim, url = await start_line(machine)
    host = Host(driver(url))
    await host.command(Command.OPEN_SESSION)
    for container in CATALOGUE[:5]:
        machine.insert(container)
    await host.drain()
    assert [e.key for e in host.persisted] == [(1, 65534), (1, 65535), (1, 1), (1, 2), (1, 3)]
    assert host.persisted == machine.ledger


async def _random_run(start_line, driver, seed: int) -> None:
    """Random reply loss, power cycles at random containers, FIFO kept: what went in is what the host has."""
    rng = random.Random(seed)
    machine = SimulatedDepositMachine(UNIT, fifo_capacity=16, seed=seed)
    machine.faults.lose_reply_probability = rng.choice([0.0, 0.1, 0.3])
    _sim, url = await start_line(machine)
    host = Host(driver(url))
    shopper = Shopper(machine, random.Random(seed))
    for _session in range(3):
        containers = shopper.pick(rng.randint(1, 25), reject_rate=0.1)
        cut = rng.randrange(len(containers) + 5)

        def maybe_power_cycle(index: int, _result: InsertResult, cut: int = cut) -> None:
            if index == cut:
                machine.power_cycle()

        feeding = asyncio.create_task(shopper.feed(containers, after_each=maybe_power_cycle))
        await host.run_session(feeding)
    assert host.persisted == machine.ledger
    assert len({e.key for e in host.persisted}) == len(host.persisted)


async def test_random_faults_fixed_seed(start_line, driver) -> None:
    await _random_run(start_line, driver, seed=1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2, 42))
async def test_random_faults_many_seeds(start_line, driver, seed: int) -> None:
    await _random_run(start_line, driver, seed)
