"""The volunteers' temperature chart: the last 24 hours per fridge from the HACCP log, with the zone's limit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from station.coldchain import haccp
from tests.volunteers.conftest import BERLIN, cli, make_site
from tests.volunteers.test_end_of_day import DEAD_LINE, _write


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BERLIN)


def _readings(session: Session) -> None:
    haccp.append(session, [
        haccp.Entry(at=_at(21, 8, 30), kind="sample", fridge="chiller", probe="probe1", value_dc=30),  # > 24 h ago
        haccp.Entry(at=_at(21, 14, 10), kind="sample", fridge="chiller", probe="probe1", value_dc=68),
        haccp.Entry(at=_at(21, 14, 40), kind="sample", fridge="chiller", probe="probe1", value_dc=62),
        haccp.Entry(at=_at(21, 15), kind="sample", fridge="chiller", probe="probe2", value_dc=-80),  # evaporator
        haccp.Entry(at=_at(21, 16), kind="aggregate", fridge="chiller", probe="probe1", min_dc=39, max_dc=52,
                    mean_dc=45, n=12),
        haccp.Entry(at=_at(22, 8, 50), kind="sample", fridge="chiller", probe="probe1", value_dc=95),
        haccp.Entry(at=_at(22, 8, 55), kind="event", fridge="chiller", status="door_open"),
    ])  # fmt: skip


async def test_the_last_24_hours_per_fridge_with_the_zone_limit(tmp_path: Path) -> None:
    async with make_site(tmp_path, nfc=False, extra=DEAD_LINE) as site:  # the clock stands at 22 Dec 09:00
        _write(site, _readings)
        async with site.run() as kiosk:
            assert (await kiosk.http.get("/api/staff/reports/temperatures")).status_code == 401
            assert cli(["users", "add", "--config", str(site.config_path), "--name", "Anna", "--pin-stdin"],
                       "482915\n") == 0  # fmt: skip
            auth = kiosk.auth((await kiosk.login_pin(2, "482915")).json()["token"])
            reply = await kiosk.http.get("/api/staff/reports/temperatures?hours=24&buckets=24", headers=auth)
            assert reply.status_code == 200, reply.text
            chart = reply.json()
            assert datetime.fromisoformat(chart["since"]) == _at(21, 9)
            [fridge] = chart["fridges"]
            assert (fridge["fridge"], fridge["zone"], fridge["probe"]) == ("chiller", "chilled", "probe1")
            assert (fridge["limit_c"], fridge["ceiling_c"]) == (7.0, None)  # the chilled class's limit
            points = [(datetime.fromisoformat(p["at"]), p["min_c"], p["max_c"], p["mean_c"]) for p in fridge["points"]]
            assert points == [
                (_at(21, 14), 6.2, 6.8, 6.5),  # two samples in one hour
                (_at(21, 16), 3.9, 5.2, 4.5),  # an hourly aggregate keeps its low, high and mean
                (_at(22, 8), 9.5, 9.5, 9.5),  # above the limit: the chart draws it above the line
            ]
            too_many = await kiosk.http.get("/api/staff/reports/temperatures?hours=24&buckets=1000", headers=auth)
            assert too_many.status_code == 422
