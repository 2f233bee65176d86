"""Bring the kiosk page to each of its screens, the way a shopper gets there where that is quick.

Screens a real flow shows only for a moment (the terminal's prompt, an open door, the error
screens) are drawn by the flow's own `preview()` with sample data; the flow tests reach them for real.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import segno

from tests.ui.kiosk import tap, wait_screen

# Every main screen and overlay, in the order a shopper meets them.
VISITS = (
    *("idle", "start", "buy", "number", "item", "age", "pickup", "pickup-door", "pickup-done"),
    *("pay", "pay-app", "door", "done", "declined", "error", "help", "timeout"),
    *("return", "return-choice", "return-voucher", "return-thanks", "voucher", "voucher-ok", "problem"),
    *("staff-login", "staff-home", "staff-open", "staff-restock", "staff-remove", "staff-load", "staff-amount"),
    *("staff-cold", "staff-report", "staff-temps", "staff-printer"),
)


def _app_request_preview() -> dict[str, Any]:
    """A payment request as the API shows it (unsigned: only its picture and expiry are drawn)."""
    expires = (datetime.now(UTC) + timedelta(seconds=170)).isoformat()
    body = json.dumps({"station_id": "demo-01", "sale_id": "preview", "amount_cents": 435, "expires_at": expires})
    request = {"schema": "app-payment-request/1", "body": body, "sig": "preview"}
    svg = io.BytesIO()
    segno.make(json.dumps(request), error="m").save(svg, kind="svg", scale=4, xmldecl=False)
    url = "data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode()
    return {"state": "app_requested", "way": "app", "total": 435, "compartments": [2], "appRequest": request,
            "qrUrl": url}  # fmt: skip


PREVIEWS = {
    "pay": {"state": "payment_requested", "message": "Bitte Karte einstecken oder auflegen", "total": 435,
            "compartments": [2]},
    "door": {"state": "released", "door": 2, "compartments": [2]},
    "done": {"state": "done", "total": 435, "booked": 435, "compartments": [2]},
    "declined": {"state": "declined", "total": 399},
    "error": {"code": "reversed"},
    "pay-app": _app_request_preview(),
}  # fmt: skip

_VOUCHER = {
    "voucher_id": "v1",
    "code": "2900000001753",
    "amount_cents": 175,
    "medium": "paper",
    "state": "issued",
    "receipt_id": None,
    "receipt_url": None,
    "print_state": "printed",
}
_RETURN = {
    "return_id": "preview",
    "state": "counting",
    "count": 7,
    "total_cents": 175,
    "choice": None,
    "vouchers": [],
    "items": [{"kind": "single_use", "label": "Einweg", "count": 7, "deposit_cents": 25}],
}
RETURN_PREVIEWS = {
    "return": {"view": _RETURN},
    "return-choice": {"view": {**_RETURN, "state": "choosing"}, "deposit": {"donation_recipient": "Tafel Musterdorf"}},
    "return-voucher": {"view": {**_RETURN, "state": "voucher", "vouchers": [_VOUCHER]}},
    "return-thanks": {"view": {**_RETURN, "state": "donated"}},
    "voucher-ok": {"credit": {"code": "2900000001753", "amount_cents": 175}},
}  # fmt: skip

_TASKS = [
    {
        "code": "coldchain.corrective_action",
        "subject": "compartment:23",
        "where": "Fach 23",
        "compartment": 23,
        "what": "Kühlung gestört: 11,5 °C",
        "todo": "Ware prüfen: entsorgen oder mit Messung behalten",
        "since": "2026-11-28T06:00:00Z",
        "severity": "critical",
    },
    {
        "code": "goods.use_by_soon",
        "subject": "compartment:1",
        "where": "Fach 1",
        "compartment": 1,
        "what": "Frische Vollmilch 1 l: Verbrauchsdatum 30.11.2026",
        "todo": "Am Tag vorher entnehmen",
        "since": "2026-11-28T06:00:00Z",
        "severity": "warning",
    },
    {
        "code": "printer.paper_low",
        "subject": "device:printer",
        "where": "Drucker",
        "compartment": None,
        "what": "Papier geht zur Neige",
        "todo": "Neue Rolle einlegen",
        "since": "2026-11-28T06:00:00Z",
        "severity": "info",
    },
]
_OPEN = {
    "id": 1,
    "compartment": 3,
    "purpose": "restock",
    "state": "opened",
    "contents": [
        {
            "gtin": "4006381333931",
            "name": "Frische Vollmilch 1 l",
            "quantity": 2,
            "best_before": None,
            "use_by": "2026-12-03",
            "lot": None,
            "loaded_by": "volunteer:1",
        }
    ],
}
_PRODUCTS = [
    {
        "gtin": f"400000000000{n}",
        "name": name,
        "price_cents": 100 + n * 35,
        "temperature_class": "ambient",
        "needs_date": False,
        "past_best_before_price_cents": None,
    }
    for n, name in enumerate(["Bauernbrot 750 g", "Honig 500 g", "Apfelsaft 1 l", "Eier 6 Stück", "Nudeln 500 g"])
]
_REPORT = {
    "day": "2026-11-28",
    "sales": {"count": 12, "total_cents": 4385},
    "card": {"booked_cents": 4385},
    "stock": {"loaded_items": 18, "removed_items": 2},
    "temperatures": {
        "chilled": {"min_c": 3.1, "max_c": 6.4, "readings": 288},
        "frozen": {"min_c": -21.0, "max_c": -17.5, "readings": 288},
    },
    "open_tasks": _TASKS,
}


def _temperatures_preview() -> dict[str, Any]:
    """24 hours of one chilled fridge with a short rise above its limit, and a freezer."""
    until = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
    since = until - timedelta(hours=24)

    def points(base: float, bump_at: int, bump: float) -> list[dict[str, Any]]:
        out = []
        for hour in range(24):
            mean = base + (bump if hour in (bump_at, bump_at + 1) else 0.3 * (hour % 3))
            at = (since + timedelta(hours=hour)).isoformat()
            out.append({"at": at, "min_c": round(mean - 0.4, 1), "max_c": round(mean + 0.4, 1), "mean_c": mean})
        return out

    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "fridges": [
            {"fridge": "chiller-1", "zone": "chilled", "probe": "product", "limit_c": 7.0, "ceiling_c": None,
             "points": points(4.2, 14, 4.1)},
            {"fridge": "freezer-1", "zone": "frozen", "probe": "product", "limit_c": -18.0, "ceiling_c": -15.0,
             "points": points(-21.0, 6, 2.5)},
        ],
    }  # fmt: skip


STAFF_PREVIEWS = {
    "staff-home": {"tasks": _TASKS},
    "staff-open": {},
    "staff-restock": {"restock": {"current": _OPEN}},
    "staff-remove": {"restock": {"current": _OPEN}},
    "staff-load": {"restock": {"current": _OPEN, "products": _PRODUCTS}},
    "staff-amount": {"restock": {"current": _OPEN, "product": {**_PRODUCTS[0], "needs_date": True, "count": 2,
                                                               "kind": "use_by", "days": 5}}},
    "staff-cold": {"cold": {"compartment": 23, "celsius": 4.5, "reason": "measured"}},
    "staff-report": {"report": _REPORT},
    "staff-temps": {"temps": _temperatures_preview()},
    "staff-printer": {"printer": {"state": "paper_out", "faults": ["paper_out"], "detail": None, "queued": 2}},
}  # fmt: skip
PICKUP_PREVIEWS = {
    "pickup-door": {"step": {"compartment": 24, "outcome": "opened", "kind": "order"}},
    "pickup-done": {"step": {"compartment": 24, "outcome": "opened", "kind": "order"}},
}
PROBLEM = {"title": {"key": "return.error.full.title"}, "money": {"key": "return.error.nothing_taken"},
           "next": {"key": "return.error.full.next"}}  # fmt: skip


def home(page: Any) -> None:
    """Back to the start screen without resetting the display modes (unlike a time-out)."""
    page.evaluate(
        """() => { const k = window.kiosk; k.closeOverlay(); k.purchase.clear(); k.shop.clear(); k.returns.clear();
                   k.pickup.clear(); k.staff.session = null; k.staff.clear(); k.credit = null; k.show('start'); }"""
    )


def visit(page: Any, name: str) -> None:
    home(page)
    if name == "start":
        return
    if name == "idle":
        page.evaluate("() => window.kiosk.show('idle')")
    elif name in PREVIEWS:
        page.evaluate(f"() => window.kiosk.purchase.preview({json.dumps(name)}, {json.dumps(PREVIEWS[name])})")
    elif name in RETURN_PREVIEWS:
        page.evaluate(f"() => window.kiosk.returns.preview({json.dumps(name)}, {json.dumps(RETURN_PREVIEWS[name])})")
    elif name in STAFF_PREVIEWS:
        page.evaluate(f"() => window.kiosk.staff.preview({json.dumps(name)}, {json.dumps(STAFF_PREVIEWS[name])})")
    elif name in PICKUP_PREVIEWS:
        page.evaluate(f"() => window.kiosk.pickup.preview({json.dumps(name)}, {json.dumps(PICKUP_PREVIEWS[name])})")
    elif name == "problem":
        page.evaluate(f"() => window.kiosk.problem({json.dumps(PROBLEM)})")
    elif name in ("voucher", "staff-login", "pickup"):
        tap(page, f'[data-screen="start"] [data-action="{name}"]')
    elif name == "help":
        tap(page, '[data-action="help"]')
        page.wait_for_selector('[data-overlay="help"]:not([hidden])')
        return
    elif name == "timeout":
        page.evaluate("() => { window.kiosk.show('buy'); window.kiosk.warnTimeout(20); }")
        page.wait_for_selector('[data-overlay="timeout"]:not([hidden])')
        return
    else:
        tap(page, '[data-screen="start"] [data-action="buy"]')
        wait_screen(page, "buy")
        page.wait_for_selector('.tile[data-state="for_sale"]')
        if name == "number":
            tap(page, '[data-action="by-number"]')
            tap(page, '[data-screen="number"] [data-digit="1"]')
        elif name == "item":
            tap(page, '.tile[data-state="for_sale"]')
        elif name == "age":
            page.evaluate("() => window.kiosk.shop.select(19)")
            tap(page, '[data-action="age-continue"]')
    wait_screen(page, name)
    page.wait_for_timeout(50)  # let the layout settle (fonts, grid measured)
