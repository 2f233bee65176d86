"""FridgeController against the simulator: readings follow the thermal model; faults look like faults."""

from __future__ import annotations

import itertools

import pytest

from drivers.fridge import FridgeController, WriteRefused, parse_map
from drivers.modbus import ModbusExceptionResponse, NoResponse
from simulators.fridge import ThermalParams

from .conftest import map_document

TOLERANCE_K = 0.3  # simulator noise sigma 0.05 K (5 sigma) plus the 0.1 K register resolution


async def _fridge(start_bus, open_line, register_map, units, transport="pty", unit=1, **kw):
    sim, url = await start_bus(register_map, units, transport=transport, **kw)
    line = open_line(url)
    return sim, FridgeController(f"k{unit}", line, unit, register_map)


@pytest.mark.parametrize("transport", ["pty", "tcp"])
async def test_readings_track_the_thermal_model(start_bus, open_line, dixell, transport) -> None:
    sim, fridge = await _fridge(start_bus, open_line, dixell, {1: ThermalParams(initial_c=10.0)}, transport)
    truth = sim.controller(1)
    seen = []
    for _ in range(8):
        reading = await fridge.read()
        assert reading.product_celsius == pytest.approx(truth.air_c, abs=TOLERANCE_K)
        assert reading.setpoint_c == 4.0 and reading.defrost_active is False
        seen.append(reading.product_celsius)
        sim.advance(60)
    assert seen[0] == pytest.approx(10.0, abs=TOLERANCE_K)
    assert seen[-1] < seen[0] - 1.5  # the compressor pulls down towards the setpoint
    assert reading.flags["compressor_on"] is True
    assert reading.probes["probe2"].celsius < reading.product_celsius  # evaporator colder while cooling
    assert set(reading.probes) == {"probe1", "probe2"}  # probe3 is not fitted by default
    assert fridge.snapshot().available is True


async def test_freezer_reads_negative_tenths(start_bus, open_line, dixell) -> None:
    _sim, fridge = await _fridge(start_bus, open_line, dixell, {2: ThermalParams.freezer()}, unit=2)
    reading = await fridge.read()
    assert reading.product_celsius == pytest.approx(-20.0, abs=TOLERANCE_K)
    assert reading.product.raw is not None and reading.product.raw > 0x8000  # negative on the wire
    assert reading.setpoint_c == -20.0


async def test_defrost_peak_is_visible_with_the_defrost_flag(start_bus, open_line, dixell) -> None:
    sim, fridge = await _fridge(start_bus, open_line, dixell, [1])
    sim.controller(1).start_defrost(1200)
    during = []
    for _ in range(10):  # 20 min in 2-min steps
        sim.advance(120)
        reading = await fridge.read()
        if reading.defrost_active:
            during.append(reading.product_celsius)
    assert len(during) == 9  # the last step ends the defrost
    assert max(during) > 4.0 + 2.5 and during == sorted(during)  # the peak builds while the heater runs
    assert reading.defrost_active is False
    sim.advance(900)
    after = await fridge.read()
    assert after.defrost_active is False and after.product_celsius < max(during) - 2.0


async def test_compressor_failure_warms_slowly(start_bus, open_line, dixell) -> None:
    sim, fridge = await _fridge(start_bus, open_line, dixell, [1])
    sim.controller(1).fail_compressor()
    temps = []
    for _ in range(12):  # one hour in 5-min steps
        sim.advance(300)
        reading = await fridge.read()
        temps.append(reading.product_celsius)
    assert all(b > a - 0.2 for a, b in itertools.pairwise(temps))
    assert temps[1] - 4.0 < 2.0  # slow: under 2 K in the first 10 minutes
    assert temps[-1] > 4.0 + 3.0 and reading.flags["compressor_on"] is True  # demand is there, cold is not
    sim.controller(1).clear_faults()
    sim.advance(1800)
    assert (await fridge.read()).product_celsius < temps[-1] - 2.0


async def test_door_and_warm_goods_raise_the_temperature(start_bus, open_line, dixell) -> None:
    sim, fridge = await _fridge(start_bus, open_line, dixell, [1])
    sim.controller(1).open_door(180)
    sim.advance(120)
    reading = await fridge.read()
    assert reading.flags["door_open"] is True and "door_alarm" in reading.alarms
    assert reading.product_celsius > 4.0 + 1.5
    sim.advance(1800)
    assert (await fridge.read()).product_celsius < 4.0 + 2.5
    before = sim.controller(1).air_c
    sim.controller(1).load_warm_goods(6.0)
    sim.advance(180)
    assert (await fridge.read()).product_celsius > before + 1.0


@pytest.mark.parametrize(("mode", "code"), [("open", "0x7FFF"), ("short", "0x8000")])
async def test_probe_failure_is_a_fault_not_a_temperature(start_bus, open_line, dixell, mode, code) -> None:
    sim, fridge = await _fridge(start_bus, open_line, dixell, [1])
    sim.controller(1).fail_probe("probe1", mode)
    reading = await fridge.read()
    assert reading.product_celsius is None and reading.product.raw == int(code, 16)
    assert code in str(reading.product.fault) and "probe failure" in str(reading.product.fault)
    assert "probe1_failure" in reading.alarms
    assert reading.probes["probe2"].ok  # the other probe still reads
    sim.controller(1).clear_faults()
    assert (await fridge.read()).product.ok


async def test_forced_alarm_bit(start_bus, open_line, dixell) -> None:
    sim, fridge = await _fridge(start_bus, open_line, dixell, [1])
    sim.controller(1).force_alarm("external_alarm")
    assert (await fridge.read()).alarms == {"external_alarm"}
    with pytest.raises(ValueError, match="no alarm 'fire'"):
        sim.controller(1).force_alarm("fire")


async def test_silent_controller_is_unavailable_then_recovers(start_bus, open_line, dixell) -> None:
    sim, fridge = await _fridge(start_bus, open_line, dixell, [1])
    assert (await fridge.read()).product.ok
    sim.controller(1).faults.silent = True
    with pytest.raises(NoResponse):
        await fridge.read()
    assert fridge.snapshot().available is False
    sim.controller(1).faults.silent = False
    assert (await fridge.read()).product.ok and fridge.snapshot().available is True


async def test_wrong_setpoint_address_keeps_the_probes(start_bus, open_line, dixell) -> None:
    # the simulator implements the shipped map; the driver is given a map with the other candidate (HR 1049)
    doc = map_document("dixell-xr")
    next(p for p in doc["points"] if p["name"] == "setpoint")["address"] = 1049
    other = parse_map(doc, "dixell-1049")
    _sim, url = await start_bus(dixell, [1], transport="pty")
    fridge = FridgeController("k1", open_line(url), 1, other)
    reading = await fridge.read()
    assert reading.setpoint_c is None and "exception 02 (illegal data address)" in reading.errors["setpoint"]
    assert reading.product.ok and reading.defrost_active is False


async def test_setpoint_writes_only_where_the_map_allows(start_bus, open_line, recorder, dixell) -> None:
    sim, url = await start_bus(dixell, [1], transport="pty")
    line = open_line(url, trace=recorder)
    fridge = FridgeController("k1", line, 1, dixell)
    with pytest.raises(WriteRefused, match="unverified"):
        await fridge.write_setpoint(2.0)
    with pytest.raises(WriteRefused, match=r"outside the allowed -30\.\.15"):
        await fridge.write_setpoint(25.0, allow_unverified=True)
    assert recorder.events == []  # refused before the wire
    assert await fridge.write_setpoint(-2.5, allow_unverified=True) == -2.5
    assert sim.controller(1).model.state.setpoint_c == -2.5
    # the controller itself refuses values outside its range: exception 03
    with pytest.raises(ModbusExceptionResponse) as info:
        await line.write_register(1, 863, 400)  # 40.0 °C
    assert info.value.code == 3


async def test_verified_generic_setpoint_and_pull_down(start_bus, open_line, generic) -> None:
    sim, fridge = await _fridge(start_bus, open_line, generic, [1], transport="tcp")
    assert await fridge.write_setpoint(1.0) == 1.0
    sim.advance(1800)
    reading = await fridge.read()
    assert reading.setpoint_c == 1.0 and reading.product_celsius == pytest.approx(1.0, abs=2.1)


async def test_defrost_started_through_the_write_mask(start_bus, open_line, dixell) -> None:
    sim, fridge = await _fridge(start_bus, open_line, dixell, [1])
    with pytest.raises(WriteRefused, match="unverified"):
        await fridge.write_flags({"defrost_active": True})
    await fridge.write_flags({"defrost_active": True, "keyboard_locked": True}, allow_unverified=True)
    assert sim.controller(1).model.defrosting
    await fridge.write_flags({"defrost_active": False}, allow_unverified=True)
    reading = await fridge.read()
    assert reading.defrost_active is False and reading.flags["keyboard_locked"] is True
    with pytest.raises(WriteRefused, match="status2 is read-only"):
        await fridge.write_flags({"compressor_on": True}, allow_unverified=True)
    with pytest.raises(WriteRefused, match="no single status register"):
        await fridge.write_flags({"defrost_active": True, "fan_on": True}, allow_unverified=True)


async def test_bit_points_on_discrete_inputs_and_coils(start_bus, open_line) -> None:
    doc = map_document("generic")
    doc["model"] = "bits"
    doc["points"] = [p for p in doc["points"] if p["kind"] != "status"] + [
        {"name": "door_open", "kind": "status", "function": "di", "address": 21, "type": "bit", "source": "t"}
        | {"verified": True},
        {"name": "defrost_active", "kind": "status", "function": "coil", "address": 3, "type": "bit"}
        | {"access": "rw", "source": "t", "verified": True},
    ]
    bits = parse_map(doc, "bits")
    sim, fridge = await _fridge(start_bus, open_line, bits, [1], transport="tcp")
    assert (await fridge.read()).flags == {"door_open": False, "defrost_active": False}
    sim.controller(1).open_door(60)
    sim.controller(1).start_defrost()
    reading = await fridge.read()
    assert reading.flags == {"door_open": True, "defrost_active": True} and reading.defrost_active is True


def test_probe_configuration_is_checked(dixell, open_line) -> None:
    line = open_line("/dev/null-not-used")
    with pytest.raises(ValueError, match=r"probes \['probe9'\] not in map 'dixell-xr'"):
        FridgeController("k1", line, 1, dixell, probes=["probe9"])
    with pytest.raises(ValueError, match="product probe 'probe2' is not one of"):
        FridgeController("k1", line, 1, dixell, probes=["probe1"], product_probe="probe2")
    fridge = FridgeController("k1", line, 1, dixell, probes=["probe1", "probe2", "probe3"])
    assert fridge.requests_per_read == 3
