"""The volunteers' end-of-day report: a local day's sales, card totals, goods, temperatures and tasks.

The day's rows are written the way the services write them (sales and payments, the terminal's
end-of-day, HACCP samples, stock audit entries), at chosen times around the day's edges in Berlin;
the report is read and sent through the API, and sent by itself the next morning.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from station.coldchain import haccp
from station.db.engine import Database
from station.db.models import Alarm, AuditEntry, Payment, Sale, SaleLine, StationMeta
from station.receipts import render_receipt
from station.reports.endofday import receipt_data
from tests.sync.schema_check import errors, rule_for
from tests.volunteers.conftest import BERLIN, Site, cli, make_site, wait_for

DAY = "2026-12-21"  # START (22 Dec, 09:00) is the morning after
DEAD_LINE = """
[modbus_lines.cold]
port = "socket://127.0.0.1:9"
[fridges.chiller]
line = "cold"
unit = 1
zone = "chilled"
[zones.chilled]
temperature_class = "chilled"
"""


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=BERLIN)


def _sale(session: Session, sale_id: str, at: datetime, state: str, lines: list[tuple[int, int, int, str]]) -> None:
    session.add(Sale(id=sale_id, state=state, total_cents=0, booked_cents=0, created_at=at, updated_at=at))
    session.flush()
    gtins = {1: "4006381333931", 2: "4001234567890"}
    for product, quantity, price, line_state in lines:
        session.add(SaleLine(sale_id=sale_id, compartment_id=product, product_id=product, quantity=quantity,
                             unit_price_cents=price, deposit_cents=15 if product == 1 else 0, vat_rate_bp=700,
                             gtin=gtins[product], state=line_state))  # fmt: skip


def _day_rows(session: Session) -> None:
    _sale(session, "a", _at(21, 10), "done", [(1, 2, 149, "released"), (2, 1, 420, "released")])
    _sale(session, "b", _at(21, 12), "declined", [(2, 1, 420, "not_released")])
    _sale(session, "c", _at(20, 23, 30), "done", [(2, 1, 420, "released")])  # the day before (21 Dec 22:30 UTC)
    _sale(session, "d", _at(22, 0, 30), "done", [(2, 1, 420, "released")])  # the day after (21 Dec 23:30 UTC!)
    for at, amount in ((_at(21, 10), 748), (_at(20, 23, 30), 420), (_at(22, 0, 30), 420)):
        session.add(Payment(kind="authorisation", state="booked", amount_cents=amount, created_at=at, updated_at=at))
    session.add(Payment(kind="end_of_day", state="done", amount_cents=420, created_at=_at(21, 3, 30),
                        updated_at=_at(21, 3, 30), details={"expected_cents": 420, "difference_cents": 0, "count": 1}))
    haccp.append(session, [
        haccp.Entry(at=_at(21, 0, 5), kind="sample", fridge="chiller", probe="probe1", value_dc=41),
        haccp.Entry(at=_at(21, 14), kind="sample", fridge="chiller", probe="probe1", value_dc=68),
        haccp.Entry(at=_at(21, 15), kind="sample", fridge="chiller", probe="probe2", value_dc=-80),  # evaporator
        haccp.Entry(at=_at(21, 16), kind="aggregate", fridge="chiller", probe="probe1", min_dc=39, max_dc=52, n=12),
        haccp.Entry(at=_at(22, 0, 10), kind="sample", fridge="chiller", probe="probe1", value_dc=95),
    ])  # fmt: skip
    loaded = {"compartment": 1, "gtin": "4006381333931", "name": "Hofmilch 1 l", "quantity": 4,
              "best_before": None, "use_by": "2026-12-27", "lot": None, "by": "volunteer:2"}
    removed = {"compartment": 2, "items": [{"gtin": "4001234567890", "name": "Bauernbrot 750 g", "quantity": 1,
               "best_before": "2026-12-20", "use_by": None, "lot": None, "loaded_by": "volunteer:2"}],
               "reason": "expired", "by": "volunteer:2"}  # fmt: skip
    session.add(Alarm(kind="door.left_open", subject="compartment:3", raised_at=_at(21, 22), details={}))
    session.add(AuditEntry(at=_at(21, 8), actor="volunteer:2", action="stock.loaded", subject="compartment:1",
                           reason="restock", details=loaded))
    session.add(AuditEntry(at=_at(21, 8, 5), actor="volunteer:2", action="stock.removed", subject="compartment:2",
                           reason="expired", details=removed))


def _write(site: Site, fn: Any) -> None:
    db = Database(site.db_path)
    db.open_sync()
    try:
        db.run_sync(fn)
    finally:
        db.close_sync()


def _valid(payload: dict[str, Any]) -> list[str]:
    rule = rule_for("report.end_of_day")
    assert rule is not None and rule.priority == "stock"
    return errors(payload, rule.payload_schema)


async def test_the_end_of_day_report_of_a_local_day(tmp_path: Path) -> None:
    async with make_site(tmp_path, nfc=False, extra=DEAD_LINE) as site:
        _write(site, _day_rows)
        async with site.run() as kiosk:
            assert (await kiosk.http.get("/api/staff/reports/end-of-day")).status_code == 401
            assert cli(["users", "add", "--config", str(site.config_path), "--name", "Anna", "--pin-stdin"],
                       "482915\n") == 0
            auth = kiosk.auth((await kiosk.login_pin(2, "482915")).json()["token"])
            report = (await kiosk.http.get(f"/api/staff/reports/end-of-day?day={DAY}", headers=auth)).json()

            bounds = (report["day"], datetime.fromisoformat(report["from"]), datetime.fromisoformat(report["to"]))
            assert bounds == (DAY, _at(21, 0), _at(22, 0))  # the local day, 23:00 to 23:00 UTC in winter
            sales = report["sales"]
            assert (sales["count"], sales["total_cents"], sales["by_state"]) == (1, 2 * 164 + 420,
                                                                                {"done": 1, "declined": 1})
            assert [(p["name"], p["quantity"], p["goods_cents"], p["deposit_cents"]) for p in sales["by_product"]] == [
                ("Bauernbrot 750 g", 1, 420, 0), ("Hofmilch 1 l", 2, 298, 30)]
            card = report["card"]
            assert (card["booked_count"], card["booked_cents"]) == (1, 748)
            assert [(r["terminal_cents"], r["expected_cents"], r["difference_cents"]) for r in
                    card["terminal_end_of_day"]] == [(420, 420, 0)]
            assert report["temperatures"] == {"chilled": {"min_c": 3.9, "max_c": 6.8, "readings": 14}}
            stock = report["stock"]
            assert (stock["loaded_items"], stock["removed_items"]) == (4, 1)
            assert stock["removed"][0]["reason"] == "expired" and stock["loaded"][0]["use_by"] == "2026-12-27"
            left_open = [t for t in report["open_tasks"] if t["code"] == "door.left_open"]
            assert [(t["where"], t["what"], t["todo"]) for t in left_open] == [("Fach 3", "Tür steht offen",
                                                                                 "Tür schließen")]
            assert _valid(report | {"sent_by": "volunteer:2", "audit_id": 1}) == []

            sent = await kiosk.http.post("/api/staff/reports/end-of-day", headers=auth, json={"day": DAY})
            assert sent.status_code == 200 and sent.json()["sent_by"] == "volunteer:2"
            events = kiosk.events("report.end_of_day")
            assert [e["day"] for e in events] == [DAY] and _valid(events[0]) == []
            assert [(a.actor, a.subject) for a in kiosk.audit("report.end_of_day")] == [("volunteer:2", f"day:{DAY}")]

            printed = render_receipt("end_of_day", receipt_data(report, station_name="Dorfladen"))
            assert b"Dorfladen" in printed and len(printed) > 200


async def test_the_report_goes_to_the_platform_by_itself_once_a_day(tmp_path: Path) -> None:
    async with make_site(tmp_path, walls=False, nfc=False) as site:
        _write(site, lambda s: s.add(StationMeta(key="report.end_of_day.last_day", value="2026-12-20")))
        async with site.run() as kiosk:  # 22 Dec 09:00: past 04:00, and the 21st is not sent yet
            events = await wait_for(lambda: kiosk.events("report.end_of_day"), what="the daily report")
            assert [(e["day"], e["sent_by"]) for e in events] == [(DAY, "system")] and _valid(events[0]) == []
        async with site.run() as kiosk:  # a restart the same day sends nothing again
            reports = kiosk.station.component("reports")
            assert reports.last_sent == DAY and reports.due_day(kiosk.clock.now()) is None
            kiosk.clock.set(_at(23, 3, 59))
            assert reports.due_day(kiosk.clock.now()) is None  # not before 04:00
            kiosk.clock.set(_at(23, 4, 0))
            assert str(reports.due_day(kiosk.clock.now())) == "2026-12-22"
        assert len(kiosk.events("report.end_of_day")) == 1
