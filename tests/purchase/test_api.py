"""The buying API over HTTP (ASGI, in-process) against the simulators."""

from __future__ import annotations

import json
import types

import httpx

from station.api.app import create_app
from station.httpserver import HttpComponent
from station.purchase import FINAL
from tests.purchase.conftest import Shop


def _client(shop: Shop) -> httpx.AsyncClient:
    station = types.SimpleNamespace(db=shop.db, purchases=shop.service, lockwall=shop.service.lockwall)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(station)), base_url="http://station")


async def test_offers_purchase_progress_and_errors(shop: Shop) -> None:
    async with _client(shop) as http:
        offers = (await http.get("/api/offers")).json()
        assert [o["compartment"] for o in offers] == [1, 2, 3, 4, 17, 18]
        milk = offers[0]
        assert (milk["name"], milk["quantity"], milk["total_cents"], milk["available"]) == (
            "Hofmilch 1 l",
            2,
            328,
            True,
        )

        started = await http.post("/api/purchases", json={"compartments": [2]})
        assert started.status_code == 202 and started.json()["total_cents"] == 420
        sale_id = started.json()["sale_id"]
        busy = await http.post("/api/purchases", json={"compartments": [1]})
        assert busy.status_code == 409 and busy.json()["error"] == "busy"

        await shop.finished(sale_id)
        done = (await http.get(f"/api/purchases/{sale_id}")).json()
        assert done["state"] in FINAL and done["message"] == "Vielen Dank für Ihren Einkauf!"
        assert [o["compartment"] for o in (await http.get("/api/offers")).json()] == [1, 3, 4, 17, 18]

        missing = await http.get("/api/purchases/nope")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        gone = await http.post("/api/purchases", json={"compartments": [2]})
        assert gone.status_code == 409 and gone.json()["error"] == "not_available"
        bad = await http.post("/api/purchases", json={"compartments": "2", "extra": 1})
        assert bad.status_code == 422 and bad.json()["error"] == "invalid_request"
        twice = await http.post("/api/purchases", json={"compartments": [17, 17]})
        assert twice.status_code == 422 and twice.json()["detail"][0]["loc"] == ["body", "compartments"]
        late = await http.post(f"/api/purchases/{sale_id}/cancel")
        assert late.status_code == 409 and late.json()["error"] == "too_late"


async def test_progress_streams_as_server_sent_events(shop: Shop) -> None:
    station = types.SimpleNamespace(db=shop.db, purchases=shop.service, lockwall=shop.service.lockwall)
    server = HttpComponent(create_app(station), "127.0.0.1", 0)  # a real server: ASGITransport buffers streams
    await server.start()
    try:
        await _stream_until_done(f"http://127.0.0.1:{server.bound_port}")
    finally:
        await server.stop()


async def _stream_until_done(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        sale_id = (await http.post("/api/purchases", json={"compartments": [1]})).json()["sale_id"]
        states = []
        async with http.stream("GET", f"/api/purchases/{sale_id}/events") as stream:
            async for line in stream.aiter_lines():  # the station ends the stream after the final state
                if line.startswith("data: "):
                    states.append(json.loads(line[6:])["state"])
        assert states[0] in ("created", "payment_requested") and states[-1] == "done"
        assert [s for s in states if s in FINAL] == ["done"]
        # A finished purchase's stream is one event long.
        async with http.stream("GET", f"/api/purchases/{sale_id}/events") as stream:
            again = [json.loads(line[6:])["state"] async for line in stream.aiter_lines() if line.startswith("data: ")]
        assert again == ["done"]
