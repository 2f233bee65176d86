"""The real daemon SIGKILLed at the steps of a purchase paid (partly or wholly) by a voucher, then restarted.

The credit adds arrows to the purchase flow (no terminal when it covers the total; "book nothing" when
it covers what was released). At each step the daemon kills itself after the commit; a second one
recovers. Afterwards, against the simulators: a voucher is redeemed exactly once if a door opened and
never otherwise; the card is charged at most what the credit did not cover of what came out; the
terminal is asked at most once (never when the credit covers the total); change is issued at most once.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from station.db.engine import Database
from station.purchase import FINAL
from station.vouchers import ledger
from tests.purchase.test_crash import Scenario, _physically_opened, _start_daemon, _station_files, _wait_ready

PRICES = {1: 2 * (149 + 15), 2: 420}


@dataclass(frozen=True)
class CreditCase:
    name: str
    credit: int
    compartments: tuple[int, ...]
    steps: tuple[str, ...]
    jammed: tuple[tuple[int, int], ...] = ()


CASES = [
    CreditCase("covers-all", 500, (2,), ("created", "release_requested", "released", "done")),
    CreditCase("covers-released", 400, (1, 2), ("released", "book_requested", "booked"), jammed=((0, 2),)),
    CreditCase("given-back", 500, (2,), ("release_requested",), jammed=((0, 2),)),
]
SLOW_CASES = [
    CreditCase("part", 100, (2,), ("payment_requested", "authorised", "release_requested", "released",
                                   "book_requested", "booked", "done")),
    CreditCase("given-back", 500, (2,), ("not_released", "reversed"), jammed=((0, 2),)),
]
PARAMS = [pytest.param(c, s, id=f"{c.name}-{s}") for c in CASES for s in c.steps] + [
    pytest.param(c, s, id=f"{c.name}-{s}", marks=pytest.mark.slow) for c in SLOW_CASES for s in c.steps
]


def _issue(db_path: Path, cents: int) -> str:
    db = Database(db_path)
    db.open_sync()
    try:
        return db.run_sync(lambda s: ledger.issue(s, cents, prefix=29, origin="return", medium="paper").code)
    finally:
        db.close_sync()


@pytest.mark.parametrize(("case", "step"), PARAMS)
async def test_sigkill_at_every_step_of_a_purchase_with_credit(tmp_path: Path, case: CreditCase, step: str) -> None:
    scenario = Scenario(case.name, case.compartments, case.steps, jammed=case.jammed)
    locks, terminal, config_path, db_path, port = await _station_files(tmp_path, scenario)
    code = _issue(db_path, case.credit)
    log = tmp_path / "daemon.log"
    body = {"compartments": list(case.compartments), "vouchers": [code]}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            first = await _start_daemon(config_path, log, f"sale.{step}")
            await _wait_ready(http, first, log)
            try:
                reply = await http.post("/api/purchases", json=body)
                assert reply.status_code == 202, reply.text
            except httpx.HTTPError:
                assert step == "created"
            assert await asyncio.wait_for(first.wait(), 30) == -signal.SIGKILL, log.read_text()[-2000:]
            second = await _start_daemon(config_path, log, None)
            restarted = time.monotonic()
            try:
                state = None
                while time.monotonic() - restarted < 60 and state not in FINAL:
                    await asyncio.sleep(0.1)
                    with sqlite3.connect(db_path) as con:
                        state = con.execute("SELECT state FROM sales").fetchone()[0]
                assert state in FINAL, log.read_text()[-3000:]
            finally:
                second.send_signal(signal.SIGTERM)
                await asyncio.wait_for(second.wait(), 10)
    finally:
        await terminal.stop()
        await locks.stop()

    with sqlite3.connect(db_path) as con:
        vouchers = con.execute("SELECT origin, amount_cents, state FROM vouchers ORDER BY issued_at").fetchall()
        events = [t for (t,) in con.execute("SELECT type FROM outbox")]
    opened = [c for c in case.compartments if _physically_opened(locks, c)]
    released_value = sum(PRICES[c] for c in opened)
    assert vouchers[0][0] == "return"
    if opened:
        assert vouchers[0][2] == "redeemed" and events.count("voucher.redeemed") == 1, (state, vouchers)
    else:
        assert vouchers[0][2] == "issued" and "voucher.redeemed" not in events, (state, vouchers)
    change = vouchers[1:]
    assert len(change) <= 1 and all(origin == "change" for origin, _, _ in change)
    if change:
        assert change[0][1] == case.credit - released_value  # seen released: the rest comes back, once
    assert terminal.ledger.charged_cents() <= max(0, released_value - case.credit)
    assert terminal.ledger.commands.count("authorisation") <= (0 if case.credit >= sum(
        PRICES[c] for c in case.compartments) else 1)
    print(f"\n{case.name:<16} crash after {step:<18} -> {state:<21} vouchers {vouchers} "
          f"charged {terminal.ledger.charged_cents()}")
