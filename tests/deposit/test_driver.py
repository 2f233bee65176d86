"""The driver against the simulated machine over a real socket: status, commands exactly once, acks, availability."""

from __future__ import annotations

import pytest
from pymodbus.simulator import DataType, SimData, SimDevice

from deposit import (
    Command,
    CommandRefused,
    CommandResult,
    CommandTimeout,
    DepositMachine,
    Fault,
    ProtocolError,
    State,
)
from drivers.fridge import load_map
from drivers.modbus import LineSettings, ModbusExceptionResponse, ModbusLine, NoResponse
from simulators.deposit import CATALOGUE, SimulatedDepositMachine
from simulators.fridge import FridgeBusSimulator

from .conftest import FAST, UNIT


async def test_fresh_machine_status(start_line, driver) -> None:
    _sim, url = await start_line()
    status = await driver(url).read_status()
    assert (status.proto_version, status.state, status.faults, status.session_id) == (1, State.READY, Fault(0), 0)
    assert (status.evt_pending, status.fifo_capacity, status.boot_count, status.head) == (0, 32, 1, None)


async def test_open_and_close_session(start_line, driver) -> None:
    sim, url = await start_line()
    machine, deposit = sim.machine(UNIT), driver(url)
    opened = await deposit.open_session()
    assert opened.state is State.SESSION and opened.session_id == 1 and machine.session_open
    machine.insert(CATALOGUE[0])
    summary = await deposit.read_summary()
    assert summary.session_open and summary.evt_pending == 1 and summary.head == machine.ledger[0]
    closed = await deposit.close_session()
    assert closed.state is State.READY and not closed.session_open and closed.evt_pending == 1
    assert (closed.cmd_seq, closed.cmd_done_seq, closed.cmd_result) == (2, 2, CommandResult.DONE)


async def test_lost_command_reply_executes_once(start_line, driver) -> None:
    sim, url = await start_line()
    machine, deposit = sim.machine(UNIT), driver(url)
    machine.faults.lose_write_replies = 2  # both attempts of the line: the driver gets NoResponse for the write
    outcome = await deposit.send_command(Command.OPEN_SESSION)
    assert (outcome.result, outcome.writes) == (CommandResult.DONE, 1)  # HR 21 showed it arrived: not rewritten
    assert machine.stats.commands_executed == 1 and machine.stats.command_writes_ignored == 1  # the line's retry
    assert machine.session_id == 1


async def test_lost_command_request_is_written_again_with_the_same_seq(start_line, driver) -> None:
    sim, url = await start_line()
    machine, deposit = sim.machine(UNIT), driver(url)
    machine.faults.lose_write_requests = 2  # never arrived (both attempts)
    outcome = await deposit.send_command(Command.OPEN_SESSION)
    assert (outcome.seq, outcome.writes, outcome.result) == (1, 2, CommandResult.DONE)
    assert machine.stats.commands_executed == 1 and machine.session_id == 1


async def test_sequence_continues_from_the_machine_after_a_host_restart(start_line, driver) -> None:
    sim, url = await start_line()
    await driver(url).send_command(Command.OPEN_SESSION)
    await driver(url).send_command(Command.CANCEL_SESSION)  # a new driver knows nothing: it reads HR 21
    outcome = await driver(url).send_command(Command.OPEN_SESSION)
    assert outcome.seq == 3 and sim.machine(UNIT).session_id == 2


async def test_slow_command_is_waited_for(start_line, driver) -> None:
    sim, url = await start_line()
    machine, deposit = sim.machine(UNIT), driver(url)
    machine.faults.command_delay_s = 0.15
    outcome = await deposit.send_command(Command.OPEN_SESSION)
    assert outcome.result is CommandResult.DONE and machine.session_open


async def test_command_timeout_then_next_command_waits_for_it(start_line, driver) -> None:
    sim, url = await start_line()
    machine, deposit = sim.machine(UNIT), driver(url)
    machine.faults.command_delay_s = 0.6
    deposit.command_timeout_s = 0.2
    with pytest.raises(CommandTimeout, match=r"open_session \(seq 1\) not done within 0.2 s"):
        await deposit.send_command(Command.OPEN_SESSION)
    machine.faults.command_delay_s = 0.0
    deposit.command_timeout_s = 2.0
    outcome = await deposit.send_command(Command.CLOSE_SESSION)  # waits for seq 1 first, then sends seq 2
    assert (outcome.seq, outcome.result) == (2, CommandResult.DONE)
    assert machine.stats.commands_executed == 2 and not machine.session_open


async def test_refused_commands(start_line, driver) -> None:
    sim, url = await start_line()
    machine, deposit = sim.machine(UNIT), driver(url)
    assert (await deposit.send_command(Command.CLOSE_SESSION)).result is CommandResult.WRONG_STATE
    assert (await deposit.send_command(99)).result is CommandResult.UNKNOWN_COMMAND  # type: ignore[arg-type]
    await deposit.open_session()
    machine.insert(CATALOGUE[0])
    await deposit.close_session()
    with pytest.raises(CommandRefused, match="open_session refused: fifo_not_empty") as refused:
        await deposit.open_session()
    assert refused.value.result is CommandResult.FIFO_NOT_EMPTY


async def test_stale_ack_and_lost_ack_reply_remove_one_event_each(start_line, driver) -> None:
    sim, url = await start_line()
    machine, deposit = sim.machine(UNIT), driver(url)
    await deposit.open_session()
    for container in CATALOGUE[:3]:
        machine.insert(container)
    machine.faults.lose_write_replies = 1  # the line retries the ack: the second one is stale
    await deposit.ack_event(1)
    await deposit.ack_event(1)
    await deposit.ack_event(3)  # not the oldest: ignored
    status = await deposit.read_status()
    assert status.evt_pending == 2 and status.head is not None and status.head.seq == 2 and status.last_ack == 1
    assert machine.stats.acks_applied == 1 and machine.stats.acks_ignored == 3


async def test_silent_machine_is_unavailable_and_fridges_still_answer(start_line, driver) -> None:
    sim, url = await start_line(fridge_units=[1, 2])
    machine, deposit = sim.machine(UNIT), driver(url)
    assert (await deposit.read_status()).state is State.READY and deposit.available
    machine.faults.silent = True
    with pytest.raises(NoResponse, match="unit 10 read holding 0x0000\\+32: no answer"):
        await deposit.read_status()
    snapshot = deposit.snapshot()
    assert snapshot.available is False and "no answer" in str(snapshot.last_error)
    assert snapshot.name == "deposit machine test on modbus line test"
    assert len(await deposit.line.read_holding(1, 0x0100, 2)) == 2  # same line, other unit
    machine.faults.silent = False
    await deposit.read_status()
    assert deposit.available


async def test_machine_plugs_into_the_plain_fridge_line_simulator(cleanup) -> None:
    """The deposit device is an ordinary SimDevice: FridgeBusSimulator serves it next to its controllers."""
    machine = SimulatedDepositMachine(12)
    sim = FridgeBusSimulator(load_map("dixell-xr"), [1, 3], extra_devices=[machine.device()])
    cleanup.append(sim)
    url = await sim.start_tcp()
    line = ModbusLine("shared", LineSettings(port=url, **FAST))
    cleanup.append(line)
    deposit = DepositMachine("rvm", line, 12, command_poll_s=0.01)
    await deposit.open_session()
    machine.insert(CATALOGUE[2])
    assert (await deposit.read_oldest_event()) == machine.ledger[0]
    assert len(await line.read_holding(3, 0x0100, 2)) == 2


async def test_a_device_speaking_another_version_is_a_protocol_error(cleanup) -> None:
    registers = [0] * 32
    registers[0] = 2
    other = SimDevice(id=5, simdata=[SimData(0, values=registers, datatype=DataType.REGISTERS)])
    sim = FridgeBusSimulator(load_map("dixell-xr"), [], extra_devices=[other])
    cleanup.append(sim)
    line = ModbusLine("t", LineSettings(port=await sim.start_tcp(), **FAST))
    cleanup.append(line)
    with pytest.raises(ProtocolError, match="interface version 2, this host speaks 1"):
        await DepositMachine("x", line, 5).read_status()


async def test_bin_full_and_faults_refuse_a_session(start_line, driver) -> None:
    sim, url = await start_line()
    machine, deposit = sim.machine(UNIT), driver(url)
    machine.set_condition(Fault.BIN_FULL)
    status = await deposit.read_status()
    assert status.state is State.BIN_FULL and status.faults == Fault.BIN_FULL
    assert (await deposit.send_command(Command.OPEN_SESSION)).result is CommandResult.WRONG_STATE
    machine.empty_bin()
    machine.set_condition(Fault.DOOR_OPEN)
    status = await deposit.read_status()
    assert status.state is State.FAULT and status.fault_names() == ["door_open"]
    assert (await deposit.send_command(Command.RESET_FAULTS)).result is CommandResult.FAULT_PRESENT
    machine.set_condition(Fault.DOOR_OPEN, on=False)
    await deposit.command(Command.OUT_OF_ORDER)
    assert (await deposit.read_status()).state is State.OUT_OF_ORDER
    await deposit.command(Command.BACK_IN_SERVICE)
    assert (await deposit.open_session()).state is State.SESSION


async def test_read_only_and_unmapped_registers_answer_exception_02(start_line, driver) -> None:
    sim, url = await start_line()
    deposit = driver(url)
    for address in (0, 4, 22, 31):
        with pytest.raises(ModbusExceptionResponse) as refused:
            await deposit.line.write_register(UNIT, address, 1)
        assert refused.value.code == 2
    with pytest.raises(ModbusExceptionResponse) as refused:
        await deposit.line.write_registers(UNIT, 12, [5, 5])  # HR 12 read-only, HR 13 writable: nothing written
    assert refused.value.code == 2
    with pytest.raises(ModbusExceptionResponse) as refused:
        await deposit.line.read_holding(UNIT, 30, 3)  # HR 32 does not exist
    assert refused.value.code == 2
    status = await deposit.read_status()
    assert (status.proto_version, status.evt_pending, status.last_ack, status.cmd_seq) == (1, 0, 0, 0)
    assert sim.machine(UNIT).stats.acks_applied + sim.machine(UNIT).stats.acks_ignored == 0


def test_unit_must_be_valid() -> None:
    line = ModbusLine("t", LineSettings(port="loop://"))
    with pytest.raises(ValueError, match="1-247"):
        DepositMachine("x", line, 0)
