"""The real daemon SIGKILLed between "door opened for restock" and "contents recorded", then restarted.

A daemon started with STATION_CRASH_AT=restock.<state> kills itself right after committing that
step of the restocking flow (requested: the compartment moved to restocking, before the pulse;
opened: the door's opening recorded). After the restart the compartment must be `needs_check`,
not offered, and a task must say why, through the HTTP API.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from simulators.locks import LockBusSimulator
from station.compartments.contents import load
from station.config import parse_config
from station.db.engine import Database
from tests.conftest import REPO, free_port
from tests.volunteers.conftest import cli, contract_problems, prepare, station_text

PIN = "482915"
BREAD = "4001234567890"


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
    for _ in range(300):
        if proc.returncode is not None:
            raise AssertionError(f"daemon exited early:\n{log.read_text()[-3000:]}")
        try:
            health = (await http.get("/api/health")).json()
            if health["components"].get("lockwall", {}).get("status") == "up" and "restock" in health["components"]:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"daemon not ready:\n{log.read_text()[-3000:]}")


async def _login(http: httpx.AsyncClient) -> dict[str, str]:
    reply = await http.post("/api/staff/login/pin", json={"account_id": 1, "pin": PIN})
    assert reply.status_code == 200, reply.text
    return {"X-Staff-Session": reply.json()["token"]}


@pytest.mark.parametrize("step", ["requested", "opened"])
async def test_sigkill_between_door_opened_and_contents_recorded_leaves_the_compartment_to_be_checked(
    tmp_path: Path, step: str
) -> None:
    locks = LockBusSimulator("cu16", [0], open_delay_s=0.05, close_after_s=0.5)
    lock_url = await locks.start_tcp()
    db_path, port = tmp_path / "station.db", free_port()
    config_path = tmp_path / "station.toml"
    config_path.write_text(station_text(db_path, lock_url).replace("port = 0", f"port = {port}", 1))
    prepare(db_path, parse_config(config_path.read_text()))
    db = Database(db_path)
    db.open_sync()
    db.run_sync(lambda s: load(s, 3, BREAD, 2, best_before=date.today() + timedelta(days=5), actor="volunteer:1"))
    db.close_sync()
    assert cli(["users", "add", "--config", str(config_path), "--name", "Anna", "--pin-stdin"], PIN + "\n") == 0
    log = tmp_path / "daemon.log"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            first = await _daemon(config_path, log, f"restock.{step}")
            await _ready(http, first, log)
            assert 3 in {o["compartment"] for o in (await http.get("/api/offers")).json()}
            auth = await _login(http)
            with pytest.raises(httpx.HTTPError):  # killed before it could answer
                await http.post("/api/staff/restocks", headers=auth, json={"compartment": 3})
            assert await asyncio.wait_for(first.wait(), 30) == -signal.SIGKILL, log.read_text()[-2000:]
            with sqlite3.connect(db_path) as con:
                assert con.execute("SELECT state FROM restock_sessions").fetchall() == [(step,)]
                assert con.execute("SELECT status FROM compartments WHERE id = 3").fetchone() == ("restocking",)
            pulses = locks.unlock_requests()
            assert pulses == (1 if step == "opened" else 0)

            second = await _daemon(config_path, log, None)
            try:
                await _ready(http, second, log)
                offered = {o["compartment"] for o in (await http.get("/api/offers")).json()}
                assert 3 not in offered
                auth = await _login(http)  # the restart ended the old session
                tasks = (await http.get("/api/staff/tasks", headers=auth)).json()
            finally:
                second.send_signal(signal.SIGTERM)
                await asyncio.wait_for(second.wait(), 10)
    finally:
        await locks.stop()

    check = [t for t in tasks if t["compartment"] == 3]
    assert [(t["code"], t["where"]) for t in check] == [("compartment.needs_check", "Fach 3")], tasks
    assert check[0]["what"] == "Auffüllen wurde durch einen Neustart unterbrochen – Inhalt unbekannt"
    assert "Inhalt prüfen" in check[0]["todo"]
    assert locks.unlock_requests() == pulses  # recovery never pulses a door
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT status FROM compartments WHERE id = 3").fetchone() == ("needs_check",)
        assert con.execute("SELECT state FROM restock_sessions").fetchall() == [("interrupted",)]
        sessions = con.execute("SELECT state FROM volunteer_sessions ORDER BY id").fetchall()
    assert sessions == [("expired",), ("expired",)]  # the kill's ended by recovery, the other by the stop
    problems, types = contract_problems(db_path)
    assert problems == [] and {"restock.interrupted", "compartment.needs_check"} <= types, problems
