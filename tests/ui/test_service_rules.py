"""Nothing the screen does bypasses the service rules: the API alone refuses the same things."""

from __future__ import annotations

from typing import Any

from tests.ui.conftest import Demo
from tests.ui.kiosk import api, buyable_offer, error_code, tap, visible_text, wait_sale_final, wait_screen


def test_doors_the_grid_does_not_offer_are_refused_by_the_api_too(demo: Demo) -> None:
    status, shelf = api(demo.url, "GET", "/api/ui/compartments")
    assert status == 200
    not_for_sale = [c for c in shelf if c["state"] != "for_sale"]
    assert {c["state"] for c in not_for_sale} >= {"sold_out", "blocked", "needs_check"}
    for compartment in not_for_sale:
        status, body = api(demo.url, "POST", "/api/purchases", {"compartments": [compartment["compartment"]]})
        assert (status, error_code(body)) == (409, "not_available"), (compartment, body)


def test_a_stale_screen_gets_the_same_refusal_as_the_api(open_kiosk: Any, demo: Demo) -> None:
    """The screen shows an item; meanwhile it is sold: the screen's attempt is refused like the API's."""
    offer = buyable_offer(demo.url)
    page = open_kiosk("landscape")
    tap(page, '[data-screen="start"] [data-action="buy"]')
    tap(page, f'.tile[data-compartment="{offer["compartment"]}"]')
    wait_screen(page, "item")

    status, sale = api(demo.url, "POST", "/api/purchases", {"compartments": [offer["compartment"]]})
    assert status == 202, sale
    assert wait_sale_final(demo.url, sale["sale_id"])["state"] == "done"
    status, body = api(demo.url, "POST", "/api/purchases", {"compartments": [offer["compartment"]]})
    assert (status, error_code(body)) == (409, "not_available")

    tap(page, '[data-action="pay"]')
    wait_screen(page, "error")
    text = visible_text(page)
    assert "Dieses Fach ist nicht mehr zu kaufen" in text
    assert "Es wurde nichts abgebucht." in text and "Bitte wählen Sie etwas anderes." in text
    assert page.evaluate("window.kiosk.purchase.code") == error_code(body)
