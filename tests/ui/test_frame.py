"""The frame around every screen: simulated, offline and lost-station banners, help, language."""

from __future__ import annotations

import json
from typing import Any

from tests.ui.conftest import Demo
from tests.ui.kiosk import api, buyable_offer, tap, visible_text, wait_screen


def _banner(page: Any, name: str) -> Any:
    return page.locator(f'[data-banner="{name}"]')


def test_simulated_station_says_so_on_every_screen(open_kiosk: Any, demo: Demo) -> None:
    status, health = api(demo.url, "GET", "/api/health")
    assert status == 200 and health["simulated"] is True
    page = open_kiosk("landscape")
    for action in ('[data-screen="start"] [data-action="buy"]', '[data-action="by-number"]'):
        assert _banner(page, "simulated").is_visible()
        assert "SIMULATION" in _banner(page, "simulated").inner_text()
        tap(page, action)
    assert _banner(page, "simulated").is_visible()


def test_status_stream_matches_the_api(demo: Demo) -> None:
    status, ui = api(demo.url, "GET", "/api/ui/status")
    assert status == 200
    _, health = api(demo.url, "GET", "/api/health")
    assert ui["simulated"] is health["simulated"]
    assert ui["offline"] is (health["components"]["sync"]["detail"]["connected"] is False)
    assert ui["card_payment"] is True
    _, openapi = api(demo.url, "GET", "/api/openapi.json")
    assert {"/api/events/ui", "/api/ui/status", "/api/ui/compartments"} <= set(openapi["paths"])


def _stub_status(page: Any, **changes: Any) -> None:
    """Serve the page's status stream from the test (the rendering only: the real one is tested above)."""
    status = page.evaluate("window.kiosk.status")
    body = f"event: status\ndata: {json.dumps({**status, **changes})}\n\n"
    page.route("**/api/events/ui", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body))


def test_offline_and_card_fault_banners_say_what_still_works(open_kiosk: Any) -> None:
    page = open_kiosk("portrait")
    assert not _banner(page, "offline").is_visible()
    _stub_status(page, offline=True, card_payment=False)
    page.evaluate("window.kiosk.events.close(); window.kiosk.connect()")
    _banner(page, "offline").wait_for(state="visible")
    assert _banner(page, "offline").inner_text().strip() == "Offline – Einkaufen mit Karte funktioniert weiter"
    assert _banner(page, "offline").locator("svg").count() == 1  # an icon too, not colour alone
    assert _banner(page, "card_down").is_visible()
    page.unroute("**/api/events/ui")


def test_lost_station_is_shown(open_kiosk: Any) -> None:
    page = open_kiosk("landscape")
    page.route("**/api/events/ui", lambda route: route.abort())
    page.evaluate("window.kiosk.events.close(); window.kiosk.connect()")
    _banner(page, "no_station").wait_for(state="visible")
    assert "Verbindung zur Station unterbrochen" in _banner(page, "no_station").inner_text()
    page.unroute("**/api/events/ui")


def test_help_names_the_number_to_call_and_the_station(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("portrait")
    tap(page, '[data-action="help"]')
    text = visible_text(page)
    assert f"Rufen Sie an: {demo.hotline}" in text
    assert f"Nummer dieser Station: {demo.station_id}" in text
    assert "wird nichts abgebucht" in text  # what happens to the money
    tap(page, '[data-action="close-help"]')
    assert page.locator('[data-overlay="help"]').is_hidden()


def test_english_is_switchable_and_names_itself(open_kiosk: Any) -> None:
    page = open_kiosk("landscape")
    language = page.locator('[data-action="language"]')
    assert (language.inner_text().strip(), language.get_attribute("lang")) == ("English", "en")
    language.tap()
    assert "Welcome" in visible_text(page) and "Buy" in visible_text(page)
    assert (language.inner_text().strip(), language.get_attribute("lang")) == ("Deutsch", "de")
    tap(page, '[data-screen="start"] [data-action="buy"]')
    wait_screen(page, "buy")
    assert "What would you like to buy?" in visible_text(page)
    assert "Compartment" in page.locator(".tile").first.inner_text()


def test_terminal_prompts_are_shown_in_the_screen_language(open_kiosk: Any) -> None:
    page = open_kiosk("landscape")
    prompt = "Bitte Karte einstecken oder auflegen – Bitte Karte entnehmen"  # as the API sends it
    sample = {"state": "payment_requested", "message": prompt, "total": 164, "compartments": [1]}
    page.evaluate("(sample) => window.kiosk.purchase.preview('pay', sample)", sample)
    assert page.locator('[data-slot="prompt-text"]').inner_text() == prompt
    tap(page, '[data-action="language"]')
    assert (
        page.locator('[data-slot="prompt-text"]').inner_text()
        == "Please insert or tap your card – Please remove your card"
    )
    assert "Amount: €1.64" in visible_text(page)


def test_item_says_card_payment_is_down_before_anyone_tries(open_kiosk: Any, demo: Demo) -> None:
    offer = buyable_offer(demo.url)
    page = open_kiosk("landscape")
    tap(page, '[data-screen="start"] [data-action="buy"]')
    tap(page, f'.tile[data-compartment="{offer["compartment"]}"]')
    wait_screen(page, "item")
    assert page.locator('[data-screen="item"] [data-action="pay"]').is_enabled()
    _stub_status(page, card_payment=False)
    page.evaluate("window.kiosk.events.close(); window.kiosk.connect()")
    page.locator('[data-slot="item-card-down"]').wait_for(state="visible")
    assert page.locator('[data-screen="item"] [data-action="pay"]').is_disabled()
    assert "Kartenzahlung gerade gestört" in visible_text(page)
    page.unroute("**/api/events/ui")
