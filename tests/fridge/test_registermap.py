"""Register maps are data: the shipped ones load, broken ones are rejected with every problem named."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from drivers.fridge import MapError, available_models, load_map, parse_map

PROBE = {
    "name": "probe1",
    "kind": "probe",
    "role": "cabinet",
    "function": "hr",
    "address": "0x0100",
    "type": "int16",
    "scale": 0.1,
    "unit": "°C",
    "valid_range": [-50, 50],
    "source": "test",
    "verified": True,
}


def _doc(*points: dict[str, Any], **top: Any) -> dict[str, Any]:
    doc = {
        "model": "test",
        "description": "test map",
        "product_probe": "probe1",
        "default_probes": ["probe1"],
        "points": [copy.deepcopy(PROBE), *points],
    }
    doc.update(top)
    return doc


def _problems(doc: dict[str, Any]) -> str:
    with pytest.raises(MapError) as info:
        parse_map(doc, "test.json")
    return str(info.value)


def test_shipped_maps_load_and_mark_the_setpoint_unverified() -> None:
    assert {"dixell-xr", "generic"} <= set(available_models())
    dixell = load_map("dixell-xr")
    assert dixell.point("probe1").address == 0x0100 and dixell.point("probe3").address == 0x0102
    assert dixell.point("probe1").type == "int16" and dixell.point("probe1").scale == 0.1
    setpoint = dixell.setpoint
    assert setpoint is not None and not setpoint.verified and "UNVERIFIED" in setpoint.source
    assert dixell.point("status1").address == 1280 and dixell.point("status1").write_mask == 0x00FF
    assert "defrost_active" in dixell.flag_names() and "high_temperature" in dixell.alarm_names()
    generic = load_map("generic")
    assert generic.setpoint is not None and generic.setpoint.verified


def test_hex_and_decimal_addresses_are_the_same() -> None:
    decimal = parse_map(_doc(points=[{**PROBE, "address": 256}]))
    assert decimal.point("probe1").address == parse_map(_doc()).point("probe1").address == 256


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "bit"}, "does not fit function hr"),
        ({"valid_range": None}, "valid_range (outside = sensor fault)"),
        ({"role": None}, "and a role"),
        ({"address": "0x1G"}, "not a number"),
        ({"address": 70000}, "less than or equal to 65535"),
        ({"function": "ir", "access": "rw"}, "read-only by definition"),
        ({"valid_range": [5, -5]}, "low < high"),
        ({"colour": "blue"}, "Extra inputs are not permitted"),
        ({"verified": None}, "verified"),
    ],
)
def test_bad_points_are_rejected_with_a_reason(change: dict[str, Any], message: str) -> None:
    doc = _doc()
    doc["points"][0].update(change)
    text = _problems(doc)
    assert "test.json: invalid register map" in text and message in text


def test_bitfield_rules() -> None:
    status = {"name": "status", "kind": "status", "function": "hr", "address": 0x500, "type": "bitfield"}
    status |= {"source": "t", "verified": False}
    assert "required for) a bitfield" in _problems(_doc(status))
    assert "bit numbers must be 0-15" in _problems(_doc({**status, "status_bits": {"16": "x"}}))
    both = {**status, "status_bits": {"8": "defrost_active"}, "alarm_bits": {"8": "high"}}
    assert "both as status and as alarm" in _problems(_doc(both))
    masked = {**status, "status_bits": {"8": "defrost_active"}, "write_mask": "0x00FF"}
    assert "writable bitfield" in _problems(_doc(masked))
    assert "at most 0x00FF" in _problems(_doc({**masked, "access": "rw", "write_mask": "0x0100"}))
    parse_map(_doc({**masked, "access": "rw"}))  # valid


def test_map_level_rules_list_every_problem() -> None:
    twin = {**PROBE}
    clash = {**PROBE, "name": "probe2"}
    text = _problems(_doc(twin, clash, product_probe="nope", default_probes=["probe1", "ghost"]))
    assert "point 'probe1' is defined twice" in text
    assert "both use hr 0x0100" in text
    assert "product_probe 'nope' is not a probe point" in text
    assert "default_probes: 'ghost' is not a probe point" in text


def test_load_by_path_and_clear_errors_for_missing_or_broken_files(tmp_path: Path) -> None:
    path = tmp_path / "site.json"
    path.write_text(json.dumps(_doc(model="site")), encoding="utf-8")
    assert load_map(str(path)).model == "site"
    with pytest.raises(MapError, match=r"no register map 'carel-xyz'.*dixell-xr"):
        load_map("carel-xyz")
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(MapError, match="not valid JSON"):
        load_map(str(broken))
