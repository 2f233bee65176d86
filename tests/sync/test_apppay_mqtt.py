"""Paying by app end to end: HTTP purchase → signed QR request → platform's signed confirmation over Mosquitto
→ door pulse on the lock simulator → the sale event at the platform consumer; refusals open nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import types
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from central.apppay import confirm_request, confirmation_params, read_request
from central.console import BrokerAccess
from central.consumer import Platform
from simulators.locks import LockBusSimulator
from simulators.zvt import ZvtSimulator
from station.api.app import create_app
from sync.component import SyncComponent
from sync.connector import Endpoint
from sync.mqttio import ConnectOptions
from sync.signing import generate_key, public_key_text, save_private_key
from tests.purchase.conftest import SIM, STATION_ID, Shop, open_shop
from tests.sync.sync_helpers import mqtt_config, wait_connected

KEY = generate_key()
REPO = Path(__file__).resolve().parents[2]
MILK = 2 * (149 + 15)
BEER = 189 + 8


class Seq:
    def __init__(self) -> None:
        self.value = 0

    def next(self) -> int:
        self.value += 1
        return self.value


@pytest.fixture
async def linked(tmp_path: Path, mosquitto) -> AsyncIterator[tuple[Shop, SyncComponent, BrokerAccess]]:
    locks = LockBusSimulator("cu16", [0, 1], open_delay_s=0.05, close_after_s=0.3)
    async with open_shop(tmp_path, locks, ZvtSimulator(SIM)) as shop:
        config = mqtt_config(mosquitto.port, operator_keys={"platform": public_key_text(KEY)})
        sync = SyncComponent(config, STATION_ID, shop.db, purchases=shop.service)
        shop.service.app.uplink = lambda: sync.connection is not None
        await sync.start()
        await wait_connected(sync)
        access = BrokerAccess([Endpoint("127.0.0.1", mosquitto.port)], ConnectOptions(client_id="pay", clean=True))
        try:
            yield shop, sync, access
        finally:
            await sync.stop()


def http(shop: Shop) -> httpx.AsyncClient:
    station = types.SimpleNamespace(db=shop.db, purchases=shop.service, lockwall=shop.service.lockwall)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(station)), base_url="http://station")


async def test_app_purchase_from_the_api_to_the_door_and_the_platform(linked, tmp_path: Path, mosquitto) -> None:
    shop, _sync, access = linked
    platform = Platform([Endpoint("127.0.0.1", mosquitto.port)], tmp_path / "platform.db")
    await platform.start()
    seq = Seq()
    try:
        async with http(shop) as client:
            assert (await client.get("/api/payment-methods")).json()["app"] is True
            started = (await client.post("/api/purchases", json={"compartments": [1], "pay_with": "app"})).json()
            assert started["state"] == "app_requested" and started["qr_url"]
            svg = await client.get(started["qr_url"])
            assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
            assert svg.content.lstrip().startswith(b"<svg")
        station_key = shop.service.app.signer.public_key_text()
        body = read_request(started["app_request"], station_key)  # what the app scanned, verified
        assert (body["sale_id"], body["amount_cents"]) == (started["sale_id"], MILK)
        params = confirmation_params(body, payment_id="pay-e2e")
        [result] = await confirm_request(access, KEY, issuer="platform", issuer_seq=seq.next(), params=params)
        assert result["status"] == "done" and result["result"]["accepted"] is True
        sale = await shop.finished(started["sale_id"])
        assert sale.state == "done" and sale.paid_by == "app" and shop.locks.unlock_requests(0) == 1
        replay = await confirm_request(access, KEY, issuer="platform", issuer_seq=seq.next(), params=params)
        assert replay[0]["status"] == "failed" and replay[0]["reason"] == "already_used"
        assert shop.locks.unlock_requests(0) == 1  # replayed: nothing opens again

        def sale_events() -> list[str]:
            return [e["type"] for e in platform.store.events(STATION_ID) if e["type"].startswith("sale.")]

        assert await platform.wait_for(lambda: "sale.done" in sale_events(), 10)
        assert sale_events()[:2] == ["sale.app_paid", "sale.done"]
    finally:
        await platform.stop()


@pytest.mark.parametrize("case", ["wrong_amount", "other_station", "late", "no_age_flag"])
async def test_refused_confirmations_open_nothing_and_ask_back(linked, case: str) -> None:
    shop, _sync, access = linked
    seq = Seq()
    compartment = 3 if case == "no_age_flag" else 1
    if case == "late":
        shop.service.app.request_ttl_s = 0.3
    sale_id = await shop.service.begin([compartment], pay_with="app")
    signed = await shop.db.read(lambda s: shop.service.app.request_in(s, sale_id))
    body = read_request(signed, shop.service.app.signer.public_key_text())
    if case == "late":
        await shop.finished(sale_id, within=5)
    params = confirmation_params(body, amount_cents=MILK - 1 if case == "wrong_amount" else None)
    if case == "other_station":
        params["station_id"] = "other-station"
    [result] = await confirm_request(access, KEY, issuer="platform", issuer_seq=seq.next(), params=params,
                                     station_id=STATION_ID)
    expected = {"wrong_amount": "wrong_amount", "other_station": "wrong_station", "late": "late",
                "no_age_flag": "no_age_proof"}[case]
    assert result["status"] == "failed" and result["reason"] == expected and result["result"]["refund_id"]
    assert shop.locks.unlock_requests() == 0
    assert "app.refund_requested" in shop.event_types()


async def test_a_confirmation_addressed_to_another_station_is_rejected(linked) -> None:
    shop, _sync, access = linked
    sale_id = await shop.service.begin([1], pay_with="app")
    signed = await shop.db.read(lambda s: shop.service.app.request_in(s, sale_id))
    params = confirmation_params(read_request(signed, None))
    results = await confirm_request(access, KEY, issuer="platform", issuer_seq=1, params=params,
                                    station_id="other-station", wait_s=1.0)
    assert results == []  # published to the other station's topic: this station never sees it
    assert shop.locks.unlock_requests() == 0


async def test_beer_by_app_with_the_age_flag(linked) -> None:
    shop, _sync, access = linked
    sale_id = await shop.service.begin([3], pay_with="app")
    signed = await shop.db.read(lambda s: shop.service.app.request_in(s, sale_id))
    body = read_request(signed, shop.service.app.signer.public_key_text())
    assert body["min_age"] == 16 and body["amount_cents"] == BEER
    [result] = await confirm_request(access, KEY, issuer="platform", issuer_seq=1,
                                     params=confirmation_params(body, age_verified=18))
    assert result["status"] == "done"
    sale = await shop.finished(sale_id)
    assert sale.state == "done" and sale.age_proof == "app"


def ops_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "station.cli", "ops", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)


async def test_station_ops_confirms_the_sale_shown_on_the_screen(linked, tmp_path: Path, mosquitto) -> None:
    shop, _sync, _access = linked
    keyfile = tmp_path / "platform.pem"
    save_private_key(KEY, keyfile)
    async with http(shop) as client:
        started = (await client.post("/api/purchases", json={"compartments": [2], "pay_with": "app"})).json()
    qr = tmp_path / "qr.json"
    qr.write_text(json.dumps(started["app_request"]))
    sent = await asyncio.to_thread(
        ops_cli, "send", "--broker", f"127.0.0.1:{mosquitto.port}", "--key", str(keyfile), "--issuer", "platform",
        "--station", STATION_ID, "confirm-app-payment", "--request", f"@{qr}",
        "--station-key", shop.service.app.signer.public_key_text())
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert json.loads(sent.stdout)["result"]["accepted"] is True
    sale = await shop.finished(started["sale_id"])
    assert sale.state == "done" and sale.paid_by == "app" and shop.locks.unlock_requests(0) == 1


def test_station_ops_prints_the_station_app_key(tmp_path: Path) -> None:
    from station.config import parse_config
    from station.purchase.apprequest import RequestSigner
    from station.staff.secret import StationSecret
    from tests.conftest import minimal_config

    config_path = tmp_path / "station.toml"
    config_path.write_text(minimal_config(tmp_path / "station.db"))
    out = ops_cli("app-key", "--config", str(config_path))
    assert out.returncode == 0, out.stderr
    config = parse_config(config_path.read_text())
    secret = StationSecret(config.staff.secret_path(config.database.path))
    assert out.stdout.strip() == RequestSigner.from_secret(secret).public_key_text()
