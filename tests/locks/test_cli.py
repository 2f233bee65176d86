"""`station hw locks status|open` against the simulator over TCP (the CLI runs its own loop in a thread)."""

from __future__ import annotations

import asyncio
import json

import pytest

from simulators.locks import LockBusSimulator, SimBoard
from station.cli import main

DOORS = {"open_delay_s": 0.05, "close_after_s": 5.0}


async def run_cli(*args: str) -> int:
    return await asyncio.to_thread(main, ["hw", "locks", *args])


@pytest.fixture
async def cu16() -> tuple[LockBusSimulator, str]:
    sim = LockBusSimulator("cu16", [SimBoard(0, 16, item_sensors=True, **DOORS), 2], **DOORS)
    url = await sim.start_tcp()
    yield sim, url
    await sim.stop()


async def test_status_prints_every_lock(cu16, capsys) -> None:
    sim, url = cu16
    sim.set_lock_faults(0, 5, auto_close=False)
    sim.open_door(0, 5)
    sim.set_lock_faults(0, 9, item_present=True)
    code = await run_cli("status", "--port", url, "--protocol", "cu16", "--board", "0", "--item-sensors")
    out = capsys.readouterr().out
    assert code == 0
    assert "15 locked, 1 unlocked" in out
    rows = [line.split() for line in out.splitlines() if line[:4].strip().isdigit()]
    assert len(rows) == 16
    assert rows[4] == ["5", "UNLOCKED", "empty"] and rows[8] == ["9", "locked", "present"]
    assert "raw hook bytes: EF FF   infrared bytes: 00 01" in out


async def test_status_json(cu16, capsys) -> None:
    sim, url = cu16
    sim.open_door(2, 16)
    code = await run_cli("status", "--port", url, "--protocol", "cu16", "--board", "2", "--json")
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["ok"] is True and data["board"] == 2
    assert [lk["lock"] for lk in data["locks"] if lk["locked"] is False] == [16]
    assert data["hooks"] == "FF 7F"


async def test_open_confirms_by_read_back(cu16, capsys) -> None:
    sim, url = cu16
    code = await run_cli("open", "--port", url, "--protocol", "cu16", "--board", "2", "--lock", "3")
    out = capsys.readouterr().out
    assert code == 0
    assert "board 2 lock 3: unlock pulse sent; read-back shows it unlocked" in out
    assert sim.unlock_requests(2) == 1 and sim.door_states(2)[3] is True


async def test_open_jammed_lock_is_not_confirmed(cu16, capsys) -> None:
    sim, url = cu16
    sim.set_lock_faults(2, 4, jammed=True)
    code = await run_cli(
        "open", "--port", url, "--protocol", "cu16", "--board", "2", "--lock", "4", "--confirm-s", "0.4", "--json"
    )
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert code == 1
    assert data["pulse_sent"] is True and data["confirmed"] is False
    assert "still shows it locked" in captured.err
    assert sim.unlock_requests(2) == 1  # the CLI does not repeat the pulse either


async def test_cu48_status(capsys) -> None:
    async with LockBusSimulator("cu48", [7], **DOORS) as sim:
        url = await sim.start_tcp()
        sim.open_door(7, 48)
        code = await run_cli("status", "--port", url, "--protocol", "cu48", "--board", "7")
    out = capsys.readouterr().out
    assert code == 0
    assert "47 locked, 1 unlocked" in out
    assert "raw hook bytes: FF FF FF FF FF 7F" in out


async def test_cu48_open_confirms_without_an_unlock_reply(capsys) -> None:
    async with LockBusSimulator("cu48", [0, 9], **DOORS) as sim:
        url = await sim.start_tcp()
        code = await run_cli("open", "--port", url, "--protocol", "cu48", "--board", "9", "--lock", "48", "--json")
        assert sim.unlock_requests(9) == 1 and sim.unlock_requests(0) == 0
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["confirmed"] is True
    assert data["status"]["locks"][47] == {"lock": 48, "locked": False, "item_present": None}


async def test_no_answer(cu16, capsys) -> None:
    _, url = cu16
    code = await run_cli("status", "--port", url, "--protocol", "cu16", "--board", "5", "--timeout-ms", "100")
    err = capsys.readouterr().err
    assert code == 3
    assert "board 5" in err and "no answer within 100 ms" in err and "hint:" in err


async def test_bad_frame(cu16, capsys) -> None:
    sim, url = cu16
    sim.set_board_faults(0, corrupt="bad_sum")
    code = await run_cli("status", "--port", url, "--protocol", "cu16", "--board", "0", "--json")
    captured = capsys.readouterr()
    assert code == 4
    assert json.loads(captured.out)["ok"] is False
    assert "bad frame" in captured.err and "checksum" in captured.err


async def test_missing_port(capsys) -> None:
    code = await run_cli("status", "--port", "/dev/no-such-lock-port", "--protocol", "cu48", "--board", "0")
    assert code == 5
    assert "no-such-lock-port" in capsys.readouterr().err


async def test_wrong_lock_number(cu16, capsys) -> None:
    sim, url = cu16
    code = await run_cli("open", "--port", url, "--protocol", "cu16", "--board", "0", "--lock", "17")
    assert code == 2
    assert "locks 1-16, not 17" in capsys.readouterr().err
    assert sim.frames_received == 0
