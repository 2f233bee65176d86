"""The real daemon SIGKILLed at every persisted step of a return session, then restarted.

For each step, a daemon started with STATION_CRASH_AT=<step> kills itself right after committing it,
while the simulated shopper (in this process, on the simulated machine) goes on inserting containers.
A second daemon recovers, and the test finishes the return through the HTTP API as a shopper would.
Afterwards, against the simulators' ground truth: every container the machine credited is stored
exactly once and belongs to the return, the shopper is paid for all of them with exactly one voucher,
and its code reached the paper at most once (a reprint is the same voucher, never a second one).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.deposit import DepositBusSimulator, Shopper, SimulatedDepositMachine
from simulators.printer import PrinterSimulator
from station.db import migrate
from tests.conftest import REPO, free_port
from tests.returns.conftest import SEVEN, UNIT, station_config_text

STEPS = [
    "deposit_return.open",  # committed before the machine is asked to open: it never opened
    "deposit_return.counting",  # the machine's session is open
    "deposit_return.container",  # the first container stored, its FIFO event not yet acknowledged
    "deposit_return.choosing",  # counted: the total is final
    "deposit_return.voucher",  # the voucher, its receipt and its print job stored
    "print_job.sending",  # about to send the voucher to the printer
    "print_job.printed",  # the printer confirmed it
]
ITEMS = SEVEN[:5]
PAID = 25 + 25 + 15 + 150 + 15  # what the station pays for those five at its configured amounts


async def _daemon(config: Path, log: Path, crash_at: str | None) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "STATION_CRASH_AT"}
    if crash_at:
        env["STATION_CRASH_AT"] = crash_at
    with open(log, "ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "station.cli", "run", "--config", str(config), "--log-format", "text",
            cwd=REPO, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip


async def _ready(http: httpx.AsyncClient, proc: asyncio.subprocess.Process, log: Path) -> None:
    """The daemon answers and its deposit service has recovered (it talks to the machine)."""
    for _ in range(300):
        if proc.returncode is not None:
            raise AssertionError(f"daemon exited early:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError, KeyError):
            detail = (await http.get("/api/health")).json()["components"]["deposit"]["detail"]
            if detail["available"] and detail["recovering"] == []:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"daemon not ready:\n{log.read_text()[-3000:]}")


def _sql(db: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return con.execute(query, args).fetchall()


async def _drive(http: httpx.AsyncClient, db: Path, shopper: asyncio.Task[Any], proc: Any) -> None:
    """Act as the shopper at the screen until the return is paid out and printed (or the daemon dies)."""
    handled: set[str | None] = set()  # returns already acted on: none yet, or a cancelled one
    while proc.returncode is None:
        rows = _sql(db, "SELECT id, state, count FROM deposit_returns ORDER BY created_at DESC LIMIT 1")
        return_id, state, count = rows[0] if rows else (None, None, 0)
        try:
            if state in (None, "cancelled") and return_id not in handled:  # (re)start: the shopper still waits
                handled.add(return_id)
                await http.post("/api/returns")
            elif state == "counting" and shopper.done() and count == len(shopper.result().accepted):
                await http.post(f"/api/returns/{return_id}/finish")
            elif state == "choosing":
                await http.post(f"/api/returns/{return_id}/choice", json={"choice": "voucher"})
            elif state == "voucher":
                jobs = _sql(db, "SELECT state FROM print_jobs")
                if jobs and jobs[-1][0] in ("printed", "unconfirmed", "expired"):
                    return
        except httpx.HTTPError:
            pass  # killed while answering
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("step", STEPS)
async def test_sigkill_at_every_persisted_step_of_a_return(tmp_path: Path, step: str) -> None:
    machine = SimulatedDepositMachine(UNIT, fifo_capacity=16, seed=5)
    line = DepositBusSimulator([machine], seed=5)
    printer = PrinterSimulator(seed=1)
    port = free_port()
    db = tmp_path / "station.db"
    migrate.upgrade(db)
    config = tmp_path / "station.toml"
    config.write_text(station_config_text(db, deposit_url=await line.start_tcp(), printer_url=await printer.start_tcp(),
                                          http_port=port))
    log = tmp_path / "daemon.log"
    shopper = asyncio.create_task(Shopper(machine, random.Random(2)).feed(ITEMS, pace_s=0.05, give_up_s=60))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            first = await _daemon(config, log, step)
            await _ready(http, first, log)
            await asyncio.wait_for(_drive(http, db, shopper, first), 30)
            assert await asyncio.wait_for(first.wait(), 10) == -signal.SIGKILL, log.read_text()[-2000:]

            second = await _daemon(config, log, None)
            restarted = time.monotonic()
            try:
                await _ready(http, second, log)
                await asyncio.wait_for(_drive(http, db, shopper, second), 30)
                recovery_s = time.monotonic() - restarted
                voucher = _sql(db, "SELECT code FROM vouchers")
                if step == "print_job.sending":  # sent never, or maybe: not sent again; the shopper asks for a copy
                    reprint = await http.post(f"/api/vouchers/{voucher[0][0]}/print")
                    assert reprint.status_code == 202, reprint.text
                    await printer.wait_jobs(1, timeout=5)
            finally:
                second.send_signal(signal.SIGTERM)
                await asyncio.wait_for(second.wait(), 10)
    finally:
        shopper.cancel()
        await line.stop()
        await printer.stop()

    report = shopper.result() if shopper.done() and not shopper.cancelled() else None
    assert report is not None and len(report.accepted) == len(ITEMS), report
    # Every container the machine credited is stored once, in the paid return; nothing is left in its FIFO.
    items = _sql(db, "SELECT machine_session, seq, return_id, late FROM deposit_return_items ORDER BY id")
    assert [(s, q) for s, q, _, _ in items] == [event.key for event in machine.ledger]
    paid = _sql(db, "SELECT id, total_cents, count FROM deposit_returns WHERE state = 'voucher'")
    assert len(paid) == 1 and paid[0][1:] == (PAID, len(ITEMS))
    assert {(r, late) for _, _, r, late in items} == {(paid[0][0], 0)} and not machine.fifo
    # Exactly one voucher, worth the total, in the ledger and in the outbox.
    vouchers = _sql(db, "SELECT code, amount_cents, issued_for FROM vouchers")
    assert vouchers == [(vouchers[0][0], PAID, paid[0][0])]
    types = [t for (t,) in _sql(db, "SELECT type FROM outbox")]
    assert (types.count("voucher.issued"), types.count("deposit_return.voucher")) == (1, 1)
    # On paper: that code only, once (a crash while sending is never resent by itself; the copy is asked for).
    printed = [b.data for job in printer.jobs if job.printed for b in job.barcodes]
    assert printed == [vouchers[0][0]], (printed, step)
    print(f"\ncrash after {step:<26} -> stored {len(items)} of {len(machine.ledger)}, voucher {PAID} cents, "
          f"recovered in {recovery_s:.1f} s")
