"""A cold-chain block cleared by a volunteer's corrective action through the API; the HACCP export names her.

The fridge is a simulated Dixell controller on a Modbus line over TCP, polled in real time by the
station's cold chain. Its product probe shorts: the zone's temperature is unknown, which counts as
too warm, and both compartments with milk are blocked. Anna discards one and keeps the other once
the probe is back, with the temperature she measured.
"""

from __future__ import annotations

import csv
import json
import time
from datetime import date, timedelta
from pathlib import Path

from drivers.fridge import load_map
from simulators.fridge import FridgeBusSimulator
from tests.volunteers.conftest import START, Kiosk, cli, make_site, wait_for

PIN = "482915"
MILK = "4006381333931"


def _cold(port: str) -> str:
    return f"""
[modbus_lines.cold]
port = "{port}"
baudrate = 115200
gap_ms = 1
timeout_ms = 200
retries = 0
reconnect_min_s = 0.05

[fridges.chiller]
line = "cold"
unit = 1
zone = "chilled"
poll_s = 0.2

[zones.chilled]
temperature_class = "chilled"
alarm_delay_s = 0
"""


async def _post(kiosk: Kiosk, token: str, path: str, body: dict | None = None) -> dict:
    reply = await kiosk.http.post(path, headers=kiosk.auth(token), json=body)
    assert reply.status_code == 200, (path, reply.text)
    return dict(reply.json())


async def _stock_milk(kiosk: Kiosk, token: str, compartment: int) -> None:
    opened = await _post(kiosk, token, "/api/staff/restocks", {"compartment": compartment})
    use_by = (START.date() + timedelta(days=5)).isoformat()
    body = {"gtin": MILK, "quantity": 2, "use_by": use_by}
    await _post(kiosk, token, f"/api/staff/restocks/{opened['id']}/load", body)
    await _post(kiosk, token, f"/api/staff/restocks/{opened['id']}/close")


def _zone_celsius(kiosk: Kiosk) -> float | None:
    return kiosk.station.coldchain.health().detail["zones"]["chilled"]["celsius"]  # type: ignore[no-any-return]


async def test_a_volunteer_clears_a_cold_chain_block_and_the_haccp_export_names_her(tmp_path: Path) -> None:
    started = time.monotonic()
    sim = FridgeBusSimulator(load_map("dixell-xr"), [1], clock=lambda: time.monotonic() - started, seed=3)
    port = await sim.start_tcp()
    try:
        async with make_site(tmp_path, nfc=False, extra=_cold(port), zoned={1: "chilled", 2: "chilled"}) as site:
            assert cli(["users", "add", "--config", str(site.config_path), "--name", "Anna Ehrenamt", "--pin-stdin"],
                       PIN + "\n") == 0
            async with site.run() as kiosk:
                token = (await kiosk.login_pin(2, PIN)).json()["token"]
                await wait_for(lambda: _zone_celsius(kiosk) is not None, what="the first reading of the fridge")
                for compartment in (1, 2):
                    await _stock_milk(kiosk, token, compartment)
                sim.controller(1).fail_probe("probe1", "short")
                blocked = await wait_for(lambda: kiosk.station.coldchain.health().detail["blocked_compartments"],
                                         what="the block")
                await wait_for(lambda: len(kiosk.station.coldchain.health().detail["blocked_compartments"]) == 2)
                assert blocked and not [o for o in (await kiosk.http.get("/api/offers")).json()]
                tasks = (await kiosk.http.get("/api/staff/tasks", headers=kiosk.auth(token))).json()
                assert sorted(t["compartment"] for t in tasks if t["code"] == "coldchain.corrective_action") == [1, 2]

                discarded = await _post(kiosk, token, "/api/staff/corrective-actions",
                                        {"compartment": 1, "action": "discarded"})
                assert (discarded["by"], discarded["by_name"], discarded["status"]) == (
                    "volunteer:2", "Anna Ehrenamt", "empty")
                assert discarded["discarded"][0]["quantity"] == 2

                keep = {"compartment": 2, "action": "kept", "reason": "Sonde getauscht, Kerntemperatur gemessen",
                        "measured_c": 4.5}
                early = await kiosk.http.post("/api/staff/corrective-actions", headers=kiosk.auth(token), json=keep)
                assert early.status_code == 422 and "unbekannt" in early.json()["message"]
                sim.controller(1).clear_faults()
                await wait_for(lambda: _zone_celsius(kiosk) is not None, what="the probe back")
                kept = await _post(kiosk, token, "/api/staff/corrective-actions", keep)
                assert (kept["status"], kept["measured_c"], kept["by_name"]) == ("loaded", 4.5, "Anna Ehrenamt")
                assert [o["compartment"] for o in (await kiosk.http.get("/api/offers")).json()] == [2]
                tasks = (await kiosk.http.get("/api/staff/tasks", headers=kiosk.auth(token))).json()
                assert not [t for t in tasks if t["code"] == "coldchain.corrective_action"]
                again = await kiosk.http.post("/api/staff/corrective-actions", headers=kiosk.auth(token), json=keep)
                assert again.status_code == 409  # nothing blocked any more

            released = kiosk.events("coldchain.compartment_released")
            assert [(e["action"], e["actor"], e["by_name"]) for e in released] == [
                ("discarded", "volunteer:2", "Anna Ehrenamt"), ("kept", "volunteer:2", "Anna Ehrenamt")]
            problems, types = kiosk.contract_problems()
            assert problems == [] and "coldchain.compartment_released" in types, problems
            export = tmp_path / "haccp.csv"
            today = date.today()
            args = ["haccp", "export", "--config", str(site.config_path), "--from", str(today - timedelta(days=1)),
                    "--to", str(today + timedelta(days=1)), "--output", str(export)]
            assert cli(args) == 0
            with export.open(encoding="utf-8-sig", newline="") as csv_file:
                table = list(csv.reader(csv_file, delimiter=";"))
            details = [json.loads(row[11]) for row in table[1:] if row[10] == "compartment_released"]
            assert [(d["action"], d["by"], d["by_name"]) for d in details] == [
                ("discarded", "volunteer:2", "Anna Ehrenamt"), ("kept", "volunteer:2", "Anna Ehrenamt")]
            assert (details[1]["reason"], details[1]["measured_c"]) == ("Sonde getauscht, Kerntemperatur gemessen", 4.5)
    finally:
        await sim.stop()
