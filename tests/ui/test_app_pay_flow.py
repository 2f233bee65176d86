"""Paying by app on the touchscreen: the QR code from the API, the platform's confirmation, the door.

The demo station runs its own Mosquitto and pins the demo operator key (station/demo.py); the test
confirms the payment as the platform does, with `station ops send … confirm-app-payment` reading
the QR code's content (a real subprocess over the broker), and the station verifies it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from station.config import load_config
from station.demo import DEMO_ISSUER
from tests.conftest import REPO
from tests.ui.conftest import APP_AGE_DOOR, APP_AGE_PRODUCT, Demo
from tests.ui.kiosk import api, buyable_offer, error_code, shoot, tap, visible_text, wait_sale_final, wait_screen

AGE_DOOR = APP_AGE_DOOR  # a fruit brandy, from 18 (tests/ui/conftest.py)


def _ops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "station.cli", "ops", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def _confirm(demo: Demo, sale_id: str, folder: Path, *age: str) -> dict[str, Any]:
    """The platform's side: read the QR code's content, verify it with the station's app key, confirm it."""
    status, sale = api(demo.url, "GET", f"/api/purchases/{sale_id}")
    assert status == 200 and sale["state"] == "app_requested", sale
    request = folder / "qr.json"
    request.write_text(json.dumps(sale["app_request"]))
    station_key = _ops("app-key", "--config", str(demo.config_path))
    assert station_key.returncode == 0, station_key.stderr
    config = load_config(demo.config_path)
    assert config.mqtt is not None
    broker = config.mqtt.brokers[0]
    sent = _ops(
        *("send", "--broker", f"127.0.0.1:{broker.port}", "--key", str(demo.db_path.parent / "demo-operator.key")),
        *("--issuer", DEMO_ISSUER, "--station", demo.station_id, "confirm-app-payment", "--request", f"@{request}"),
        *("--station-key", station_key.stdout.strip(), *age),
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    answer: dict[str, Any] = json.loads(sent.stdout)
    return answer


def _to_item(page: Any, compartment: int) -> None:
    tap(page, '[data-screen="start"] [data-action="buy"]')
    wait_screen(page, "buy")
    page.evaluate(f"() => window.kiosk.shop.select({compartment})")
    wait_screen(page, "item")


def test_app_payment_confirmed_by_the_platform_opens_the_door(
    open_kiosk: Any, demo: Demo, screenshots: Path, tmp_path: Path
) -> None:
    offer = buyable_offer(demo.url)
    page = open_kiosk("portrait")
    _to_item(page, offer["compartment"])
    page.wait_for_selector('[data-action="pay-app"]:visible', timeout=30_000)  # once the station's uplink is up
    tap(page, '[data-screen="item"] [data-action="pay-app"]')
    wait_screen(page, "pay-app")
    page.wait_for_function("document.querySelector('[data-slot=\"payapp-qr\"]').naturalWidth > 0")
    shoot(page, screenshots, "flow-pay-app-portrait")
    text = visible_text(page)
    price = f"{offer['total_cents'] // 100},{offer['total_cents'] % 100:02d}\xa0€"
    assert f"Betrag: {price}" in text and "Wir warten auf Ihre App" in text
    assert "Der Code gilt noch höchstens 3 Min." in text
    page.wait_for_function("document.querySelector('[data-slot=\"payapp-clock\"]').textContent.startsWith('2:5')")
    sale_id = page.evaluate("window.kiosk.purchase.sale")

    answer = _confirm(demo, sale_id, tmp_path)
    assert answer["result"]["accepted"] is True, answer
    wait_screen(page, "door", timeout_s=20)
    assert f"Fach {offer['compartment']} ist offen" in visible_text(page)
    wait_screen(page, "done", timeout_s=30)  # the simulator shuts the door
    sale = wait_sale_final(demo.url, sale_id)
    assert (sale["state"], sale["paid_by"], sale["booked_cents"]) == ("done", "app", offer["total_cents"])
    assert f"Abgebucht: {price}" in visible_text(page)


def test_age_check_offers_card_and_app_and_the_app_proves_the_age(
    open_kiosk: Any, demo: Demo, screenshots: Path, tmp_path: Path
) -> None:
    page = open_kiosk("landscape")
    _to_item(page, AGE_DOOR)
    tap(page, '[data-action="age-continue"]')
    wait_screen(page, "age")
    page.wait_for_selector('[data-slot="age-pay-app"]:visible', timeout=30_000)
    text = visible_text(page)
    assert "Erst ab 18 Jahren" in text and "Kundenkarte" in text and "Noch keine Karte gelesen." in text
    assert "die App prüft Ihr Alter" in text and "Bezahlt wird erst nach der Prüfung." in text
    assert page.locator('[data-slot="age-pay-card"]').is_disabled()  # no card on the reader yet
    assert api(demo.url, "GET", "/api/age-check/card") == (200, {"card_waiting": False})

    # A card seen by the reader (the poll says so), but the daemon knows no age for it: refused, said why.
    page.route("**/api/age-check/card", lambda route: route.fulfill(json={"card_waiting": True}))
    state = page.locator('[data-slot="age-card-state"]')
    page.wait_for_function("window.kiosk.appPay.cardRead")
    assert state.inner_text().strip() == "Karte gelesen."
    assert "notice-ok" in (state.get_attribute("class") or "")  # a tick icon and the word, not colour alone
    page.unroute("**/api/age-check/card")
    tap(page, '[data-slot="age-pay-card"]')
    page.wait_for_function("document.querySelector('[data-slot=\"age-message\"]').textContent.length > 0")
    wait_screen(page, "age")
    assert "nicht für Waren ab 18 Jahren freigeschaltet" in visible_text(page)
    shoot(page, screenshots, "flow-age-refused-landscape")
    # The same API without the UI refuses it the same way.
    status, body = api(demo.url, "POST", "/api/purchases", {"compartments": [AGE_DOOR]})
    assert (status, error_code(body)) == (403, "age_check_required"), body

    tap(page, '[data-slot="age-pay-app"]')
    wait_screen(page, "pay-app")
    page.wait_for_function("window.kiosk.purchase.qrUrl")  # the station answered with its signed request
    sale_id = page.evaluate("window.kiosk.purchase.sale")
    answer = _confirm(demo, sale_id, tmp_path, "--age-verified", "18")
    assert answer["result"]["accepted"] is True, answer
    wait_screen(page, "done", timeout_s=40)
    sale = wait_sale_final(demo.url, sale_id)
    assert (sale["state"], sale["paid_by"], sale["age_proof"]) == ("done", "app", "app")
    assert sale["booked_cents"] == APP_AGE_PRODUCT[1]


def test_without_the_app_the_screen_says_the_card_works(open_kiosk: Any, demo: Demo) -> None:
    """No uplink (the answer of GET /api/payment-methods then), or the link lost between choice and payment."""
    offer = buyable_offer(demo.url)
    page = open_kiosk("landscape")
    refusal = "Die App kann gerade nicht genutzt werden – bitte mit Karte bezahlen"
    methods = {"card": True, "app": False, "age_proofs": ["customer_card"], "message": refusal}
    page.route("**/api/payment-methods", lambda route: route.fulfill(json=methods))
    _to_item(page, offer["compartment"])
    page.wait_for_selector('[data-slot="item-app-down"]:visible')
    assert "Mit der App bezahlen geht gerade nicht – mit Karte geht es." in visible_text(page)
    assert not page.locator('[data-slot="item-pay-app"]').is_visible()
    assert page.locator('[data-screen="item"] [data-action="pay"]').is_enabled()

    answer = {"error": "app_unavailable", "message": refusal}
    page.route("**/api/purchases", lambda route: route.fulfill(status=409, json=answer))
    page.evaluate("() => window.kiosk.purchase.begin(window.kiosk.shop.selectedEntry().offer, 'app')")
    wait_screen(page, "error")
    text = visible_text(page)
    assert "Die App kann gerade nicht genutzt werden" in text and "Mit Karte bezahlen geht weiter." in text
