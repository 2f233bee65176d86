"""The fridge register codec and map validation at the edges: register ranges, masks, read plans,
every map problem named exactly (a map author reads these messages to fix the file)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from drivers.fridge import MapError, parse_map
from drivers.fridge.codec import (
    PROBE_OPEN,
    PROBE_SHORT,
    ReadBlock,
    apply_masked_write,
    block_values,
    decode_bits,
    decode_number,
    decode_probe,
    decode_reading,
    encode_flag_write,
    encode_number,
    plan_reads,
)
from drivers.fridge.reading import ProbeReading
from drivers.fridge.registermap import Point

PROBE = {
    "name": "probe1",
    "kind": "probe",
    "role": "cabinet",
    "function": "hr",
    "address": 0x100,
    "type": "int16",
    "scale": 0.1,
    "unit": "°C",
    "valid_range": [-50, 50],
    "source": "test",
    "verified": True,
}
BASE = {"name": "x", "kind": "value", "function": "hr", "address": 0, "type": "uint16", "source": "t", "verified": True}
STATUS = {
    "name": "status1",
    "kind": "status",
    "function": "hr",
    "address": 0x500,
    "type": "bitfield",
    "access": "rw",
    "write_mask": 0x03,
    "status_bits": {"8": "defrost_active", "9": "light_on", "2": "fan_on"},
    "alarm_bits": {"0": "high_temperature", "12": "door_open_alarm"},
    "source": "test",
    "verified": True,
}


def doc(*points: dict[str, Any], **top: Any) -> dict[str, Any]:
    out = {
        "model": "test",
        "description": "test map",
        "product_probe": "probe1",
        "default_probes": ["probe1"],
        "points": [copy.deepcopy(PROBE), *points],
    }
    out.update(top)
    return out


def point(**fields: Any) -> Point:
    return parse_map(doc({**BASE, **fields})).point(str(fields.get("name", "x")))


def problems(document: dict[str, Any]) -> list[str]:
    with pytest.raises(MapError) as info:
        parse_map(document, "test.json")
    head, *lines = str(info.value).splitlines()
    assert head == "test.json: invalid register map"
    return [line.removeprefix("  - ") for line in lines]


# -- numbers ------------------------------------------------------------------------------------------------


def test_register_ranges_of_int16_and_uint16() -> None:
    signed, unsigned = point(type="int16"), point(type="uint16")
    assert encode_number(signed, -0x8000) == 0x8000 and encode_number(signed, 0x7FFF) == 0x7FFF
    assert encode_number(unsigned, 0) == 0 and encode_number(unsigned, 0xFFFF) == 0xFFFF
    for p, value in ((signed, -0x8001), (signed, 0x8000), (unsigned, -1), (unsigned, 0x10000)):
        with pytest.raises(ValueError):
            encode_number(p, value)
    tenths = point(type="int16", scale=0.1, unit="°C")
    assert encode_number(tenths, -3.5) == 0xFFDD and encode_number(tenths, 3276.7) == 0x7FFF
    with pytest.raises(ValueError, match=r"^3276.8 °C does not fit x \(int16, scale 0.1\)$"):
        encode_number(tenths, 3276.8)


def test_decode_number_scales_and_removes_float_noise() -> None:
    tenths = point(type="int16", scale=0.1)
    assert decode_number(tenths, 0x0003) == 0.3  # 3 * 0.1 is 0.30000000000000004 before rounding
    assert decode_number(tenths, 0xFFFD) == -0.3
    assert decode_number(point(type="uint16", scale=0.1), 0xFFFD) == 6553.3
    assert decode_number(point(type="int16", scale=0.000001), 1) == 0.000001
    assert decode_number(point(type="int16", scale=0.0000001), 4) == 0.0  # six decimals at most


# -- probes ---------------------------------------------------------------------------------------------------


def test_probe_range_is_inclusive_and_failures_name_the_raw_value() -> None:
    probe = point(name="p2", kind="probe", role="product", type="int16", scale=0.1, unit="°C", valid_range=[-50, 50])
    assert decode_probe(probe, 0x01F4) == ProbeReading("p2", "product", 50.0, 0x01F4)
    assert decode_probe(probe, 0xFE0C) == ProbeReading("p2", "product", -50.0, 0xFE0C)
    assert decode_probe(probe, 0x01F5) == ProbeReading(
        "p2", "product", None, 0x01F5, "probe failure: raw 0x01F5 (50.1 °C) outside [-50, 50]"
    )
    assert decode_probe(probe, PROBE_OPEN).fault == "probe failure: raw 0x7FFF (3276.7 °C) outside [-50, 50]"
    assert decode_probe(probe, PROBE_SHORT).fault == "probe failure: raw 0x8000 (-3276.8 °C) outside [-50, 50]"


# -- status words and masked writes -------------------------------------------------------------------------------


def test_status_bits_and_alarms_of_a_bitfield() -> None:
    status = point(**{**STATUS, "name": "x"})
    flags, alarms = decode_bits(status, 0x1301)  # bits 0, 8, 9, 12
    assert flags == {"defrost_active": True, "light_on": True, "fan_on": False}
    assert alarms == {"high_temperature", "door_open_alarm"}
    assert decode_bits(status, 0) == ({"defrost_active": False, "light_on": False, "fan_on": False}, set())


def test_a_bit_point_is_one_flag() -> None:
    coil = point(name="door", kind="status", function="coil", type="bit")
    assert decode_bits(coil, True) == ({"door": True}, set())
    assert decode_bits(coil, 0) == ({"door": False}, set())


def test_flag_writes_go_through_the_write_mask() -> None:
    status = point(**{**STATUS, "name": "x"})
    assert encode_flag_write(status, {"defrost_active": True}) == 0x0101
    assert encode_flag_write(status, {"defrost_active": False}) == 0x0001
    assert encode_flag_write(status, {"light_on": True, "defrost_active": False}) == 0x0203
    assert encode_flag_write(status, {}) == 0
    for names in ({"fan_on": True}, {"no_such": True}):  # below the high byte / unknown
        with pytest.raises(ValueError, match=r"is not writable through the write mask$"):
            encode_flag_write(status, names)
    narrow = point(**{**STATUS, "name": "x", "write_mask": 0x02})  # only bit 9 enabled
    assert encode_flag_write(narrow, {"light_on": True}) == 0x0202
    with pytest.raises(ValueError):
        encode_flag_write(narrow, {"defrost_active": True})
    unmasked = point(**{**STATUS, "name": "x", "write_mask": None, "access": "r"})
    with pytest.raises(ValueError):
        encode_flag_write(unmasked, {"defrost_active": True})


def test_the_controller_side_of_a_masked_write() -> None:
    status = point(**{**STATUS, "name": "x"})
    assert apply_masked_write(status, 0x0200, 0x0101) == 0x0300  # sets bit 8, keeps bit 9
    assert apply_masked_write(status, 0x0300, 0x0001) == 0x0200  # clears bit 8 only
    assert apply_masked_write(status, 0x00FF, 0x0101) == 0x0100  # the low byte is not status
    assert apply_masked_write(status, 0x0300, 0x0300) == 0x0300  # no enable bits: nothing changes
    assert apply_masked_write(status, 0x0000, 0x0404) == 0x0000  # bit 10 is not in the write mask
    no_mask = point(**{**STATUS, "name": "x", "write_mask": None, "access": "r"})
    assert apply_masked_write(no_mask, 0x0100, 0x0001) == 0x0100


# -- read plans ------------------------------------------------------------------------------------------------


def _hr(name: str, address: int) -> Point:
    return point(name=name, address=address)


def test_read_plan_merges_only_adjacent_addresses_of_one_function_up_to_the_limit() -> None:
    doc_points = [{**BASE, "name": f"r{i}", "address": i} for i in (0, 1, 2, 4)]
    doc_points.append({**BASE, "name": "i0", "function": "ir", "address": 3})
    register_map = parse_map(doc(*doc_points))
    points = [p for p in register_map.points if p.name != "probe1"]
    blocks = plan_reads(points)
    assert [(b.function, b.address, b.count) for b in blocks] == [("hr", 0, 3), ("hr", 4, 1), ("ir", 3, 1)]
    assert [(b.address, b.count) for b in plan_reads(points, max_count=2)] == [(0, 2), (2, 1), (4, 1), (3, 1)]
    assert [(b.address, b.count) for b in plan_reads(points, max_count=3)][:2] == [(0, 3), (4, 1)]
    assert plan_reads([]) == []


def test_block_values_pick_each_point_by_its_offset() -> None:
    a, b = _hr("a", 0x10), _hr("b", 0x12)
    block = ReadBlock("hr", 0x10, 3, (a, b))
    assert block_values(block, [7, 8, 9]) == {"a": 7, "b": 9}


# -- whole readings --------------------------------------------------------------------------------------------


def test_a_reading_from_raw_values_and_errors() -> None:
    setpoint = {"name": "setpoint", "kind": "setpoint", "function": "hr", "address": 0x300, "type": "int16",
                "scale": 0.1, "unit": "°C", "source": "t", "verified": True}
    coil = {"name": "door_closed", "kind": "status", "function": "coil", "address": 1, "type": "bit", "source": "t",
            "verified": True}
    alarm2 = {**STATUS, "name": "status2", "address": 0x501, "access": "r", "write_mask": None,
              "status_bits": {"1": "compressor_on"}, "alarm_bits": {"3": "low_temperature"}}
    probe2 = {**PROBE, "name": "probe2", "address": 0x101, "role": "product"}
    register_map = parse_map(doc(probe2, setpoint, STATUS, coil, alarm2))
    raw = {"probe1": 0x0029, "setpoint": 0xFFE2, "status1": 0x1101, "door_closed": True, "status2": 0x000A}
    reading = decode_reading(
        register_map, raw, fridge="f1", unit=3, at=12.5, probes=["probe1", "probe2"], product_probe="probe2",
        errors={"light": "exception 02"},
    )
    assert reading.fridge == "f1" and reading.unit == 3 and reading.model == "test" and reading.at == 12.5
    assert reading.probes["probe1"] == ProbeReading("probe1", "cabinet", 4.1, 0x0029)
    assert reading.probes["probe2"] == ProbeReading("probe2", "product", None, None, "not readable: not read")
    assert reading.product_probe == "probe2"
    assert reading.setpoint_c == -3.0
    assert reading.defrost_active is True
    assert reading.flags == {
        "defrost_active": True, "light_on": False, "fan_on": False, "door_closed": True, "compressor_on": True,
    }
    assert reading.alarms == {"high_temperature", "door_open_alarm", "low_temperature"}
    assert reading.errors == {"light": "exception 02"}


def test_probes_missing_from_the_raw_values_say_why() -> None:
    register_map = parse_map(doc())
    reading = decode_reading(register_map, {}, fridge="f", unit=1, at=0.0, probes=["probe1"], product_probe="probe1",
                             errors={"probe1": "timeout"})
    assert reading.probes["probe1"] == ProbeReading("probe1", "cabinet", None, None, "not readable: timeout")
    assert reading.setpoint_c is None and reading.defrost_active is None and reading.flags == {}
    assert reading.alarms == frozenset()


# -- map validation: every problem, exactly ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "bit"}, "type bit does not fit function hr (coil/di hold bits, hr/ir hold registers)"),
        ({"function": "coil"}, "type uint16 does not fit function coil (coil/di hold bits, hr/ir hold registers)"),
        ({"function": "ir", "access": "rw"}, "function ir is read-only by definition; access must be r"),
        ({"function": "di", "type": "bit", "access": "rw"}, "function di is read-only by definition; access must be r"),
        ({"type": "bitfield"}, "status_bits/alarm_bits belong on (and are required for) a bitfield"),
        ({"status_bits": {"1": "a"}}, "status_bits/alarm_bits belong on (and are required for) a bitfield"),
        ({"type": "bitfield", "status_bits": {"16": "a"}}, "bit numbers must be 0-15"),
        ({"type": "bitfield", "alarm_bits": {"-1": "a"}}, "bit numbers must be 0-15"),
        ({"type": "bitfield", "status_bits": {"1": "a"}, "alarm_bits": {"1": "b"}},
         "a bit is listed both as status and as alarm"),
        ({"type": "bitfield", "status_bits": {"1": "a"}, "alarm_bits": {"2": "a"}},
         "flag and alarm names within a point must be unique"),
        ({"type": "bitfield", "status_bits": {"1": "a", "2": "a"}},
         "flag and alarm names within a point must be unique"),
        ({"write_mask": 1, "access": "rw"}, "write_mask only applies to a writable bitfield"),
        ({"type": "bitfield", "status_bits": {"8": "a"}, "write_mask": 1},
         "write_mask only applies to a writable bitfield"),
        ({"type": "bitfield", "status_bits": {"8": "a"}, "write_mask": 0x100, "access": "rw"},
         "write_mask holds the enable bits of the low byte (at most 0x00FF); status bits live in the high byte"),
        ({"kind": "probe", "role": "cabinet", "type": "int16"},
         "a probe is an int16/uint16 register with a valid_range (outside = sensor fault) and a role"),
        ({"kind": "probe", "valid_range": [0, 1]},
         "a probe is an int16/uint16 register with a valid_range (outside = sensor fault) and a role"),
        ({"kind": "probe", "role": "cabinet", "valid_range": [0, 1], "function": "coil", "type": "bit"},
         "a probe is an int16/uint16 register with a valid_range (outside = sensor fault) and a role"),
        ({"role": "cabinet"}, "role only applies to probes"),
        ({"kind": "setpoint", "function": "coil", "type": "bit"}, "a setpoint is an int16/uint16 register"),
        ({"kind": "status"}, "a status point is a bit or a bitfield"),
        ({"kind": "status", "type": "int16"}, "a status point is a bit or a bitfield"),
        ({"kind": "probe", "role": "cabinet", "valid_range": [1, 1]},
         "valid_range must be [low, high] with low < high"),
        ({"access": "rw", "write_range": [2, 1]}, "write_range must be [low, high] with low < high"),
        ({"write_range": [1, 2]}, "write_range only applies to a writable point"),
    ],
)
def test_each_point_problem_is_named(fields: dict[str, Any], expected: str) -> None:
    assert problems(doc({**BASE, **fields})) == [f"points[1]: {expected}"]


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "setpoint", "type": "int16"},
        {"kind": "setpoint", "type": "uint16", "access": "rw", "write_range": [0, 10]},
        {"kind": "status", "function": "di", "type": "bit"},
        {"kind": "status", "type": "bitfield", "status_bits": {"0": "a"}, "alarm_bits": {"15": "b"}},
        {"kind": "probe", "role": "evaporator", "type": "uint16", "valid_range": [0, 1]},
        {"function": "ir", "access": "r"},
    ],
)
def test_valid_points_pass(fields: dict[str, Any]) -> None:
    parse_map(doc({**BASE, **fields}))


def test_several_problems_of_one_point_are_listed_together() -> None:
    assert problems(doc({**BASE, "kind": "status", "role": "cabinet"})) == [
        "points[1]: role only applies to probes; a status point is a bit or a bitfield"
    ]


def test_map_problems_named_exactly() -> None:
    setpoint = {**BASE, "kind": "setpoint", "type": "int16"}
    coil = {**BASE, "name": "dup", "kind": "status", "function": "coil", "address": 1, "type": "bit"}
    field = {**STATUS, "status_bits": {"8": "dup"}, "alarm_bits": {}, "write_mask": None, "access": "r"}
    document = doc(
        setpoint,
        {**setpoint, "name": "y", "address": 0},
        coil,
        field,
        {**PROBE, "address": 7},
        product_probe="x",
        default_probes=["probe1", "y"],
    )
    assert problems(document) == [
        "point 'probe1' is defined twice",
        "'y' and 'x' both use hr 0x0000",
        "product_probe 'x' is not a probe point",
        "default_probes: 'y' is not a probe point",
        "at most one setpoint point",
        "flag or alarm 'dup' is defined twice",
    ]


def test_schema_errors_say_where() -> None:
    assert problems(doc({**BASE, "address": "nope"})) == [
        "points[1].address: 'nope' is not a number (use 256 or \"0x0100\")"
    ]
    assert problems({**doc(), "points": []})[0].startswith("points: ")
    assert problems({**doc(), "extra": 1}) == ["extra: Extra inputs are not permitted"]
    assert problems([1]) == ["top level: Input should be a valid dictionary or instance of _MapFile"]


def test_map_views() -> None:
    coil = {**BASE, "name": "door", "kind": "status", "function": "coil", "address": 1, "type": "bit"}
    value_bit = {**BASE, "name": "raw_bit", "function": "coil", "address": 2, "type": "bit"}
    register_map = parse_map(doc(STATUS, coil, value_bit), "here.json")
    assert register_map.flag_names() == {"defrost_active", "light_on", "fan_on", "door"}
    assert register_map.alarm_names() == {"high_temperature", "door_open_alarm"}
    assert register_map.setpoint is None
    assert [p.name for p in register_map.probes] == ["probe1"]
    assert (register_map.model, register_map.description, register_map.product_probe) == ("test", "test map", "probe1")
    assert register_map.default_probes == ("probe1",) and register_map.source == "here.json"
    assert register_map.serial == {}
    with pytest.raises(KeyError):
        register_map.point("nope")
    with_serial = parse_map(doc(serial={"baudrate": 9600}))
    assert with_serial.serial == {"baudrate": 9600} and parse_map(doc()).source == "<map>"


def test_a_read_block_holds_at_most_125_registers() -> None:
    points = [Point(**{**BASE, "name": f"r{i}", "address": i}) for i in range(126)]
    assert [(b.address, b.count) for b in plan_reads(points)] == [(0, 125), (125, 1)]
