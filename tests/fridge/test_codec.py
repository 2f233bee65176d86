"""Pure decoding: signed tenths, scaling, probe-failure codes, status words, masked writes, read plans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.fridge import PROBE_OPEN, PROBE_SHORT, RegisterMap, decode_reading, parse_map, plan_reads
from drivers.fridge.codec import (
    apply_masked_write,
    decode_bits,
    decode_number,
    decode_probe,
    encode_flag_write,
    encode_number,
    to_signed16,
)


def _point(**fields):
    base = {"name": "x", "kind": "value", "function": "hr", "address": 0, "type": "uint16", "source": "t"}
    base.update(fields)
    doc = {
        "model": "t",
        "description": "t",
        "product_probe": "p",
        "default_probes": ["p"],
        "points": [
            {
                "name": "p",
                "kind": "probe",
                "role": "cabinet",
                "function": "hr",
                "address": 500,
                "type": "int16",
                "scale": 0.1,
                "valid_range": [-50, 50],
                "source": "t",
                "verified": True,
            },
            {"verified": True, **base},
        ],
    }
    return parse_map(doc).point(base["name"])


def test_negative_tenths_from_the_reference(dixell: RegisterMap) -> None:
    # hardware.md §2.1 / §6.4: 0xFFDD is -35 tenths -> -3.5 °C, not 6553.3 °C
    assert to_signed16(0xFFDD) == -35
    probe = decode_probe(dixell.point("probe1"), 0xFFDD)
    assert probe.celsius == -3.5 and probe.ok and probe.raw == 0xFFDD


@pytest.mark.parametrize(
    ("raw", "celsius"),
    [(0x0000, 0.0), (0x0001, 0.1), (0x0029, 4.1), (0xFFFF, -0.1), (0xFF38, -20.0), (0x01F4, 50.0), (0xFE0C, -50.0)],
)
def test_probe_values_inside_the_valid_range(dixell: RegisterMap, raw: int, celsius: float) -> None:
    assert decode_probe(dixell.point("probe1"), raw).celsius == celsius


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(PROBE_OPEN, "0x7FFF"), (PROBE_SHORT, "0x8000"), (0x01F5, "0x01F5"), (0xFE0B, "0xFE0B")],
)
def test_probe_failure_codes_give_a_fault_and_no_temperature(dixell: RegisterMap, raw: int, shown: str) -> None:
    probe = decode_probe(dixell.point("probe1"), raw)
    assert probe.celsius is None and not probe.ok
    assert "probe failure" in str(probe.fault) and shown in str(probe.fault)


def test_scaling_of_unsigned_and_coarse_registers() -> None:
    assert decode_number(_point(type="uint16", scale=0.1), 0xFFDD) == 6550.1
    assert decode_number(_point(type="int16", scale=0.5), 0xFFFE) == -1.0
    assert decode_number(_point(type="uint16", scale=10), 7) == 70
    assert decode_number(_point(type="int16", scale=0.01), 0x8000) == -327.68


def test_encode_rejects_values_that_do_not_fit() -> None:
    tenths = _point(type="int16", scale=0.1)
    assert encode_number(tenths, -3.5) == 0xFFDD
    with pytest.raises(ValueError, match="does not fit"):
        encode_number(tenths, 3276.8)
    with pytest.raises(ValueError, match="does not fit"):
        encode_number(_point(type="uint16", scale=1), -1)


@given(st.integers(min_value=-500, max_value=500))
def test_tenths_round_trip(tenths: int) -> None:
    point = _point(type="int16", scale=0.1)
    assert decode_number(point, encode_number(point, tenths / 10)) == tenths / 10


def test_status_words_give_named_flags_and_alarms(dixell: RegisterMap) -> None:
    flags, alarms = decode_bits(dixell.point("status1"), 0x0100)
    assert flags == {"defrost_active": True, "keyboard_locked": False, "standby": False} and alarms == set()
    flags, alarms = decode_bits(dixell.point("status3"), 0x2500)  # bits 8, 10, 13
    assert flags == {} and alarms == {"high_temperature", "probe1_failure", "external_alarm"}


def test_dixell_write_mask_sets_only_enabled_bits(dixell: RegisterMap) -> None:
    status = dixell.point("status1")
    # start defrost: status bit 8 plus its enable bit 0 in the low byte
    assert encode_flag_write(status, {"defrost_active": True}) == 0x0101
    assert encode_flag_write(status, {"defrost_active": False, "standby": True}) == 0x0405
    # the controller changes only enabled bits: keyboard lock (bit 9) stays on
    assert apply_masked_write(status, old=0x0200, written=0x0101) == 0x0300
    assert apply_masked_write(status, old=0x0300, written=0x0001) == 0x0200
    assert apply_masked_write(status, old=0x0300, written=0x0400) == 0x0300  # no enable bit: ignored
    with pytest.raises(ValueError, match="not writable"):
        encode_flag_write(dixell.point("status2"), {"compressor_on": True})


def test_read_plan_merges_only_adjacent_addresses(dixell: RegisterMap) -> None:
    blocks = plan_reads([p for p in dixell.points if p.name != "probe3"])
    assert [(b.function, b.address, b.count) for b in blocks] == [("hr", 0x0100, 2), ("hr", 863, 1), ("hr", 0x0500, 3)]
    assert [p.name for p in blocks[0].points] == ["probe1", "probe2"]
    assert next((b.address, b.count) for b in plan_reads(dixell.points)) == (0x0100, 3)


def test_reading_from_raw_registers(dixell: RegisterMap) -> None:
    raw = {"probe1": 0x0029, "probe2": 0xFFB0, "setpoint": 0x0028, "status1": 0x0100, "status2": 0x0100, "status3": 0}
    reading = decode_reading(
        dixell, raw, fridge="k1", unit=3, at=12.5, probes=["probe1", "probe2"], product_probe="probe1"
    )
    assert reading.product_celsius == 4.1 and reading.probes["probe2"].celsius == -8.0
    assert reading.setpoint_c == 4.0 and reading.defrost_active is True
    assert reading.flags["compressor_on"] is True and reading.alarms == frozenset()
    assert reading.to_dict()["probes"]["probe1"] == {"role": "cabinet", "celsius": 4.1, "raw": 41, "fault": None}


def test_unreadable_points_are_reported_not_invented(dixell: RegisterMap) -> None:
    errors = {"probe1": "exception 02 (illegal data address)", "setpoint": "exception 02 (illegal data address)"}
    reading = decode_reading(
        dixell, {"status1": 0}, fridge="k1", unit=1, at=0, probes=["probe1"], product_probe="probe1", errors=errors
    )
    assert reading.product_celsius is None and "exception 02" in str(reading.product.fault)
    assert reading.setpoint_c is None and reading.defrost_active is False
    assert reading.errors == errors
