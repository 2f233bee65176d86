"""Volunteers on the touchscreen: log-in by PIN or badge, tasks, restocking, a cold-chain corrective
action, the end-of-day report, log-out and the idle end of the session (real browser, demo station)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.ui.conftest import COLD_BLOCKED, VOLUNTEER_BADGE, VOLUNTEER_NAME, VOLUNTEER_PIN, Demo
from tests.ui.kiosk import api, error_code, shoot, tap, visible_text, wait_screen

EMPTY = 20  # the demo's empty compartment (sold out on the buy screen)
ABANDONED = 18  # opened, then the session ends elsewhere: the daemon gives the restocking up
RESUMED = 17  # opened, then the page reloads: the restocking stays open and is carried on


def _type(page: Any, screen: str, digits: str) -> None:
    for digit in digits:
        tap(page, f'[data-screen="{screen}"] [data-slot]:not([hidden]) [data-digit="{digit}"]')


def _login(page: Any, demo: Demo, pin: str = VOLUNTEER_PIN) -> None:
    tap(page, '[data-screen="start"] [data-action="staff-login"]')
    wait_screen(page, "staff-login")
    _type(page, "staff-login", str(demo.volunteer_id))
    tap(page, '[data-slot="staff-number"] [data-key="ok"]')
    _type(page, "staff-login", pin)
    assert page.locator('[data-slot="staff-pin"] output').inner_text() == "•" * len(pin)  # never the digits
    tap(page, '[data-slot="staff-pin"] [data-key="ok"]')


def _staff_me(page: Any) -> int:
    """The session as the page's own cookie sees it: 200 logged in, 401 not."""
    return int(page.evaluate("fetch('/api/staff/me').then(r => r.status)"))


def _is_logout(response: Any) -> bool:
    return bool(response.url.endswith("/api/staff/logout") and response.request.method == "POST")


def test_volunteer_logs_in_by_pin_restocks_reports_and_logs_out(open_kiosk: Any, demo: Demo, screenshots: Path) -> None:
    _, products = api(demo.url, "GET", "/api/offers")
    assert EMPTY not in {o["compartment"] for o in products}
    page = open_kiosk("landscape")
    _login(page, demo)
    wait_screen(page, "staff-home")
    assert _staff_me(page) == 200
    text = visible_text(page)
    assert f"Angemeldet: {VOLUNTEER_NAME}" in text and f"Fach {COLD_BLOCKED}" in text
    shoot(page, screenshots, "flow-staff-home-landscape")

    tap(page, '[data-action="staff-open"]')
    wait_screen(page, "staff-open")
    _type(page, "staff-open", str(EMPTY))
    tap(page, '[data-screen="staff-open"] [data-key="ok"]')
    wait_screen(page, "staff-restock")
    assert f"Fach {EMPTY} ist offen" in visible_text(page) and "Das Fach ist leer." in visible_text(page)

    tap(page, '[data-action="staff-load"]')
    wait_screen(page, "staff-load")
    tile = page.locator('[data-action="staff-product"]').first
    gtin, name = tile.get_attribute("data-gtin"), tile.locator(".tile-name").inner_text()
    tile.tap()
    wait_screen(page, "staff-amount")
    tap(page, '[data-action="count-up"]')
    tap(page, '[data-action="count-up"]')
    assert page.locator('[data-slot="amount-count"]').inner_text() == "3"
    if page.locator('[data-slot="date-none"]').is_visible():
        tap(page, '[data-action="date-kind"][data-kind="best_before"]')
    tap(page, '[data-action="date-up"]')  # 31 days from today
    shoot(page, screenshots, "flow-staff-amount-landscape")
    tap(page, '[data-action="staff-save"]')
    wait_screen(page, "staff-restock")
    assert f"3 × {name}" in visible_text(page)
    tap(page, '[data-action="staff-close"]')
    wait_screen(page, "staff-home")
    page.wait_for_selector('[data-slot="staff-note"]:not([hidden])')
    assert f"Fach {EMPTY} ist erfasst." in visible_text(page)
    _, offers = api(demo.url, "GET", "/api/offers")
    loaded = {o["compartment"]: o for o in offers}[EMPTY]  # on sale again, with what was recorded
    assert (loaded["gtin"], loaded["quantity"]) == (gtin, 3)

    tap(page, '[data-action="staff-report"]')
    wait_screen(page, "staff-report")
    assert "eingeräumt" in visible_text(page)
    tap(page, '[data-action="staff-report-send"]')
    page.wait_for_selector('[data-slot="report-sent"]:not([hidden])')
    shoot(page, screenshots, "flow-staff-report-landscape")

    # The screen does not wait for the daemon's answer (the next person need not), so the check waits for it.
    with page.expect_response(_is_logout) as logout:
        tap(page, '[data-action="staff-logout"]')
    wait_screen(page, "start")
    assert page.locator('[data-action="staff-logout"]').is_hidden()
    assert logout.value.status == 204
    assert _staff_me(page) == 401  # the session ended at the daemon, not only on the screen


def test_a_wrong_pin_is_refused_on_the_screen_and_by_the_api(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("portrait")
    _login(page, demo, pin="111111")
    page.wait_for_function("document.querySelector('[data-slot=\"staff-login-message\"]').textContent !== ''")
    assert "Nummer oder PIN stimmt nicht." in visible_text(page)
    assert page.evaluate("window.kiosk.screen") == "staff-login" and _staff_me(page) == 401
    status, body = api(demo.url, "POST", "/api/staff/login/pin", {"account_id": demo.volunteer_id, "pin": "111111"})
    assert (status, error_code(body)) == (401, "wrong_credentials")
    status, body = api(demo.url, "GET", "/api/staff/tasks")
    assert (status, error_code(body)) == (401, "not_logged_in")  # no task list without a log-in


def test_cold_chain_corrective_action(open_kiosk: Any, demo: Demo, screenshots: Path) -> None:
    page = open_kiosk("portrait")
    _login(page, demo)
    wait_screen(page, "staff-home")
    tap(page, f'[data-action="staff-task-cold"][data-compartment="{COLD_BLOCKED}"]')
    wait_screen(page, "staff-cold")
    assert f"Kühlung gestört – Fach {COLD_BLOCKED} gesperrt" in visible_text(page)
    tap(page, '[data-action="cold-keep"]')  # keeping needs a reason: the screen asks for one first
    assert "Zum Behalten bitte einen Grund wählen." in visible_text(page)
    shoot(page, screenshots, "flow-staff-cold-portrait")
    tap(page, '[data-action="cold-discard"]')
    wait_screen(page, "staff-home")
    page.wait_for_selector('[data-slot="staff-note"]:not([hidden])')
    assert f"Fach {COLD_BLOCKED}: Ware entsorgt, Fach wieder frei." in visible_text(page)
    assert page.locator(f'[data-action="staff-task-cold"][data-compartment="{COLD_BLOCKED}"]').count() == 0
    # The API agrees: nothing is blocked there any more, so a second action is refused.
    body = json.dumps({"compartment": COLD_BLOCKED, "action": "discarded"})
    status = page.evaluate(
        "(body) => fetch('/api/staff/corrective-actions', {method: 'POST', body,"
        " headers: {'Content-Type': 'application/json'}}).then(r => r.status)",
        body,
    )
    assert status == 409
    tap(page, '[data-action="staff-logout"]')


def test_badge_log_in(open_kiosk: Any, demo: Demo) -> None:
    """The reader's tap is simulated: the badge poll answers "a tap waits" and the log-in names the badge's
    UID, which the daemon accepts on a simulated station only (on a real one it reads the tap itself)."""
    page = open_kiosk("landscape")
    page.route("**/api/staff/badge", lambda route: route.fulfill(json={"tap_waiting": True}))
    page.route(
        "**/api/staff/login/badge", lambda route: route.continue_(post_data=json.dumps({"uid": VOLUNTEER_BADGE}))
    )
    tap(page, '[data-screen="start"] [data-action="staff-login"]')
    wait_screen(page, "staff-home")
    assert f"Angemeldet: {VOLUNTEER_NAME}" in visible_text(page) and _staff_me(page) == 200
    tap(page, '[data-action="staff-logout"]')
    wait_screen(page, "start")


def test_the_session_ends_after_the_idle_time(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape", staff_idle_s=4, warn_s=2)  # the daemon's is 5 minutes; shortened for the test
    _login(page, demo)
    wait_screen(page, "staff-home")
    assert page.evaluate("window.kiosk.boot.timing.staff_idle_s") == 4
    page.wait_for_selector('[data-overlay="timeout"]:not([hidden])', timeout=10_000)
    assert "Mehr Zeit" in visible_text(page)
    wait_screen(page, "start", timeout_s=10)
    page.wait_for_function("fetch('/api/staff/me').then(r => r.status === 401)")  # logged out at the daemon too
    assert page.locator('[data-action="staff-logout"]').is_hidden()


def test_the_default_session_idle_time_is_five_minutes(open_kiosk: Any) -> None:
    page = open_kiosk("portrait")
    assert page.evaluate("window.kiosk.boot.timing.staff_idle_s") == 300


def _open_on_screen(page: Any, compartment: int) -> None:
    tap(page, '[data-action="staff-open"]')
    _type(page, "staff-open", str(compartment))
    tap(page, '[data-screen="staff-open"] [data-key="ok"]')
    wait_screen(page, "staff-restock")


def _log_in_again(page: Any, demo: Demo) -> None:
    _type(page, "staff-login", str(demo.volunteer_id))
    tap(page, '[data-slot="staff-number"] [data-key="ok"]')
    _type(page, "staff-login", VOLUNTEER_PIN)
    tap(page, '[data-slot="staff-pin"] [data-key="ok"]')
    wait_screen(page, "staff-home")


def _close_and_see_it_noted(page: Any, compartment: int) -> None:
    wait_screen(page, "staff-restock")
    tap(page, '[data-action="staff-close"]')
    wait_screen(page, "staff-home")
    page.wait_for_selector('[data-slot="staff-note"]:not([hidden])')
    assert f"Fach {compartment} ist erfasst." in visible_text(page)


def test_a_session_ended_elsewhere_says_so_and_the_door_left_open_becomes_a_task(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("portrait")
    _login(page, demo)
    wait_screen(page, "staff-home")
    _open_on_screen(page, ABANDONED)
    assert page.evaluate("fetch('/api/staff/logout', {method: 'POST'}).then(r => r.status)") == 204
    tap(page, '[data-action="staff-close"]')  # the next request finds no session
    wait_screen(page, "problem")
    text = visible_text(page)
    assert "Sie wurden abgemeldet" in text and "Erfasstes ist gespeichert" in text
    tap(page, '[data-action="problem-retry"]')
    wait_screen(page, "staff-login")
    _log_in_again(page, demo)
    # The daemon gave up the restocking with the session: the compartment waits for a check, a task.
    task = page.locator(f'[data-action="staff-task-open"][data-compartment="{ABANDONED}"]')
    assert task.count() == 1 and "Fach prüfen" in visible_text(page)
    task.tap()
    _close_and_see_it_noted(page, ABANDONED)
    tap(page, '[data-action="staff-logout"]')


def test_a_restocking_left_open_by_a_reload_is_carried_on_after_the_next_log_in(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape")
    _login(page, demo)
    wait_screen(page, "staff-home")
    _open_on_screen(page, RESUMED)
    page.reload()  # the page forgets everything; the session and the restocking live on in the daemon
    page.wait_for_function("window.kiosk && window.kiosk.screen === 'start'")
    tap(page, '[data-screen="start"] [data-action="staff-login"]')
    _log_in_again(page, demo)
    assert f"Fach {RESUMED} ist noch offen" in visible_text(page)  # it comes first
    tap(page, '[data-action="staff-resume"]')
    _close_and_see_it_noted(page, RESUMED)
    assert page.locator('[data-action="staff-resume"]').count() == 0
    tap(page, '[data-action="staff-logout"]')


def test_the_idle_timeout_clears_a_half_typed_pin(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("portrait", idle_s=3, warn_s=1)
    tap(page, '[data-screen="start"] [data-action="staff-login"]')
    wait_screen(page, "staff-login")
    _type(page, "staff-login", str(demo.volunteer_id))
    tap(page, '[data-slot="staff-number"] [data-key="ok"]')
    _type(page, "staff-login", VOLUNTEER_PIN[:3])
    assert page.locator('[data-slot="staff-pin"] output').inner_text() == "•••"
    page.wait_for_selector('[data-overlay="timeout"]:not([hidden])', timeout=10_000)
    wait_screen(page, "start", timeout_s=10)
    tap(page, '[data-screen="start"] [data-action="staff-login"]')
    wait_screen(page, "staff-login")
    assert page.locator('[data-slot="staff-pin"]').is_hidden()  # back at the first step, the number
    assert page.locator('[data-slot="staff-number"] output').inner_text() == "–"
    assert page.evaluate("window.kiosk.staff.pin.value") == ""
