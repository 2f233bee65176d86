"""`station hw fridge read` against the simulator running as a separate process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.fridge import load_map
from station.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulators.fridge", "--tcp", "0", "--units", "3,4", "--freezers", "4"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().split()
        assert first[:1] == ["tcp"], f"simulator did not start: {first}"
        yield first[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["hw", "fridge", "read", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_read_prints_probes_setpoint_and_alarms(simulator_url: str, capsys) -> None:
    code, out, err = _run(capsys, "--port", simulator_url, "--unit", "3", "--model", "dixell-xr")
    assert code == 0 and err == ""
    assert out.startswith(f"unit 3 (dixell-xr) on {simulator_url}\n")
    assert re.search(r"probe1\s+cabinet\s+\d+\.\d °C  <- product", out)
    assert re.search(r"probe2\s+evaporator\s+-?\d+\.\d °C", out)
    assert re.search(r"setpoint\s+4\.0 °C", out) and re.search(r"defrost\s+no", out)
    assert re.search(r"alarms\s+none", out)


def test_read_json(simulator_url: str, capsys) -> None:
    code, out, _err = _run(capsys, "--port", simulator_url, "--unit", "4", "--model", "dixell-xr", "--json")
    reading = json.loads(out)
    assert code == 0 and reading["unit"] == 4 and reading["model"] == "dixell-xr"
    assert reading["probes"]["probe1"]["celsius"] == pytest.approx(-20.0, abs=0.3)
    assert reading["probes"]["probe1"]["fault"] is None and reading["setpoint_c"] == -20.0
    assert reading["alarms"] == [] and reading["errors"] == {} and reading["defrost_active"] is False


def test_no_answer_is_a_clear_error(simulator_url: str, capsys) -> None:
    code, out, err = _run(capsys, "--port", simulator_url, "--unit", "9", "--timeout-ms", "200")
    assert code == 1 and out == ""
    assert err == (
        "error: no reading from unit 9: cli unit 9 read holding 0x0100+2: no answer within 200 ms (2 attempts)\n"
    )


def test_missing_port_is_a_clear_error(capsys) -> None:
    code, _out, err = _run(capsys, "--port", "/dev/ttyUSB-missing", "--unit", "1")
    assert code == 1 and err.startswith("error: no reading from unit 1: cli unit 1 read holding 0x0100+2: ")
    assert "/dev/ttyUSB-missing" in err


def test_refused_register_is_shown_and_fails(simulator_url: str, capsys, tmp_path: Path) -> None:
    doc = json.loads(Path(str(load_map("dixell-xr").source)).read_text(encoding="utf-8"))
    next(p for p in doc["points"] if p["name"] == "setpoint")["address"] = 1049
    path = tmp_path / "dixell-1049.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out, _err = _run(capsys, "--port", simulator_url, "--unit", "3", "--model", str(path))
    assert code == 1 and re.search(r"setpoint\s+unknown", out)
    assert "NOT READABLE setpoint: exception 02 (illegal data address)" in out


def test_bad_model_and_bad_probe_exit_2(capsys) -> None:
    code, _out, err = _run(capsys, "--port", "/dev/null", "--unit", "1", "--model", "eliwell-idplus")
    assert code == 2 and "no register map 'eliwell-idplus'" in err
    code, _out, err = _run(capsys, "--port", "/dev/null", "--unit", "1", "--probes", "probe1,probe7")
    assert code == 2 and "probe7" in err
