"""`station hw printer status|test` against the simulator (TCP and pty).

The exit codes that matter to a technician (ok, paper out, cover open, no answer, no port, a test
print) run as real subprocesses; the other variants call the same `main()` in a thread (faster).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from simulators.printer import PrinterSimulator
from station.cli import main
from tests.conftest import REPO, free_port


@dataclass
class Run:
    code: int
    out: str
    err: str


async def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    code = await asyncio.to_thread(main, ["hw", "printer", *args])
    out, err = capsys.readouterr()
    return Run(code, out, err)


async def station(*args: str) -> Run:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "station.cli", "hw", "printer", *args,
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


@pytest.fixture
async def sim_url() -> AsyncIterator[tuple[PrinterSimulator, str]]:
    sim = PrinterSimulator(seed=5)
    url = await sim.start_tcp()
    yield sim, url
    await sim.stop()


async def test_status_ok(sim_url) -> None:
    sim, url = sim_url
    run = await station("status", "--port", url)
    assert run.code == 0 and run.err == ""
    assert run.out.splitlines()[0] == f"printer on {url}: OK"
    assert "raw replies   n1=12  n2=12  n3=12  n4=12" in run.out
    assert sim.status_queries == [1, 2, 3, 4]


FAULTS = [
    ({"paper": "out"}, 1, "paper_out"),
    ({"cover_open": True}, 1, "cover_open"),
    ({"reply": "silent"}, 3, "no_answer"),
]


@pytest.mark.parametrize(("knobs", "code", "fault"), FAULTS)
async def test_status_names_the_fault_and_exits_non_zero(sim_url, knobs: dict, code: int, fault: str) -> None:
    sim, url = sim_url
    sim.set_faults(**knobs)
    run = await station("status", "--port", url, "--timeout-ms", "200")
    assert run.code == code
    assert f"FAULT: {fault}" in run.out.splitlines()[0]
    assert f"error: printer on {url}: {fault}" in run.err and "hint: " in run.err


@pytest.mark.parametrize(
    ("knobs", "code", "fault"),
    [*FAULTS, ({"cutter_error": True}, 1, "cutter_error"), ({"reply": "garbage"}, 3, "invalid_reply")],
)
async def test_status_json_names_the_fault(sim_url, capsys, knobs: dict, code: int, fault: str) -> None:
    sim, url = sim_url
    sim.set_faults(**knobs)
    run = await in_process(capsys, "status", "--port", url, "--timeout-ms", "200", "--json")
    data = json.loads(run.out)
    assert run.code == code == data["exit_code"] and data["ok"] is False and data["fault"] == fault
    assert f"error: printer on {url}: {fault}" in run.err


async def test_status_json_raw_replies(sim_url, capsys) -> None:
    sim, url = sim_url
    sim.set_faults(paper="out")
    run = await in_process(capsys, "status", "--port", url, "--json")
    data = json.loads(run.out)
    assert run.code == 1 and data["ok"] is False and data["fault"] == "paper_out" and data["exit_code"] == 1
    assert data["replies"] == {"1": "1A", "2": "32", "3": "12", "4": "72"}


async def test_status_near_end_is_a_warning_only(sim_url, capsys) -> None:
    sim, url = sim_url
    sim.set_faults(paper="near_end")
    run = await in_process(capsys, "status", "--port", url)
    assert run.code == 0 and "NEAR END" in run.out and "warning: paper near end" in run.err


async def test_status_port_unavailable() -> None:
    run = await station("status", "--port", f"socket://127.0.0.1:{free_port()}", "--json")
    assert run.code == 5 and json.loads(run.out)["fault"] == "port_unavailable"


async def test_test_print_over_a_pty() -> None:
    async with PrinterSimulator() as sim:
        path = await sim.start_pty()
        run = await station("test", "--port", path, "--shop", "Dorfladen Test")
        assert run.code == 0, run.err
        assert run.out.startswith("test receipt test-") and "status after the job: OK" in run.out
        [job] = sim.printed_jobs
        assert job.text[0] == "Dorfladen Test" and "Druckertest" in job.text
        assert [(b.system, b.data) for b in job.barcodes] == [("EAN13", "4006381333931")]
        assert [q.data for q in job.qr_codes] == ["https://example.org/station-test"] and job.cuts == ["full"]


async def test_test_print_in_english_json(sim_url, capsys) -> None:
    sim, url = sim_url
    run = await in_process(capsys, "test", "--port", url, "--language", "en", "--json")
    data = json.loads(run.out)
    assert run.code == 0 and data["printed"] is True and data["bytes_sent"] == len(sim.jobs[0].raw)
    assert "Printer test" in sim.jobs[0].text


async def test_test_print_refused_when_paper_is_out(sim_url) -> None:
    sim, url = sim_url
    sim.set_faults(paper="out")
    run = await station("test", "--port", url, "--json")
    data = json.loads(run.out)
    assert run.code == 1 and data["printed"] is False and data["bytes_sent"] == 0 and data["fault"] == "paper_out"
    assert "paper_out" in run.err and sim.jobs == []


async def test_wrong_usb_port_is_a_usage_error(capsys) -> None:
    run = await in_process(capsys, "status", "--port", "usb:zz")
    assert run.code == 2 and "usb:VID:PID" in run.err
