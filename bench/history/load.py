"""Requests at a fixed rate against the running daemon (open loop), and purchases timed on the physical record."""

from __future__ import annotations

import asyncio
import gc
import statistics
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


async def at_rate(base: str, path: str, rate: float, seconds: float, headers: dict[str, str] | None = None) -> Latency:
    """GET `path` `rate` times a second for `seconds` (each request starts on schedule, late or not)."""
    took: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, headers=headers or {}, timeout=5.0,
                                 limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)) as client:
        await client.get(path)  # warm the connection and the route

        async def one(at: float) -> None:
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
            took.append(time.perf_counter() - started)

        start = time.perf_counter() + 0.1
        gc.disable()  # the client's own collections are not the daemon's pauses
        try:
            await asyncio.gather(*(one(start + i / rate) for i in range(int(rate * seconds))))
        finally:
            gc.enable()
    return Latency.of(took, errors)


async def staff_token(base: str, account_id: int, pin: str) -> str:
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        reply = await client.post("/api/staff/login/pin", json={"account_id": account_id, "pin": pin},
                                  headers={"X-Keypad": "kiosk"})
        reply.raise_for_status()
        return str(reply.json()["token"])


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
