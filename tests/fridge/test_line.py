"""The shared Modbus line: golden frames, typed errors, retries, availability, reconnect, serialisation."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from pymodbus.framer.rtu import FramerRTU
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.fridge import RegisterMap
from drivers.modbus import LineUnavailable, ModbusExceptionResponse, NoResponse

from .conftest import Recorder


def _plain_device(unit: int) -> SimDevice:
    """A bare device: HR 0x0100 holds the reference value 0xFFDD; coils/DI/IR for the other functions."""
    return SimDevice(
        id=unit,
        simdata=(
            [SimData(16, values=[True, False, True] + [False] * 13, datatype=DataType.BITS)],
            [SimData(32, values=[False, True] + [False] * 14, datatype=DataType.BITS)],
            [
                SimData(0x0100, values=[0xFFDD, 45, 0], datatype=DataType.REGISTERS),
                SimData(10, count=4, values=0, datatype=DataType.REGISTERS),
            ],
            [SimData(0x0200, values=[7, 8], datatype=DataType.REGISTERS)],
        ),
    )


def test_crc_check_value_of_the_reference() -> None:
    # hardware.md §6.4: CRC-16/MODBUS of "123456789" is 0x4B37, sent low byte first
    assert FramerRTU.compute_CRC(b"123456789").to_bytes(2, "big") == bytes([0x37, 0x4B])


@pytest.mark.parametrize("transport", ["tcp", "pty"])
async def test_golden_read_frame_and_reply(start_bus, open_line, recorder: Recorder, dixell, transport) -> None:
    sim, url = await start_bus(dixell, [], transport=transport, extra_devices=[_plain_device(1)])
    line = open_line(url, trace=recorder)
    assert await line.read_holding(1, 0x0100, 1) == [0xFFDD]
    # hardware.md §6.4, byte-exact on both sides of the wire
    request, reply = bytes.fromhex("01 03 01 00 00 01 85 F6"), bytes.fromhex("01 03 02 FF DD 39 ED")
    assert recorder.exchanges() == [(request, reply)]
    device_side = [(d, b) for _t, d, b in sim.frames]
    assert b"".join(b for d, b in device_side if d == "rx") == request
    assert [b for d, b in device_side if d == "tx"] == [reply]


async def test_every_function_code(start_bus, open_line, dixell) -> None:
    _sim, url = await start_bus(dixell, [], extra_devices=[_plain_device(4)])
    line = open_line(url)
    assert await line.read_input(4, 0x0200, 2) == [7, 8]
    assert await line.read_coils(4, 16, 3) == [True, False, True]
    assert await line.read_discrete(4, 32, 2) == [False, True]
    await line.write_register(4, 10, 0xBEEF)
    await line.write_registers(4, 11, [1, 2, 3])
    assert await line.read_holding(4, 10, 4) == [0xBEEF, 1, 2, 3]
    await line.write_coil(4, 17, True)
    assert await line.read_coils(4, 16, 3) == [True, True, True]


async def test_unmapped_register_gives_exception_02_with_a_clear_message(start_bus, open_line, dixell) -> None:
    _sim, url = await start_bus(dixell, [1])
    line = open_line(url)
    with pytest.raises(ModbusExceptionResponse) as info:
        await line.read_holding(1, 0x0400, 1)
    error = info.value
    assert error.code == 2 and error.unit == 1 and error.request is not None and error.request.address == 0x0400
    assert str(error) == (
        "test unit 1 read holding 0x0400: exception 02 (illegal data address): the register is not mapped "
        "on this device: check the register map for this model and firmware"
    )
    assert line.unit_snapshot(1).available is True  # it answered: alive, just refusing


async def test_wrong_calls_are_rejected_before_the_wire(start_bus, open_line, recorder, dixell) -> None:
    _sim, url = await start_bus(dixell, [1])
    line = open_line(url, trace=recorder)
    for call in (
        line.read_holding(0, 0x0100, 1),
        line.read_holding(248, 0x0100, 1),
        line.read_holding(1, 0x0100, 0),
        line.read_holding(1, 0x0100, 126),
        line.read_holding(1, 0xFFFF, 2),
        line.write_register(1, 863, 70000),
        line.write_register(1, 863, -1),
    ):
        with pytest.raises(ValueError):
            await call
    assert recorder.events == []


async def test_silent_unit_is_retried_then_down_then_back(start_bus, open_line, recorder, dixell, caplog) -> None:
    sim, url = await start_bus(dixell, [1, 2])
    line = open_line(url, trace=recorder, retries=2)
    sim.controller(2).faults.silent = True
    caplog.set_level(logging.INFO, logger="drivers.modbus.line")
    for _ in range(3):
        with pytest.raises(NoResponse, match=r"unit 2 read holding 0x0100: no answer within 150 ms \(3 attempts\)"):
            await line.read_holding(2, 0x0100, 1)
    assert len(recorder.sent()) == 9  # 1 + 2 retries, three times
    assert line.unit_snapshot(2).available is False and line.unit_snapshot(2).failures == 3
    assert await line.read_holding(1, 0x0100, 1)  # the neighbour answers meanwhile
    sim.controller(2).faults.silent = False
    assert await line.read_holding(2, 0x0100, 1)
    assert line.unit_snapshot(2).available is True
    messages = [r.getMessage() for r in caplog.records if "unit 2" in r.getMessage()]
    assert messages == [
        "unit 2 on modbus line test is down: no answer within 150 ms (3 attempts)",
        "unit 2 on modbus line test is back",
    ]


async def test_absent_unit_broken_crc_and_truncated_reply_count_as_no_answer(start_bus, open_line, dixell) -> None:
    sim, url = await start_bus(dixell, [1])
    line = open_line(url, retries=0)
    with pytest.raises(NoResponse):
        await line.read_holding(9, 0x0100, 1)  # nobody on the bus has id 9
    sim.controller(1).faults.corrupt_crc = True
    with pytest.raises(NoResponse):
        await line.read_holding(1, 0x0100, 1)
    sim.controller(1).faults.corrupt_crc = False
    sim.controller(1).faults.truncate_reply = True
    with pytest.raises(NoResponse):
        await line.read_holding(1, 0x0100, 2)
    sim.controller(1).faults.truncate_reply = False
    assert len(await line.read_holding(1, 0x0100, 2)) == 2


@pytest.mark.parametrize("transport", ["tcp", "pty"])
@pytest.mark.parametrize("noise", ["00", "FF", "FF 00 7E", "01 01 03", "01 03 01"])
async def test_noise_before_a_reply_is_skipped(start_bus, open_line, dixell, noise, transport) -> None:
    # pymodbus alone loses these replies: the noise parses as a frame header whose CRC then fails
    sim, url = await start_bus(dixell, [1], transport=transport)
    line = open_line(url, retries=0)
    sim.controller(1).faults.garbage_before_reply = bytes.fromhex(noise)
    assert await line.read_holding(1, 0x0500, 3) == [0, 0, 0]
    with pytest.raises(ModbusExceptionResponse):
        await line.read_holding(1, 0x0400, 1)


async def test_late_reply_is_dropped_not_taken_for_a_later_request(start_bus, open_line, dixell) -> None:
    sim, url = await start_bus(dixell, [1, 2])
    line = open_line(url, retries=0, timeout_ms=100)
    sim.controller(1).faults.reply_delay_s = 0.2
    with pytest.raises(NoResponse):
        await line.read_holding(1, 0x0100, 2)
    sim.controller(1).faults.reply_delay_s = 0.0
    assert len(await line.read_holding(2, 0x0500, 3)) == 3
    # until the 2-register reply (byte count 04) to the timed-out request has gone out, while the line is idle
    for _ in range(300):
        if any(way == "tx" and frame[1:3] == bytes.fromhex("03 04") for _, way, frame in sim.frames):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the late reply was never sent")
    # a leaked stale reply would be taken as this answer and fail the 3-register length check
    assert len(await line.read_holding(1, 0x0500, 3)) == 3
    assert line.stats["no_response"] == 1


async def test_gap_between_frames_is_kept(start_bus, open_line, dixell) -> None:
    _sim, url = await start_bus(dixell, [1])
    stamps: list[tuple[float, str]] = []
    line = open_line(url, gap_ms=30, trace=lambda direction, _data: stamps.append((time.monotonic(), direction)))
    for _ in range(4):
        await line.read_holding(1, 0x0100, 1)
    sends = [t for t, d in stamps if d == "tx"]
    replies = [t for t, d in stamps if d == "rx"]
    gaps = [sends[i + 1] - replies[i] for i in range(3)]
    assert min(gaps) >= 0.029


async def test_missing_port_backs_off_then_connects(start_bus, open_line, dixell) -> None:
    sim, url = await start_bus(dixell, [1])
    await sim.stop()  # the port is gone: nothing listens any more
    line = open_line(url, reconnect_min_s=0.5, reconnect_max_s=1.0)
    with pytest.raises(LineUnavailable, match="test unit 1 read holding 0x0100: "):
        await line.read_holding(1, 0x0100, 1)
    assert line.availability.available is False and line.unit_snapshot(1).available is False
    with pytest.raises(LineUnavailable, match="next try in"):
        await line.read_holding(1, 0x0100, 1)  # within the backoff: no new attempt
    assert line.stats["reconnects"] == 1
    port = int(url.rsplit(":", 1)[1])
    await sim.start_tcp(port=port)
    await asyncio.sleep(0.55)
    assert len(await line.read_holding(1, 0x0100, 1)) == 1
    assert line.availability.available is True and line.unit_snapshot(1).available is True


async def test_missing_serial_device_is_line_unavailable(open_line) -> None:
    line = open_line("/dev/pts/does-not-exist")
    with pytest.raises(LineUnavailable, match="/dev/pts/does-not-exist"):
        await line.read_holding(1, 0x0100, 1)
    assert await line.connect() is False


async def test_dropped_connection_reconnects(start_bus, open_line, dixell) -> None:
    sim, url = await start_bus(dixell, [1])
    line = open_line(url, reconnect_min_s=0.05, reconnect_max_s=0.1)
    assert await line.read_holding(1, 0x0100, 1)
    await sim.stop()
    await asyncio.sleep(0.05)
    with pytest.raises(LineUnavailable):
        await line.read_holding(1, 0x0100, 1)
    await sim.start_tcp(port=int(url.rsplit(":", 1)[1]))
    for _ in range(20):
        await asyncio.sleep(0.05)
        try:
            await line.read_holding(1, 0x0100, 1)
            break
        except LineUnavailable:
            continue
    assert line.connected and line.availability.available is True


async def test_modbus_tcp_gateway(dixell, open_line, cleanup) -> None:
    from simulators.fridge import FridgeBusSimulator

    sim = FridgeBusSimulator(dixell, [5], extra_devices=[_plain_device(6)])
    cleanup.append(sim)
    address = await sim.start_tcp(framer="socket")
    line = open_line(tcp=address)
    assert await line.read_holding(6, 0x0100, 1) == [0xFFDD]
    sim.controller(5).faults.silent = True
    for _ in range(4):  # pymodbus would drop a TCP connection after a few silent requests; the line must not
        with pytest.raises(NoResponse):
            await line.read_holding(5, 0x0100, 1)
    assert await line.read_holding(6, 0x0100, 1) == [0xFFDD]


def _rvm_device(unit: int) -> SimDevice:
    """Deposit machine registers of hardware.md §3.3 (HR 0-22), as a second kind of device on the line."""
    return SimDevice(id=unit, simdata=[SimData(0, values=[1] + [0] * 22, datatype=DataType.REGISTERS)])


@pytest.mark.parametrize("transport", ["pty", "tcp"])
async def test_two_drivers_on_one_line_never_interleave(start_bus, open_line, dixell: RegisterMap, transport) -> None:
    from drivers.fridge import FridgeController

    sim, url = await start_bus(dixell, [1, 2, 3], transport=transport, extra_devices=[_rvm_device(9)])
    line = open_line(url)
    fridges = [FridgeController(f"k{u}", line, u, dixell) for u in (1, 2, 3)]

    async def fridge_driver() -> None:
        for _ in range(5):
            await asyncio.gather(*(f.read() for f in fridges))

    async def deposit_driver() -> None:
        for seq in range(10):
            assert (await line.read_holding(9, 0, 6))[0] == 1
            await line.write_register(9, 21, seq)

    await asyncio.gather(fridge_driver(), deposit_driver(), deposit_driver())
    # Device side: the bytes received between two replies are always exactly one request frame,
    # so a request never went out while another was waiting for its reply.
    requests: list[bytes] = [b""]
    for _t, direction, data in sim.frames:
        if direction == "rx":
            requests[-1] += data
        else:
            requests.append(b"")
    requests = [r for r in requests if r]
    assert len(requests) == 5 * 3 * 3 + 2 * 10 * 2
    assert all(len(r) == 8 for r in requests)  # FC03 and FC06 requests are 8 bytes each
    assert {r[0] for r in requests} == {1, 2, 3, 9}
