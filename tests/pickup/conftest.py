"""A whole station in this process (see tests/volunteers/conftest.py) plus a courier and pick-up helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.volunteers.conftest import Kiosk, Site, cli, make_site, wait_for

COURIER_PIN = "739184"
COURIER_ID = 2  # after the operator (1)
CODE = "4711080815"
QR = "q7Hk2mZr9XwPv4TbN8sLcY1dGe"  # 26 base64url characters: 156 bits


def add_courier(site: Site) -> None:
    args = ["users", "add", "--config", str(site.config_path), "--role", "courier", "--name", "Kurt Kurier",
            "--pin-stdin"]
    assert cli(args, COURIER_PIN + "\n") == 0


@pytest.fixture
async def pickup_site(tmp_path: Path) -> AsyncIterator[Site]:
    async with make_site(tmp_path) as ready:
        add_courier(ready)
        yield ready


async def courier(k: Kiosk) -> dict[str, str]:
    reply = await k.login_pin(COURIER_ID, COURIER_PIN)
    assert reply.status_code == 200, reply.text
    return k.auth(reply.json()["token"])


async def announce(k: Kiosk, operator: str, external_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"external_id": external_id, "size": "M", "pickup_code": CODE, **fields}
    if "expires_in" in body:
        body["expires_at"] = (k.clock.now() + timedelta(seconds=body.pop("expires_in"))).isoformat()
    reply = await k.http.post("/api/staff/orders", json=body, headers=k.auth(operator))
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def pulses(k: Kiosk) -> list[int]:
    """Record every unlock pulse the simulated lock wall receives (lock numbers = compartments here)."""
    seen: list[int] = []
    assert k.locks is not None
    k.locks.on_pulse = lambda _board, lock: seen.append(lock)
    return seen


async def load(k: Kiosk, external_id: str, headers: dict[str, str]) -> dict[str, Any]:
    """A courier loads the order and shuts the door again (the simulator shuts it after 0.3 s)."""
    reply = await k.http.post(f"/api/staff/orders/{external_id}/load", headers=headers)
    assert reply.status_code == 200, reply.text
    compartment = reply.json()["compartment"]
    await wait_for(lambda: not k.station.lockwall.is_open(compartment), what=f"compartment {compartment} shut")
    return dict(reply.json())
