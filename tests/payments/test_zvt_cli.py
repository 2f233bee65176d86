"""`station hw terminal ...` against the simulator over TCP (the CLI runs its own event loop in a thread)."""

from __future__ import annotations

import argparse
import asyncio
import json

import pytest

from simulators.zvt import ZvtSimulator
from station.cli import main
from station.cli.hw_terminal import parse_euros

from .conftest import FAST_SIM


@pytest.fixture
async def terminal():
    sim = ZvtSimulator(FAST_SIM)
    url = await sim.start_tcp()
    yield sim, url
    await sim.stop()


async def run(*argv: str) -> int:
    return await asyncio.to_thread(main, ["hw", "terminal", *argv])


async def test_register_status_pay_end_of_day(terminal, capsys):
    sim, url = terminal
    assert await run("register", "--port", url) == 0
    assert "registered (terminal id 52500038)" in capsys.readouterr().out

    assert await run("pay", "12.50", "--port", url) == 0
    out = capsys.readouterr().out
    assert "terminal: insert card" in out
    assert "status information: ok, amount 12.50 EUR, receipt 1, trace 1" in out
    assert "print: Beleg 0001  Trace 000001" in out
    assert out.rstrip().endswith("approved 12.50 EUR, receipt 1, trace 1, " + sim.ledger.transactions[0].card.name)
    assert sim.ledger.charged_cents() == 1250

    assert await run("status", "--port", url) == 0
    assert "terminal ready" in capsys.readouterr().out

    assert await run("end-of-day", "--port", url) == 0
    assert "end-of-day done: total 12.50 EUR in 1 transactions" in capsys.readouterr().out


async def test_declined_payment_exits_non_zero_with_code_and_text(terminal, capsys):
    sim, url = terminal
    assert await run("pay", "3.99", "--port", url) == 1
    captured = capsys.readouterr()
    assert "declined: declined by the card issuer (code 05)" in captured.err
    assert sim.ledger.charged_cents() == 0


async def test_json_output_is_one_object_per_line(terminal, capsys):
    _sim, url = terminal
    assert await run("pay", "7", "--port", url, "--json") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["message"] == {
        "type": "IntermediateStatus",
        "code": 10,
        "timeout_s": None,
        "tlv": [],
        "text": "insert card",
    }
    result = lines[-1]["result"]
    assert (result["outcome"], result["ok"], result["amount_cents"], result["receipt_no"]) == ("approved", True, 700, 1)


async def test_locked_terminal_status_exits_non_zero(terminal, capsys):
    sim, url = terminal
    sim.lock_state = 0xC2
    assert await run("status", "--port", url) == 1
    assert "not ready: diagnosis required" in capsys.readouterr().err


async def test_unreachable_terminal_exits_3(capsys):
    assert await run("status", "--port", "tcp://127.0.0.1:1") == 3
    assert "cannot connect" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["12,50", "abc", "1.234", "-1", "0.00", "", "1e3"])
async def test_bad_amounts_are_rejected_clearly(bad, capsys):
    with pytest.raises(SystemExit) as exit_info:
        await run("pay", bad, "--port", "tcp://127.0.0.1:20007")
    assert exit_info.value.code == 2
    assert "argument AMOUNT" in capsys.readouterr().err


def test_amounts_parse_exactly_into_cents():
    assert [parse_euros(text) for text in ("12.50", "12.5", "0.01", "7", "19.99")] == [1250, 1250, 1, 700, 1999]
    with pytest.raises(argparse.ArgumentTypeError, match="use a dot"):
        parse_euros("1,50")


async def test_bad_password_and_port_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        await run("status", "--port", "tcp://127.0.0.1:20007", "--password", "12ab56")
    assert exit_info.value.code == 2
    assert await run("status", "--port", "tcp://host:notaport") == 2
