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
)

PREVIEWS = {
    "pay": {"state": "payment_requested", "message": "Bitte Karte einstecken oder auflegen", "total": 435,
            "compartments": [2]},
    "door": {"state": "released", "door": 2, "compartments": [2]},
    "done": {"state": "done", "total": 435, "booked": 435, "compartments": [2]},
    "declined": {"state": "declined", "total": 399},
    "error": {"code": "reversed"},
}  # fmt: skip


def home(page: Any) -> None:
    """Back to the start screen without resetting the display modes (unlike a time-out)."""
    page.evaluate(
        "() => { const k = window.kiosk; k.closeOverlay(); k.purchase.clear(); k.shop.clear(); k.show('start'); }"
    )


def visit(page: Any, name: str) -> None:
    home(page)
    if name == "start":
        return
    if name == "idle":
        page.evaluate("() => window.kiosk.show('idle')")
    elif name in PREVIEWS:
        page.evaluate(f"() => window.kiosk.purchase.preview({json.dumps(name)}, {json.dumps(PREVIEWS[name])})")
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
