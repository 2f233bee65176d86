"""A shopper buys on the touchscreen of a demo station: real browser, real daemon, simulated devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ui.conftest import AGE_PRODUCT, Demo
from tests.ui.kiosk import api, buyable_offer, shoot, tap, visible_text, wait_sale_final, wait_screen

# Records every text the payment prompt showed, so prompts that pass in milliseconds are seen too.
RECORD_PROMPTS = """
window.__prompts = [];
new MutationObserver(() => {
  const el = document.querySelector('[data-slot="prompt-text"]');
  const text = el && el.textContent;
  if (text && window.__prompts[window.__prompts.length - 1] !== text) window.__prompts.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""
RECORD_PURCHASE_POSTS = """
window.__posts = [];
const originalFetch = window.fetch;
window.fetch = (url, options) => {
  if (String(url).includes('/api/purchases') && options && options.method === 'POST') window.__posts.push(String(url));
  return originalFetch(url, options);
};
"""


def _sale_id(page: Any) -> str:
    sale: str = page.evaluate("window.kiosk.purchase.sale")
    assert sale
    return sale


def test_purchase_from_start_screen_to_door_closed(open_kiosk: Any, demo: Demo, screenshots: Path) -> None:
    offer = buyable_offer(demo.url)
    page = open_kiosk("landscape")
    page.add_init_script(RECORD_PROMPTS)
    page.reload()
    page.wait_for_function("window.kiosk && window.kiosk.screen === 'start'")
    tap(page, '[data-screen="start"] [data-action="buy"]')
    wait_screen(page, "buy")
    tap(page, f'.tile[data-compartment="{offer["compartment"]}"]')
    wait_screen(page, "item")
    text = visible_text(page)
    assert offer["name"] in text and f"Fach {offer['compartment']}" in text
    tap(page, '[data-action="pay"]')

    wait_screen(page, "door")
    shoot(page, screenshots, "flow-door-landscape")
    text = visible_text(page)
    assert f"Fach {offer['compartment']} ist offen" in text
    assert "Bitte Ware entnehmen." in text and "Bitte Tür schließen." in text
    prompts = page.evaluate("window.__prompts")
    assert "Das Kartenterminal wird vorbereitet …" in prompts
    assert "Bitte Karte einstecken oder auflegen" in prompts, prompts  # the terminal's own prompt, live

    wait_screen(page, "done", timeout_s=30)  # the simulated door is shut by the simulator after 8 s
    shoot(page, screenshots, "flow-done-landscape")
    sale = wait_sale_final(demo.url, _sale_id(page))
    assert (sale["state"], sale["booked_cents"]) == ("done", offer["total_cents"])
    text = visible_text(page)
    assert "Tür geschlossen" in text
    price = f"{offer['total_cents'] // 100},{offer['total_cents'] % 100:02d}\xa0€"
    assert f"Abgebucht: {price}" in text


def test_declined_card_says_nothing_was_charged(open_kiosk: Any, demo: Demo, screenshots: Path) -> None:
    offer = buyable_offer(demo.url, declined=True)  # the simulated terminal declines totals ending in ,99
    page = open_kiosk("portrait")
    tap(page, '[data-screen="start"] [data-action="buy"]')
    tap(page, f'.tile[data-compartment="{offer["compartment"]}"]')
    tap(page, '[data-action="pay"]')
    wait_screen(page, "declined")
    shoot(page, screenshots, "flow-declined-portrait")
    text = visible_text(page)
    assert "Zahlung abgelehnt" in text and "Es wurde nichts abgebucht." in text
    assert demo.hotline in text  # whom to call
    assert wait_sale_final(demo.url, _sale_id(page))["state"] == "declined"
    _, offers = api(demo.url, "GET", "/api/offers")
    assert offer["compartment"] in {o["compartment"] for o in offers}, "a declined card leaves the goods on sale"


def test_age_restricted_goods_explain_the_age_check_and_start_no_payment(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape")
    page.add_init_script(RECORD_PURCHASE_POSTS)
    page.reload()
    page.wait_for_function("window.kiosk && window.kiosk.screen === 'start'")
    tap(page, '[data-screen="start"] [data-action="buy"]')
    wait_screen(page, "buy")
    tile = page.locator('.tile[data-compartment="19"]')
    assert "Ab 18" in tile.inner_text() and AGE_PRODUCT[1] in tile.inner_text()
    tile.tap()
    wait_screen(page, "item")
    assert "Ab 18 Jahren: Altersnachweis nötig" in visible_text(page)
    assert not page.locator('[data-screen="item"] [data-action="pay"]').is_visible()
    tap(page, '[data-action="age-continue"]')
    wait_screen(page, "age")
    text = visible_text(page)
    assert "Erst ab 18 Jahren" in text and "Kundenkarte" in text and "Bezahlt wird erst nach der Prüfung." in text
    assert page.evaluate("window.__posts") == []  # no payment was started


def test_grid_shows_every_door_with_its_state_in_words(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape")
    tap(page, '[data-screen="start"] [data-action="buy"]')
    wait_screen(page, "buy")
    page.wait_for_selector('.tile[data-state="sold_out"]')
    states: dict[int, tuple[str, str]] = {}
    while True:  # the grid is paged, never scrolled
        for el in page.locator(".tile").all():
            states[int(el.get_attribute("data-compartment"))] = (el.get_attribute("data-state"), el.inner_text())
        if not page.locator('[data-action="next-page"]').is_visible():
            break
        tap(page, '[data-action="next-page"]')
    assert states[20][0] == "sold_out" and "Ausverkauft" in states[20][1]
    assert states[21][0] == "blocked" and "Gesperrt" in states[21][1]
    assert states[22][0] == "needs_check" and "Wird geprüft" in states[22][1]
    for number in (21, 22):  # not a button: nothing to tap, and an icon beside the word
        tile = page.locator(f'.tile[data-compartment="{number}"]')
        assert tile.evaluate("el => el.tagName") == "DIV"
        assert tile.locator("svg").count() == 1
    offer = buyable_offer(demo.url)
    tile_text = states[offer["compartment"]][1]
    price = f"{offer['price_cents'] // 100},{offer['price_cents'] % 100:02d}\xa0€"
    assert states[offer["compartment"]][0] == "for_sale" and price in tile_text


def test_compartment_number_keypad_opens_the_item(open_kiosk: Any, demo: Demo) -> None:
    offer = buyable_offer(demo.url)
    page = open_kiosk("portrait")
    tap(page, '[data-screen="start"] [data-action="buy"]')
    tap(page, '[data-action="by-number"]')
    wait_screen(page, "number")
    for digit in "99":
        tap(page, f'[data-screen="number"] [data-digit="{digit}"]')
    tap(page, '[data-screen="number"] [data-key="ok"]')
    assert "Fach 99 gibt es hier nicht." in visible_text(page)
    tap(page, '[data-screen="number"] [data-key="backspace"]')
    tap(page, '[data-screen="number"] [data-key="backspace"]')
    for digit in str(offer["compartment"]):
        tap(page, f'[data-screen="number"] [data-digit="{digit}"]')
    tap(page, '[data-screen="number"] [data-key="ok"]')
    wait_screen(page, "item")
    assert offer["name"] in visible_text(page)
