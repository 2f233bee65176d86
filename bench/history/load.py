"""Requests at a fixed rate against the running daemon (open loop), and purchases timed on the physical record."""

from __future__ import annotations

import asyncio
import gc
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

FINAL = {"done", "cancelled", "declined", "aborted", "reversed", "released_not_charged", "charge_unknown"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Latency:
    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int

    @classmethod
    def of(cls, seconds: list[float], errors: int) -> Latency:
        ms = [s * 1000 for s in seconds] or [float("nan")]
        return cls(len(seconds), statistics.median(ms), pct(ms, 0.99), max(ms), errors)


async def at_rate(base: str, path: str, rate: float, seconds: float, headers: dict[str, str] | None = None,
                  warmup: float = 0.0) -> Latency:
    """GET `path` `rate` times a second for `seconds` (each request starts on schedule, late or not).

    The same load runs `warmup` seconds before and is not counted: the client opening its pool of
    connections (a request that finds every connection busy opens one) is not the daemon's latency.
    """
    took: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, headers=headers or {}, timeout=5.0,
                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)) as client:
        await client.get(path)  # warm the connection and the route

        async def one(at: float, counted: bool) -> None:
            nonlocal errors
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            started = time.perf_counter()
            try:
                reply = await client.get(path)
                if reply.status_code != 200:
                    errors += 1
                    return
            except httpx.HTTPError:
                errors += 1
                return
            if counted:
                took.append(time.perf_counter() - started)

        start = time.perf_counter() + 0.1
        gc.disable()  # the client's own collections are not the daemon's pauses
        try:
            skipped = int(rate * warmup)
            await asyncio.gather(*(one(start + i / rate, i >= skipped) for i in range(skipped + int(rate * seconds))))
        finally:
            gc.enable()
    return Latency.of(took, errors)


async def staff_token(base: str, account_id: int, pin: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        reply = await client.post("/api/staff/login/pin", json={"account_id": account_id, "pin": pin},
                                  headers={"X-Keypad": "kiosk"})
        reply.raise_for_status()
        return str(reply.json()["token"])


async def operator_token(base: str, uid: str, pin: str) -> str:
    """An operator's session: badge (as if tapped; simulated stations take the UID) plus PIN."""
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        reply = await client.post(
            "/api/staff/login/badge", json={"uid": uid, "pin": pin}, headers={"X-Keypad": "kiosk"}
        )
        reply.raise_for_status()
        return str(reply.json()["token"])


async def pickups(base: str, compartments: list[int], physical: Any, token: str) -> Latency:
    """One order into each compartment (announced and loaded by the operator), collected by its typed code.

    Code-to-unlock = the bench's clock when the code is sent to the unlock frame at the board (the
    simulator's stamp; one machine, one wall clock).
    """
    took: list[float] = []
    errors = 0
    staff = {"X-Staff-Session": token}
    async with httpx.AsyncClient(base_url=base, timeout=10.0) as client:
        for compartment in compartments:
            order, code = secrets.token_hex(8), f"{secrets.randbelow(10**12):012d}"
            announced = await client.post(
                "/api/staff/orders",
                headers=staff,
                json={"external_id": order, "compartment": compartment, "pickup_code": code},
            )
            loaded = await client.post(f"/api/staff/orders/{order}/load", headers=staff)
            if announced.status_code != 200 or loaded.status_code != 200 or loaded.json()["outcome"] != "opened":
                errors += _failed(compartment, announced, loaded)
                continue
            await _door_closed(physical, compartment, 0)
            while True:  # the station may not have seen the door shut yet: "close it and try again"
                seen = len(physical())
                sent = time.time()
                collected = await client.post("/api/pickup/collect", json={"code": code})
                if collected.status_code != 409 or collected.json()["error"] != "busy":
                    break
                await asyncio.sleep(0.2)
            pulses = [e["t"] for e in physical()[seen:] if e["event"] == "pulse" and e["compartment"] == compartment]
            if collected.status_code != 200 or collected.json()["outcome"] != "opened" or not pulses:
                errors += _failed(compartment, collected)
                continue
            took.append(pulses[0] - sent)
            await _door_closed(physical, compartment, seen)
    return Latency.of(took, errors)


def _failed(compartment: int, *replies: httpx.Response) -> int:
    """Say on stderr what went wrong (a count of errors alone tells nobody why); 1 error."""
    said = "; ".join(f"{r.status_code} {r.text[:200]}" for r in replies)
    print(f"  !! pick-up at compartment {compartment}: {said}", file=sys.stderr)
    return 1


async def _door_closed(physical: Any, compartment: int, since: int, limit_s: float = 20.0) -> None:
    """Until the simulator records the compartment's door shut after record line `since` (the quick shopper)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        record = physical()[since:]
        opened = [i for i, e in enumerate(record) if e["event"] == "door_opened" and e["compartment"] == compartment]
        if opened and any(
            e["event"] == "door_closed" and e["compartment"] == compartment for e in record[opened[-1] :]
        ):
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"compartment {compartment}: the door did not open and shut within {limit_s} s")


async def purchases(base: str, compartments: list[int], physical: Any) -> Latency:
    """Buy each compartment by card; approval-to-unlock = terminal approved → unlock frame at the board.

    Both instants come from the simulators' physical record (another process, wall-clock stamps).
    """
    took: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=10.0) as client:
        for compartment in compartments:
            seen = len(physical())
            reply = await client.post("/api/purchases", json={"compartments": [compartment]})
            if reply.status_code != 202:
                errors += 1
                continue
            sale = reply.json()["sale_id"]
            deadline = time.monotonic() + 20
            state = ""
            while state not in FINAL and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                state = (await client.get(f"/api/purchases/{sale}")).json()["state"]
            new = physical()[seen:]
            approved = [e["t"] for e in new if e["event"] == "terminal_approved"]
            pulses = [e["t"] for e in new if e["event"] == "pulse" and e["compartment"] == compartment]
            if state != "done" or not approved or not pulses:
                errors += 1
                continue
            took.append(pulses[0] - approved[0])
            while not any(e["event"] == "door_closed" and e["compartment"] == compartment for e in physical()[seen:]):
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
    return Latency.of(took, errors)
