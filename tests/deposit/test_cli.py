"""`station hw deposit status` as a real subprocess against the simulator running as another process."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from collections.abc import Iterator

import pytest

from deposit import DepositMachine
from drivers.modbus import LineSettings, ModbusLine
from simulators.deposit import Shopper
from station.cli import main
from tests.conftest import REPO

from .conftest import FAST


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "simulators.deposit", "--tcp", "0", "--unit", "10", "--fridge-units", "1",
            "--shopper", "3", "--reject-rate", "0", "--pace", "0.01", "--seed", "4",
        ],
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


def _station(*args: str) -> subprocess.Popen[str]:
    """Start `station hw deposit status ...` as its own process (several run at once: each start takes seconds)."""
    return subprocess.Popen(
        [sys.executable, "-m", "station.cli", "hw", "deposit", "status", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["hw", "deposit", "status", *args])
    out, err = capsys.readouterr()
    return code, out, err


async def _open_session_and_wait_for_three_events(url: str) -> None:
    line = ModbusLine("test", LineSettings(port=url, **FAST))
    deposit = DepositMachine("test", line, 10, command_poll_s=0.01)
    try:
        await deposit.open_session()
        for _ in range(500):
            status = await deposit.read_status()
            if status.evt_pending == 3 and not status.session_open:
                return
            if status.evt_pending == 3:
                await deposit.close_session()
            await asyncio.sleep(0.01)
        raise AssertionError(f"the simulator's shopper did not return 3 containers: {status}")
    finally:
        await line.close()


def test_status_of_a_fresh_machine(simulator_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _in_process(capsys, "--port", simulator_url, "--unit", "10")
    assert code == 0 and err == ""
    assert out.splitlines()[:4] == [
        f"deposit machine unit 10 on {simulator_url} (interface v1)",
        "  state          ready",
        "  faults         none",
        "  FIFO           0 of 32 events pending",
    ]


def test_subprocess_status_after_a_session_and_without_an_answer(
    simulator_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    silent = _station("--port", simulator_url, "--unit", "11", "--timeout-ms", "200")
    asyncio.run(_open_session_and_wait_for_three_events(simulator_url))
    text = _station("--port", simulator_url, "--unit", "10")

    picked = Shopper(None, random.Random(4)).pick(3)  # type: ignore[arg-type]  # same seed as the simulator
    first = picked[0]
    total = sum(c.deposit_cents for c in picked)
    euro = f"{total // 100},{total % 100:02d} €"
    code, out, err = _finish(text)
    assert code == 0, err
    lines = out.splitlines()
    kind = first.kind.name.lower().replace("_", "-")
    oldest = f"oldest: seq 1, session 1, GTIN {first.gtin:013d}, {kind}"
    assert lines[3].startswith(f"  FIFO           3 of 32 events pending; {oldest}")
    assert lines[5] == "  last command   seq 2 close_session: done"
    assert lines[7] == f"  session 1      3 accepted ({euro}), 0 rejected"
    assert lines[8] == f"  lifetime       3 accepted ({euro}), 0 rejected"

    code, out, _err = _in_process(capsys, "--port", simulator_url, "--unit", "10", "--json")
    status = json.loads(out)
    assert code == 0 and status["unit"] == 10 and status["state"] == "ready"
    assert status["fifo"]["pending"] == 3 and status["fifo"]["head"]["gtin"] == f"{first.gtin:013d}"
    assert status["counters"]["session_deposit_cents"] == total and status["faults"] == []

    code, out, err = _finish(silent)
    assert code == 1 and out == ""
    assert err == (
        "error: no status from unit 11: cli unit 11 read holding 0x0000+32: no answer within 200 ms (2 attempts)\n"
    )


def test_a_fridge_unit_is_not_taken_for_the_machine(simulator_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _in_process(capsys, "--port", simulator_url, "--unit", "1", "--timeout-ms", "200")
    assert code == 1
    assert "unit 1 answers but refuses the deposit machine registers HR 0-31 (exception 02" in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _in_process(capsys, "--port", "socket://127.0.0.1:9", "--unit", "0")
    assert code == 2 and "1-247" in err
    with pytest.raises(SystemExit) as refused:  # no port: argparse refuses
        main(["hw", "deposit", "status", "--unit", "10"])
    assert refused.value.code == 2
