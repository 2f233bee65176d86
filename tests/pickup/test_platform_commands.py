"""Orders from the platform over the signed command channel: create_order with credentials (kept only as
keyed hashes), collection by code over HTTP, cancel_order once loaded, revoke_pickup_codes."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from station.db.models import Order
from tests.pickup.conftest import CODE, QR, courier, load
from tests.volunteers.conftest import Site, wait_for
from tests.volunteers.test_platform_commands import _router, _send


async def test_platform_announces_the_station_hashes_the_codes_and_the_customer_collects(pickup_site: Site) -> None:
    async with pickup_site.run() as k:
        router = _router(k)
        expires = (k.clock.now() + timedelta(days=3)).isoformat()
        created = await _send(router, "create_order", {
            "external_id": "P-1", "size": "S", "customer_ref": "K-9", "items": [{"gtin": "4001234567890", "qty": 2}],
            "expires_at": expires, "pickup_code": CODE, "qr_token": QR, "card_uid": "04A1B2C3D4E5F6"})  # fmt: skip
        assert created["status"] == "done", created
        assert created["result"]["state"] == "assigned" and created["result"]["created"] is True
        await load(k, "P-1", await courier(k))
        got = await k.http.post("/api/pickup/collect", json={"code": CODE})
        assert got.status_code == 200 and got.json()["state"] == "collected", got.text
        await wait_for(lambda: not k.station.lockwall.is_open(1), what="the customer shut the door")

        second = await _send(router, "create_order", {"external_id": "P-2", "pickup_code": "9988776655"})
        await load(k, "P-2", await courier(k))
        cancelled = await _send(router, "cancel_order", {"external_id": "P-2", "reason": "customer"})
        assert cancelled["result"] == {"external_id": "P-2", "state": "expired", "changed": True}
        late = await k.http.post("/api/pickup/collect", json={"code": "9988776655"})
        assert late.status_code == 409  # it waits for a volunteer to take it back, nobody else
        revoked = await _send(router, "revoke_pickup_codes", {"token_ids": ["a1", "a2"]})
        assert revoked["result"] == {"revoked": 2, "known": 0}
        assert second["status"] == "done"
        assert k.events("order.expired")[0]["cancelled"] is True
        assert k.contract_problems()[0] == []

    with sqlite3.connect(pickup_site.db_path) as con:  # no credential in clear anywhere in the database
        dump = "\n".join(con.iterdump())
    for secret in (CODE, QR, "04A1B2C3D4E5F6", "9988776655"):
        assert secret not in dump
    assert Order.__tablename__ in dump
