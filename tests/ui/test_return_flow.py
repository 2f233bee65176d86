"""Returning empties and spending vouchers on the touchscreen: real browser, demo station, simulated
return machine (its simulated shopper puts in up to `[simulation] deposit_containers` seeded containers, some
of which the machine rejects), simulated printer. A test finishes once a few are in: finishing closes the
intake, and from then on the total is final."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.ui.conftest import Demo
from tests.ui.kiosk import api, error_code, shoot, tap, visible_text, wait_sale_final, wait_screen

SOME = 3  # containers to wait for before finishing (the simulated shopper brings up to 6)


def _euro(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}\xa0€"


def _wait_count(demo: Demo, return_id: str, count: int, timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status, view = api(demo.url, "GET", f"/api/returns/{return_id}")
        assert status == 200, view
        if view["count"] >= count:
            return dict(view)
        assert time.monotonic() < deadline, view
        time.sleep(0.2)


def _api_voucher(demo: Demo) -> dict[str, Any]:
    """A paper voucher made without the screen: start, let the machine count, finish, choose."""
    status, view = api(demo.url, "POST", "/api/returns")
    assert status == 202, view
    _wait_count(demo, view["return_id"], 1)
    assert api(demo.url, "POST", f"/api/returns/{view['return_id']}/finish")[0] == 200
    status, settled = api(demo.url, "POST", f"/api/returns/{view['return_id']}/choice", {"choice": "voucher"})
    assert status == 200 and settled["state"] == "voucher", settled
    return dict(settled["vouchers"][0])


def _offer_the_card_approves(demo: Demo, credit_cents: int) -> dict[str, Any]:
    """An offer without age check whose rest after the credit the simulated terminal approves (not ,99)."""
    status, offers = api(demo.url, "GET", "/api/offers")
    assert status == 200
    for offer in offers:
        rest = offer["total_cents"] - credit_cents
        if not offer["min_age"] and offer["available"] and (rest <= 0 or rest % 100 != 99):
            return dict(offer)
    raise AssertionError(f"no offer to pay with {credit_cents} cents of credit: {offers}")


def _start_return_on_screen(page: Any) -> str:
    tap(page, '[data-screen="start"] [data-action="return"]')
    wait_screen(page, "return")
    return_id: str = page.evaluate("window.kiosk.returns.returnId")
    assert return_id
    return return_id


def test_deposit_return_with_a_printed_voucher(open_kiosk: Any, demo: Demo, screenshots: Path) -> None:
    page = open_kiosk("portrait")
    return_id = _start_return_on_screen(page)
    # The live count: the containers the machine accepts show up on the screen as they come.
    page.wait_for_function(
        f"Number(document.querySelector('[data-slot=\"return-count\"]').textContent) >= {SOME}", timeout=20_000
    )
    shoot(page, screenshots, "flow-return-portrait")
    assert "Bitte Flaschen und Dosen einzeln einlegen." in visible_text(page)

    tap(page, '[data-action="return-finish"]')
    wait_screen(page, "return-choice")
    _, view = api(demo.url, "GET", f"/api/returns/{return_id}")  # final once finished
    assert view["state"] == "choosing" and view["count"] >= SOME
    text = visible_text(page)
    assert f"Ihr Pfand: {_euro(view['total_cents'])}" in text
    assert "Pfandbon drucken" in text and "Jetzt hier einkaufen" in text and "Tafel Musterdorf" in text

    tap(page, '[data-action="return-choose"][data-choice="voucher"]')
    wait_screen(page, "return-voucher")
    page.wait_for_function(
        "document.querySelector('[data-slot=\"voucher-print\"]').innerText.includes('gedruckt –')", timeout=15_000
    )  # the simulated printer confirms the job
    shoot(page, screenshots, "flow-return-voucher-portrait")
    _, settled = api(demo.url, "GET", f"/api/returns/{return_id}")
    voucher = settled["vouchers"][0]
    assert (settled["state"], voucher["medium"], voucher["print_state"]) == ("voucher", "paper", "printed")
    text = visible_text(page)
    assert f"Ihr Pfandbon über {_euro(voucher['amount_cents'])}" in text
    assert voucher["code"] == page.locator('[data-slot="voucher-code"]').inner_text().split(": ")[1].replace(" ", "")
    # The digital fallback: the QR code is the station's own, and it holds the voucher's receipt.
    assert page.locator('[data-slot="voucher-qr"]').evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator('[data-slot="voucher-qr"]').get_attribute("src") == f"/api/receipts/{voucher['receipt_id']}/qr"


def test_a_typed_voucher_pays_at_the_till_and_the_receipt_is_a_qr_code(
    open_kiosk: Any, demo: Demo, screenshots: Path
) -> None:
    voucher = _api_voucher(demo)
    offer = _offer_the_card_approves(demo, voucher["amount_cents"])
    page = open_kiosk("landscape")
    tap(page, '[data-screen="start"] [data-action="voucher"]')
    wait_screen(page, "voucher")
    for digit in "4000000000000":  # a well-formed number the station never issued
        tap(page, f'[data-screen="voucher"] [data-digit="{digit}"]')
    tap(page, '[data-screen="voucher"] [data-key="ok"]')
    page.wait_for_function("document.querySelector('[data-slot=\"voucher-message\"]').textContent !== ''")
    assert "Diesen Pfandbon kennt die Station nicht" in visible_text(page)
    status, body = api(demo.url, "POST", "/api/vouchers/check", {"code": "4000000000000"})
    assert (status, error_code(body)) == (404, "not_found")  # the API alone refuses it the same way

    for _ in range(13):
        tap(page, '[data-screen="voucher"] [data-key="backspace"]')
    for digit in voucher["code"]:
        tap(page, f'[data-screen="voucher"] [data-digit="{digit}"]')
    tap(page, '[data-screen="voucher"] [data-key="ok"]')
    wait_screen(page, "voucher-ok")
    assert f"Guthaben: {_euro(voucher['amount_cents'])}" in visible_text(page)
    tap(page, '[data-screen="voucher-ok"] [data-action="buy"]')
    wait_screen(page, "buy")
    tap(page, f'.tile[data-compartment="{offer["compartment"]}"]')
    wait_screen(page, "item")
    assert f"Ihr Guthaben von {_euro(voucher['amount_cents'])} wird angerechnet." in visible_text(page)
    tap(page, '[data-action="pay"]')
    wait_screen(page, "done", timeout_s=30)
    sale = wait_sale_final(demo.url, page.evaluate("window.kiosk.purchase.sale"))
    assert sale["state"] == "done"
    assert sale["credit_cents"] == min(voucher["amount_cents"], offer["total_cents"])
    assert sale["card_cents"] == max(0, offer["total_cents"] - voucher["amount_cents"])
    status, checked = api(demo.url, "POST", "/api/vouchers/check", {"code": voucher["code"]})
    assert status == 200 and checked["state"] == "redeemed" and not checked["redeemable"]

    # The receipt: a QR code on the screen at once, printed on request.
    qr = page.locator('[data-slot="done-qr"]')
    page.wait_for_function(
        "(() => { const img = document.querySelector('[data-slot=\"done-qr\"]');"
        " return img.checkVisibility() && img.complete && img.naturalWidth > 0; })()"
    )
    assert qr.get_attribute("src") == f"/api/receipts/{sale['receipt_id']}/qr"
    tap(page, '[data-action="print-receipt"]')
    page.wait_for_selector('[data-slot="done-printing"]:not([hidden])')
    assert "Der Beleg wird gedruckt." in visible_text(page)
    shoot(page, screenshots, "flow-done-receipt-landscape")


def test_a_return_as_credit_goes_straight_to_shopping(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape")
    return_id = _start_return_on_screen(page)
    _wait_count(demo, return_id, 1)
    page.wait_for_function("!document.querySelector('[data-action=\"return-finish\"]').disabled")
    tap(page, '[data-action="return-finish"]')
    wait_screen(page, "return-choice")
    _, view = api(demo.url, "GET", f"/api/returns/{return_id}")
    tap(page, '[data-action="return-choose"][data-choice="credit"]')
    wait_screen(page, "voucher-ok")
    assert f"Guthaben: {_euro(view['total_cents'])}" in visible_text(page)
    _, settled = api(demo.url, "GET", f"/api/returns/{return_id}")
    assert settled["state"] == "credit" and settled["vouchers"][0]["medium"] == "credit"
    assert page.evaluate("window.kiosk.credit.code") == settled["vouchers"][0]["code"]


def test_a_busy_return_machine_says_what_to_do(open_kiosk: Any, demo: Demo) -> None:
    status, running = api(demo.url, "POST", "/api/returns")  # someone else's return, started without the screen
    assert status == 202, running
    try:
        page = open_kiosk("portrait")
        tap(page, '[data-screen="start"] [data-action="return"]')
        wait_screen(page, "problem")
        text = visible_text(page)
        assert "Am Pfandautomaten läuft gerade eine Rückgabe" in text
        assert "Es wurde kein Leergut angenommen." in text and "Bitte warten Sie" in text
        assert demo.hotline in text
        status, body = api(demo.url, "POST", "/api/returns")
        assert status == 409 and error_code(body) in ("busy", "not_available")  # the API refuses the same
    finally:
        _wait_count(demo, running["return_id"], 1)
        api(demo.url, "POST", f"/api/returns/{running['return_id']}/finish")
        assert api(demo.url, "POST", f"/api/returns/{running['return_id']}/choice", {"choice": "donation"})[0] == 200
