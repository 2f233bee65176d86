"""The real daemon SIGKILLed during a pick-up, then restarted: the order is collected exactly once.

STATION_CRASH_AT=pickup.door_opened kills the daemon after the door flow committed "opened" and before
the order is marked collected; pickup.collecting kills it after the order's arrow to `collecting`
was committed and before any pulse. The simulated lock wall keeps the physical truth across the
restart (the customer shuts the door while the daemon is down, or after it is back).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from simulators.locks import LockBusSimulator
from station.config import parse_config
from station.db.engine import Database
from station.orders import steps
from station.orders.service import NewOrder, announce
from station.pickup import credentials
from station.staff.secret import StationSecret
from tests.conftest import free_port
from tests.pickup.conftest import CODE
from tests.volunteers.conftest import contract_problems, prepare, station_text
from tests.volunteers.test_crash import _daemon

COMPARTMENT = 1  # the smallest free one that fits


async def _ready(http: httpx.AsyncClient, proc: asyncio.subprocess.Process, log: Path) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise AssertionError(f"daemon exited early:\n{log.read_text()[-3000:]}")
        try:
            components = (await http.get("/api/health")).json()["components"]
            if components.get("lockwall", {}).get("status") == "up" and \
                    components.get("pickup", {}).get("status") == "up":
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"daemon not ready:\n{log.read_text()[-3000:]}")


def _loaded_order(config_path: Path) -> None:
    """An order in compartment 1, loaded (as a courier would have done), with the typed code CODE."""
    config = parse_config(config_path.read_text(), str(config_path), base_dir=config_path.parent)
    secret = StationSecret(config.staff.secret_path(config.database.path))
    code = credentials.digest(secret, credentials.Kind.CODE, CODE)
    db = Database(config.database.path)
    db.open_sync()
    try:
        def load(session):  # type: ignore[no-untyped-def]
            new = NewOrder("K-1", size="M", code_hmac=code)
            order_id = announce(session, new, actor="operator:platform")["order_id"]
            steps.start_loading(session, order_id, actor="courier:9")
            steps.loading_done(session, order_id, opened=True, actor="courier:9")

        db.run_sync(load)
    finally:
        db.close_sync()


@pytest.mark.parametrize(("step", "pulses_before", "close_after_s"),
                         [("door_opened", 1, 3.0), ("collecting", 0, 0.3)])
async def test_sigkill_during_a_pickup_collects_the_order_exactly_once(
    tmp_path: Path, step: str, pulses_before: int, close_after_s: float,
) -> None:
    locks = LockBusSimulator("cu16", [0], open_delay_s=0.05, close_after_s=close_after_s)
    lock_url = await locks.start_tcp()
    db_path, port = tmp_path / "station.db", free_port()
    config_path = tmp_path / "station.toml"
    config_path.write_text(station_text(db_path, lock_url).replace("port = 0", f"port = {port}", 1))
    prepare(db_path, parse_config(config_path.read_text()))
    _loaded_order(config_path)
    log = tmp_path / "daemon.log"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            first = await _daemon(config_path, log, f"pickup.{step}")
            await _ready(http, first, log)
            with pytest.raises(httpx.HTTPError):  # killed before it could answer
                await http.post("/api/pickup/collect", json={"code": CODE})
            assert await asyncio.wait_for(first.wait(), 30) == -signal.SIGKILL, log.read_text()[-2000:]
            with sqlite3.connect(db_path) as con:
                assert con.execute("SELECT state FROM orders").fetchall() == [("collecting",)]
            assert locks.unlock_requests() == pulses_before

            second = await _daemon(config_path, log, None)
            try:
                await _ready(http, second, log)
                if step == "collecting":  # nothing opened: the code still works, once
                    again = await http.post("/api/pickup/collect", json={"code": CODE})
                    assert again.status_code == 200, again.text
                    assert again.json()["state"] == "collected"
                await _door_closed(db_path)
                used = await http.post("/api/pickup/collect", json={"code": CODE})
                assert used.status_code == 409 and used.json()["error"] == "order_state"
            finally:
                second.send_signal(signal.SIGTERM)
                await asyncio.wait_for(second.wait(), 10)
    finally:
        await locks.stop()

    assert locks.unlock_requests() == 1  # recovery never pulses; exactly one opening for the customer
    with sqlite3.connect(db_path) as con:
        assert con.execute("SELECT state FROM orders").fetchall() == [("collected",)]
        assert con.execute("SELECT status FROM compartments WHERE id = ?", (COMPARTMENT,)).fetchone() == ("empty",)
        doors = con.execute("SELECT reason, state FROM door_operations ORDER BY id").fetchall()
        collected = con.execute("SELECT COUNT(*) FROM outbox WHERE type = 'order.collected'").fetchone()[0]
    assert doors == [("pickup", "closed")]  # the door was tracked to its close
    assert collected == 1
    problems, types = contract_problems(db_path)
    assert problems == [] and {"order.collected", "door.opened", "door.closed"} <= types, problems


async def _door_closed(db_path: Path) -> None:
    for _ in range(200):
        with sqlite3.connect(db_path) as con:
            row = con.execute("SELECT state FROM door_operations ORDER BY id DESC LIMIT 1").fetchone()
        if row == ("closed",):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the pick-up door was not tracked to its close: {row}")
