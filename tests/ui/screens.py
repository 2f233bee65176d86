"""Bring the kiosk page to each of its screens, the way a shopper gets there where that is quick.

Screens a real flow shows only for a moment (the terminal's prompt, an open door, the error
screens) are drawn by the flow's own `preview()` with sample data; the flow tests reach them for real.
"""

from __future__ import annotations

import json
from typing import Any

from tests.ui.kiosk import tap, wait_screen

# Every main screen and overlay, in the order a shopper meets them.
VISITS = (
    *("idle", "start", "buy", "number", "item", "age"),
    *("pay", "door", "done", "declined", "error", "help", "timeout"),
    *("return", "return-choice", "return-voucher", "return-thanks", "voucher", "voucher-ok", "problem"),
    *("staff-login", "staff-home", "staff-open", "staff-restock", "staff-remove", "staff-load", "staff-amount"),
    *("staff-cold", "staff-report"),
)

PREVIEWS = {
    "pay": {"state": "payment_requested", "message": "Bitte Karte einstecken oder auflegen", "total": 435,
            "compartments": [2]},
    "door": {"state": "released", "door": 2, "compartments": [2]},
    "done": {"state": "done", "total": 435, "booked": 435, "compartments": [2]},
    "declined": {"state": "declined", "total": 399},
    "error": {"code": "reversed"},
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
}  # fmt: skip
PROBLEM = {"title": {"key": "return.error.full.title"}, "money": {"key": "return.error.nothing_taken"},
           "next": {"key": "return.error.full.next"}}  # fmt: skip


def home(page: Any) -> None:
    """Back to the start screen without resetting the display modes (unlike a time-out)."""
    page.evaluate(
        """() => { const k = window.kiosk; k.closeOverlay(); k.purchase.clear(); k.shop.clear(); k.returns.clear();
                   k.staff.session = null; k.staff.clear(); k.credit = null; k.show('start'); }"""
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
    elif name == "problem":
        page.evaluate(f"() => window.kiosk.problem({json.dumps(PROBLEM)})")
    elif name in ("voucher", "staff-login"):
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
