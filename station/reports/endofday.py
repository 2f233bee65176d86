"""The volunteers' end-of-day report: sales by product, card totals against the terminal, goods in and
out, temperatures per zone, open tasks. A read model over the day's rows (local day of the station).

`report(...)` builds it (the API shows it; `receipts` kind `end_of_day` prints the money part);
`record(...)` sends it to the platform as a `report.end_of_day` event, audited with who asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import day_bounds
from ..db.engine import raw_cursor
from ..db.models import AuditEntry, Payment, Priority, Product, Sale, SaleLine
from ..db.types import to_db_time
from ..journal import audit
from ..outbox import record_event
from ..tasks import Task

EVENT = "report.end_of_day"
SOLD = ("done",)  # booked and finished; charge_unknown and released_not_charged are listed apart


@dataclass(frozen=True)
class ProbeOfZone:
    """Which HACCP series stands for a zone: a controller and its product probe."""

    fridge: str
    probe: str
    zone: str


def report(session: Session, day: date, tz: ZoneInfo, probes: Sequence[ProbeOfZone], tasks: Sequence[Task],
           *, now: datetime) -> dict[str, Any]:
    """Everything of one local day; money in cents, temperatures in °C, times ISO-8601 UTC."""
    start, end = day_bounds(day, tz)
    return {
        "day": day.isoformat(),
        "timezone": tz.key,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "made_at": now.isoformat(),
        "sales": _sales(session, start, end),
        "card": _card(session, start, end),
        "stock": _stock(session, start, end),
        "temperatures": _temperatures(session, start, end, probes),
        "open_tasks": [t.as_dict() for t in tasks],
    }


def _sales(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    rows = session.execute(
        select(Sale.state, SaleLine.gtin, Product.name, SaleLine.quantity, SaleLine.unit_price_cents,
               SaleLine.deposit_cents, SaleLine.state)
        .join(SaleLine, SaleLine.sale_id == Sale.id)
        .join(Product, Product.id == SaleLine.product_id)
        .where(Sale.created_at >= start, Sale.created_at < end)
    ).all()  # fmt: skip
    by_product: dict[str, dict[str, Any]] = {}
    for sale_state, gtin, name, qty, unit, deposit, line_state in rows:
        if sale_state not in SOLD or line_state != "released":
            continue
        item = by_product.setdefault(gtin or name, {"gtin": gtin, "name": name, "quantity": 0, "goods_cents": 0,
                                                    "deposit_cents": 0})  # fmt: skip
        item["quantity"] += qty
        item["goods_cents"] += qty * unit
        item["deposit_cents"] += qty * deposit
    states: dict[str, int] = {}
    for (state,) in session.execute(select(Sale.state).where(Sale.created_at >= start, Sale.created_at < end)):
        states[state] = states.get(state, 0) + 1
    products = sorted(by_product.values(), key=lambda p: (-p["goods_cents"], p["name"]))
    total = sum(p["goods_cents"] + p["deposit_cents"] for p in products)
    return {"count": states.get("done", 0), "total_cents": total, "by_product": products, "by_state": states}


def _card(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """Booked card payments of the day, and the terminal's end-of-day runs that happened on it."""
    booked = session.scalars(
        select(Payment).where(Payment.kind == "authorisation", Payment.state == "booked",
                              Payment.created_at >= start, Payment.created_at < end)
    ).all()  # fmt: skip
    runs = session.scalars(
        select(Payment).where(Payment.kind == "end_of_day", Payment.created_at >= start, Payment.created_at < end)
        .order_by(Payment.id)
    ).all()  # fmt: skip
    return {
        "booked_count": len(booked),
        "booked_cents": sum(p.amount_cents for p in booked),
        "terminal_end_of_day": [
            {"end_of_day_id": r.id, "at": r.created_at.isoformat(), "terminal_cents": r.amount_cents,
             "expected_cents": r.details.get("expected_cents"), "difference_cents": r.details.get("difference_cents"),
             "count": r.details.get("count")}
            for r in runs
        ],
    }


def _stock(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(["stock.loaded", "stock.removed"]),
                                 AuditEntry.at >= start, AuditEntry.at < end).order_by(AuditEntry.id)
    ).all()  # fmt: skip
    loaded, removed = [], []
    for e in entries:
        d = e.details
        if e.action == "stock.loaded":
            loaded.append({"at": e.at.isoformat(), "compartment": d["compartment"], "gtin": d["gtin"],
                           "name": d["name"], "quantity": d["quantity"], "best_before": d.get("best_before"),
                           "use_by": d.get("use_by"), "by": e.actor})  # fmt: skip
        else:
            for item in d.get("items", []):
                removed.append({"at": e.at.isoformat(), "compartment": d["compartment"], "gtin": item["gtin"],
                                "name": item["name"], "quantity": item["quantity"], "reason": d.get("reason"),
                                "by": e.actor})  # fmt: skip
    return {"loaded": loaded, "removed": removed, "loaded_items": sum(x["quantity"] for x in loaded),
            "removed_items": sum(x["quantity"] for x in removed)}  # fmt: skip


def _temperatures(session: Session, start: datetime, end: datetime,
                  probes: Sequence[ProbeOfZone]) -> dict[str, dict[str, Any]]:
    """Min and max per zone over its controllers' product probes (samples and hourly aggregates)."""
    zone_of = {(p.fridge, p.probe): p.zone for p in probes}
    out: dict[str, dict[str, Any]] = {p.zone: {"min_c": None, "max_c": None, "readings": 0} for p in probes}
    cur = raw_cursor(session)
    try:
        cur.execute(
            "SELECT fridge, probe, MIN(COALESCE(min_dc, value_dc)), MAX(COALESCE(max_dc, value_dc)), "
            "SUM(COALESCE(n, CASE WHEN value_dc IS NULL THEN 0 ELSE 1 END)) FROM haccp_log "
            "WHERE at >= ? AND at < ? AND kind IN ('sample', 'aggregate') GROUP BY fridge, probe",
            (to_db_time(start), to_db_time(end)),
        )
        rows = cur.fetchall()
    finally:
        cur.close()
    for fridge, probe, low, high, count in rows:
        zone = zone_of.get((fridge, probe))
        if zone is None or low is None:
            continue
        entry = out[zone]
        entry["min_c"] = low / 10 if entry["min_c"] is None else min(entry["min_c"], low / 10)
        entry["max_c"] = high / 10 if entry["max_c"] is None else max(entry["max_c"], high / 10)
        entry["readings"] += int(count or 0)
    return out


def record(session: Session, data: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
    """Send the report to the platform (outbox), with an audit entry naming who sent it."""
    payload = {**data, "sent_by": actor}
    payload["audit_id"] = audit(session, EVENT, f"day:{data['day']}", actor=actor, emit=False,
                                details={"day": data["day"], "sales_total_cents": data["sales"]["total_cents"]})
    record_event(session, EVENT, payload, priority=Priority.STOCK)
    return payload


def receipt_data(data: Mapping[str, Any], *, station_name: str, station_id: str = "") -> dict[str, Any]:
    """The report as `station.receipts` kind `end_of_day` wants it (for whoever prints it)."""
    card = data["card"]
    runs = card["terminal_end_of_day"]
    return {
        "shop": {"name": station_name, "station_id": station_id},
        "business_date": data["day"],
        "at": data["made_at"],
        "sales_count": data["sales"]["count"],
        "by_payment": [{"method": "Karte", "count": card["booked_count"], "total_cents": card["booked_cents"]}],
        "terminal_total_cents": sum(r["terminal_cents"] for r in runs) if runs else None,
        "open_issues": [f"{t['where']}: {t['what']}" for t in data["open_tasks"]],
    }
