"""The restock report of one restocking session: what went in and out, by whom, with the open tasks.

Read from the audit log (the loads and removals carry `reference = "restock:<id>"`), so it can be
printed any time later. The shape fits `station.receipts.RestockReport` (kind `restock_report`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import AuditEntry, Volunteer
from ..db.staff_models import RestockSession
from .flow import subject

REASON_WORDS = {"expired": "abgelaufen", "damaged": "beschädigt", "recalled": "Rückruf", "other": "sonstiges",
                "cold_chain_discarded": "Kühlkette unterbrochen"}  # fmt: skip


def restock_lines(session: Session, restock_id: int) -> list[dict[str, Any]]:
    """One line per product loaded or removed, in the order they happened."""
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.reference == subject(restock_id),
                                 AuditEntry.action.in_(["stock.loaded", "stock.removed"]))
        .order_by(AuditEntry.id)
    )  # fmt: skip
    lines: list[dict[str, Any]] = []
    for entry in rows:
        d = entry.details
        if entry.action == "stock.loaded":
            lines.append({"compartment": d["compartment"], "product": d["name"], "gtin": d["gtin"],
                          "added": d["quantity"], "removed": 0, "best_before": d.get("best_before"),
                          "use_by": d.get("use_by"), "lot": d.get("lot"), "reason": None})  # fmt: skip
        else:
            for item in d.get("items", []):
                lines.append({"compartment": d["compartment"], "product": item["name"], "gtin": item["gtin"],
                              "added": 0, "removed": item["quantity"], "best_before": item.get("best_before"),
                              "use_by": item.get("use_by"), "lot": item.get("lot"),
                              "reason": REASON_WORDS.get(str(d.get("reason")), d.get("reason"))})  # fmt: skip
    return lines


def restock_report(session: Session, restock_id: int, open_tasks: list[str]) -> dict[str, Any] | None:
    """Data for a printed restock report (RestockReport fields plus the restock's id and state)."""
    row = session.get(RestockSession, restock_id)
    if row is None:
        return None
    name = session.scalar(select(Volunteer.name).where(Volunteer.id == row.volunteer_id)) or row.actor
    lines = restock_lines(session, restock_id)
    return {
        "restock_id": row.id,
        "compartment": row.compartment_id,
        "state": row.state,
        "volunteer": name,
        "at": (row.closed_at or row.updated_at).isoformat(),
        "lines": lines,
        "added_total": sum(line["added"] for line in lines),
        "removed_total": sum(line["removed"] for line in lines),
        "open_tasks": open_tasks,
    }


def receipt_data(report: dict[str, Any], *, station_name: str, station_id: str = "") -> dict[str, Any]:
    """A restock report as `station.receipts` kind `restock_report` wants it (for whoever prints it)."""
    return {
        "shop": {"name": station_name, "station_id": station_id},
        "volunteer": report["volunteer"],
        "at": report["at"],
        "lines": [{"compartment": line["compartment"], "product": line["product"], "added": line["added"],
                   "removed": line["removed"], "best_before": line["best_before"] or line["use_by"],
                   "reason": line["reason"]} for line in report["lines"]],
        "open_tasks": report["open_tasks"],
    }
