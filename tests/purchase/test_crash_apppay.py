"""The real daemon SIGKILLed at every persisted step of an app payment, then restarted.

The daemon syncs over a private Mosquitto; the platform's confirmation arrives as a signed command.
A daemon started with STATION_CRASH_AT=sale.<step> kills itself right after committing that step; a
second daemon recovers. Afterwards: no door opened without an accepted confirmation, no compartment
released twice, and every cent not released was asked back exactly once.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from central.apppay import confirm_request, confirmation_params
from central.console import BrokerAccess
from simulators.mqtt.localbroker import Mosquitto
from station.purchase import FINAL
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import generate_key, public_key_text
from tests.purchase.conftest import wait_until_final
from tests.purchase.test_crash import PRICES, Scenario, _physically_opened, _start_daemon, _station_files, _wait_ready

KEY = generate_key()
STATION = "test-01"  # tests.conftest.minimal_config


APPROVE = Scenario("app", (1,), ("app_requested", "app_paid", "app_release_requested", "done"))
PARTIAL = Scenario("app-partial", (1, 2), ("app_release_requested", "done"), jammed=((0, 2),))
CASES = [(s, step) for s in (APPROVE, PARTIAL) for step in s.steps]


def _mqtt_section(port: int) -> str:
    return (f'\n[mqtt]\nreconnect_min_s = 0.05\nreconnect_max_s = 0.5\npoll_s = 0.5\n'
            f'[[mqtt.brokers]]\nhost = "127.0.0.1"\nport = {port}\n'
            f'[mqtt.operator_keys]\nplatform = "{public_key_text(KEY)}"\n')


async def _app_ready(http: httpx.AsyncClient) -> None:
    for _ in range(200):
        if (await http.get("/api/payment-methods")).json()["app"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the daemon never connected to the broker")


@pytest.mark.parametrize(("scenario", "step"), CASES, ids=[f"{s.name}-{step}" for s, step in CASES])
async def test_sigkill_at_every_persisted_step_of_an_app_payment(tmp_path: Path, scenario: Scenario,
                                                                 step: str) -> None:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    locks, terminal, config_path, db_path, port = await _station_files(tmp_path, scenario)
    config_path.write_text(config_path.read_text() + _mqtt_section(broker.port))
    access = BrokerAccess([Endpoint("127.0.0.1", broker.port)], ConnectOptions(client_id="platform", clean=True))
    log = tmp_path / "daemon.log"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            first = await _start_daemon(config_path, log, f"sale.{step}")
            await _wait_ready(http, first, log)
            await _app_ready(http)
            body = {"compartments": list(scenario.compartments), "pay_with": "app"}
            started = None
            try:
                started = (await http.post("/api/purchases", json=body)).json()
            except httpx.HTTPError:
                assert step == "app_requested"  # killed while answering
            with sqlite3.connect(db_path) as con:
                sale_id, amount = con.execute("SELECT id, card_cents FROM sales").fetchone()
            params = confirmation_params({"sale_id": sale_id, "station_id": STATION, "amount_cents": amount},
                                         payment_id="pay-kill")
            if started is not None:
                await confirm_request(access, KEY, issuer="platform", issuer_seq=1, params=params, wait_s=2.0)
            assert await asyncio.wait_for(first.wait(), 30) == -signal.SIGKILL, log.read_text()[-2000:]
            opened_before = locks.unlock_requests()

            second = await _start_daemon(config_path, log, None)
            try:
                state = await wait_until_final(http, sale_id)
                assert state in FINAL, f"still {state}:\n{log.read_text()[-3000:]}"
                if step == "app_requested":  # the platform confirms after the restart: too late
                    await _app_ready(http)
                    [late] = await confirm_request(access, KEY, issuer="platform", issuer_seq=2, params=params)
                    assert late["reason"] in ("late", "not_waiting")
                sale = (await http.get(f"/api/purchases/{sale_id}")).json()
            finally:
                second.send_signal(signal.SIGTERM)
                await asyncio.wait_for(second.wait(), 10)
    finally:
        await terminal.stop()
        await locks.stop()
        broker.stop()

    with sqlite3.connect(db_path) as con:
        refunds = con.execute("SELECT payment_id, amount_cents, reason FROM app_refunds").fetchall()
        confirmed = con.execute("SELECT app_payment_id FROM sales").fetchone()[0]
    opened = [c for c in scenario.compartments if _physically_opened(locks, c)]
    paid = sum(PRICES[c] for c in scenario.compartments)
    if confirmed is None:
        assert locks.unlock_requests() == 0, "a door opened without an accepted confirmation"
    assert locks.unlock_requests() == opened_before, "recovery pulsed a door"
    for compartment in scenario.compartments:
        board, lock = (0 if compartment < 17 else 1), 1 + (compartment - 1) % 16
        assert locks.lock(board, lock).pulses <= 2, "released twice"  # one retry for a jammed door, never more
    assert len({r[0] for r in refunds}) == len(refunds), "a payment asked back twice"
    asked_back = sum(r[1] for r in refunds)
    assert sale["booked_cents"] + asked_back == paid, (sale, refunds)
    assert sale["booked_cents"] == sum(PRICES[c] for c in opened)
    print(f"\n{scenario.name:<12} crash after {step:<22} -> {sale['state']:<17} booked {sale['booked_cents']:>4} "
          f"asked back {asked_back:>4} opened {len(opened)}")

