"""Idle time-out: warning by screen, tone and speech with "Mehr Zeit", then everything is cleared."""

from __future__ import annotations

from typing import Any

from tests.ui.conftest import Demo
from tests.ui.kiosk import api, tap, visible_text, wait_screen

# Short time-outs for the test (a simulated station takes them from the URL): warning after 2.5 s.
TIMING = {"idle_s": 4.5, "warn_s": 2}


def _warning_shown(page: Any) -> None:
    page.wait_for_selector('[data-overlay="timeout"]:not([hidden])', timeout=10_000)


def test_idle_timeout_warns_gives_more_time_then_clears_half_typed_input(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape", **TIMING)
    tap(page, '[data-action="large-text"]')
    tap(page, '[data-action="contrast"]')
    tap(page, '[data-action="language"]')
    assert page.evaluate("document.documentElement.lang") == "en"
    tap(page, '[data-screen="start"] [data-action="buy"]')
    tap(page, '[data-action="by-number"]')
    wait_screen(page, "number")
    for digit in "17":
        tap(page, f'[data-screen="number"] [data-digit="{digit}"]')
    assert page.locator('[data-screen="number"] output').inner_text() == "17"

    _warning_shown(page)
    text = visible_text(page)
    assert "Are you still there?" in text and "More time" in text
    tones = page.evaluate("window.kiosk.tones.map(t => t.frequency)")
    assert tones and all(300 <= f <= 3000 for f in tones)
    spoken = [item["key"] for item in page.evaluate("window.kiosk.speech.lastItems")]
    assert spoken[:2] == ["timeout.title", "timeout.explain"]  # spoken although speech was not switched on

    tap(page, '[data-action="more-time"]')
    assert page.locator('[data-overlay="timeout"]').is_hidden()
    assert page.evaluate("window.kiosk.screen") == "number"
    assert page.locator('[data-screen="number"] output').inner_text() == "17"  # more time keeps the input

    _warning_shown(page)
    wait_screen(page, "start", timeout_s=10)  # no answer: back to the start screen, for the next person
    assert page.evaluate("document.documentElement.lang") == "de"
    assert page.evaluate("[document.documentElement.dataset.text, document.documentElement.dataset.theme]") == [
        "normal",
        "normal",
    ]
    assert page.locator('[data-action="large-text"]').get_attribute("aria-pressed") == "false"
    assert "Willkommen" in visible_text(page)
    tap(page, '[data-screen="start"] [data-action="buy"]')
    tap(page, '[data-action="by-number"]')
    assert page.locator('[data-screen="number"] output').inner_text() == "–"  # the half-typed number is gone


def test_start_screen_falls_back_to_the_shop_window_which_wakes_on_touch(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("portrait", window_s=1)
    wait_screen(page, "idle", timeout_s=10)
    page.wait_for_selector('[data-slot="window"] li')
    text = visible_text(page)
    assert "Heute im Angebot" in text and "Bitte Bildschirm berühren" in text
    status, offers = api(demo.url, "GET", "/api/offers")
    assert status == 200 and any(offer["name"] in text for offer in offers)  # what is on offer now
    page.locator('[data-screen="idle"]').tap()
    wait_screen(page, "start")
