"""A customer collects an order on the touchscreen: code keypad, the door that opened, door closed.

The demo station has an order waiting in compartment 24 (tests/ui/conftest.py, loaded through the
pick-up service's steps); the real daemon checks the code and opens the simulated door.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.ui.conftest import CARD_ORDER_DOOR, CUSTOMER_CARD, ORDER_DOOR, PICKUP_CODE, Demo
from tests.ui.kiosk import api, error_code, shoot, tap, visible_text, wait_screen


def _type(page: Any, digits: str) -> None:
    for digit in digits:
        tap(page, f'[data-screen="pickup"] [data-digit="{digit}"]')


def _message(page: Any) -> str:
    page.wait_for_function("document.querySelector('[data-slot=\"pickup-message\"]').textContent.length > 0")
    return str(page.locator('[data-slot="pickup-message"]').inner_text())


def test_pickup_by_code_from_start_screen_to_door_closed(open_kiosk: Any, demo: Demo, screenshots: Path) -> None:
    page = open_kiosk("portrait")
    tap(page, '[data-screen="start"] [data-action="pickup"]')
    wait_screen(page, "pickup")
    text = visible_text(page)
    assert "Abholcode" in text and "Kundenkarte an das Lesegerät" in text and "QR-Code" in text

    _type(page, "12345")
    tap(page, '[data-screen="pickup"] [data-key="ok"]')
    assert "10 bis 16 Ziffern" in _message(page)  # too short: said on the screen, nothing sent

    _type(page, "67890")  # 1234567890: a code of the right length that no order has
    tap(page, '[data-screen="pickup"] [data-key="ok"]')
    page.wait_for_function(
        "document.querySelector('[data-slot=\"pickup-message\"]').textContent.includes('stimmt nicht')"
    )
    assert page.locator('[data-screen="pickup"] output').inner_text() == "–"  # cleared for the next try
    shoot(page, screenshots, "flow-pickup-wrong-portrait")

    _type(page, PICKUP_CODE)
    tap(page, '[data-screen="pickup"] [data-key="ok"]')
    wait_screen(page, "pickup-door", timeout_s=20)
    shoot(page, screenshots, "flow-pickup-door-portrait")
    text = visible_text(page)
    assert f"Fach {ORDER_DOOR} ist offen" in text
    assert "Bitte nehmen Sie Ihre Bestellung heraus." in text and "Bitte Tür schließen." in text

    wait_screen(page, "pickup-done", timeout_s=30)  # the simulator shuts the door after a few seconds
    shoot(page, screenshots, "flow-pickup-done-portrait")
    text = visible_text(page)
    assert "Tür geschlossen" in text and "Ihre Bestellung ist abgeholt" in text

    # The code was single-use: the same API, without the UI, refuses it now.
    status, body = api(demo.url, "POST", "/api/pickup/collect", {"code": PICKUP_CODE})
    assert (status, error_code(body)) == (409, "order_state"), body


def _answer(page: Any, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """The daemon's refusal for the next pick-up request (a real throttle would lock the shared demo)."""
    page.route(
        "**/api/pickup/collect",
        lambda route: route.fulfill(
            status=status, body=json.dumps(body), headers={"Content-Type": "application/json", **(headers or {})}
        ),
    )


def test_throttle_and_lock_say_how_long_and_that_card_and_qr_still_work(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape")
    tap(page, '[data-screen="start"] [data-action="pickup"]')
    wait_screen(page, "pickup")
    _answer(page, 429, {"error": "throttled", "message": "Zu viele Versuche"}, {"Retry-After": "840"})
    _type(page, "9999999999")
    tap(page, '[data-screen="pickup"] [data-key="ok"]')
    page.wait_for_function("document.querySelector('[data-slot=\"pickup-message\"]').textContent.includes('14')")
    message = _message(page)
    assert "Zu viele falsche Codes" in message and "14 Minuten" in message and "Karte oder QR-Code" in message

    page.unroute("**/api/pickup/collect")
    _answer(page, 429, {"error": "locked", "message": "gesperrt"})
    _type(page, "9999999999")
    tap(page, '[data-screen="pickup"] [data-key="ok"]')
    page.wait_for_function("document.querySelector('[data-slot=\"pickup-message\"]').textContent.includes('gesperrt')")
    message = _message(page)
    assert "Karte oder QR-Code" in message and demo.hotline in message  # whom to call


def test_a_door_that_does_not_open_keeps_the_order_and_offers_to_try_again(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape")
    tap(page, '[data-screen="start"] [data-action="pickup"]')
    _answer(
        page,
        200,
        {
            "external_id": "X",
            "kind": "order",
            "compartment": 5,
            "outcome": "not_opened",
            "state": "loaded",
            "message": "Fach 5 hat sich nicht geöffnet",
        },
    )
    _type(page, "1111111111")
    tap(page, '[data-screen="pickup"] [data-key="ok"]')
    wait_screen(page, "problem")
    text = visible_text(page)
    assert "Fach 5 hat sich nicht geöffnet" in text and "bleibt sicher im Fach" in text
    tap(page, '[data-action="problem-retry"]')
    wait_screen(page, "pickup")


def test_idle_timeout_clears_a_half_typed_pickup_code(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("portrait", idle_s=6, warn_s=3)  # warned after 3 s without a touch
    tap(page, '[data-screen="start"] [data-action="pickup"]')
    _type(page, "47110")
    assert page.locator('[data-screen="pickup"] output').inner_text() == "47110"
    page.wait_for_selector('[data-overlay="timeout"]:not([hidden])', timeout=10_000)
    wait_screen(page, "start", timeout_s=10)  # nobody answered: back to the start, for the next person
    tap(page, '[data-screen="start"] [data-action="pickup"]')
    assert page.locator('[data-screen="pickup"] output').inner_text() == "–"


def test_pickup_with_a_customer_card_on_the_reader(open_kiosk: Any, demo: Demo) -> None:
    """The reader's tap is simulated as in the badge log-in: the poll says a tap waits, and the daemon
    (a simulated station) takes the card's UID with the request; it finds the order and opens its door."""
    page = open_kiosk("landscape")
    tap(page, '[data-screen="start"] [data-action="pickup"]')
    wait_screen(page, "pickup")
    page.route("**/api/pickup/card", lambda route: route.continue_(post_data=json.dumps({"uid": CUSTOMER_CARD})))
    page.route("**/api/staff/badge", lambda route: route.fulfill(json={"tap_waiting": True}))
    wait_screen(page, "pickup-door", timeout_s=20)
    assert f"Fach {CARD_ORDER_DOOR} ist offen" in visible_text(page)
    page.unroute("**/api/staff/badge")
    wait_screen(page, "pickup-done", timeout_s=30)
