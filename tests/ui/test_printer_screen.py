"""Volunteers see the receipt printer's state and what to do about it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from station.api.staff_printer import printer_state
from tests.ui.conftest import Demo
from tests.ui.kiosk import api, shoot, tap, visible_text, wait_screen
from tests.ui.test_volunteer_flow import _login


@pytest.mark.parametrize(
    ("faults", "near_end", "state"),
    [
        ([], False, "ok"),
        ([], True, "paper_near_end"),
        (["paper_out", "offline"], False, "paper_out"),
        (["cover_open"], False, "cover_open"),
        (["no_answer"], False, "not_answering"),
        (["cutter_error"], False, "fault"),
    ],
)
def test_the_most_specific_fault_names_the_state(faults: list[str], near_end: bool, state: str) -> None:
    assert printer_state(faults, near_end) == state


def test_printer_screen_shows_the_state_and_what_to_do(open_kiosk: Any, demo: Demo, screenshots: Path) -> None:
    assert api(demo.url, "GET", "/api/staff/printer")[0] == 401  # volunteers only
    page = open_kiosk("landscape")
    _login(page, demo)
    wait_screen(page, "staff-home")
    tap(page, '[data-action="staff-printer"]')
    wait_screen(page, "staff-printer")
    page.wait_for_function("document.querySelector('[data-slot=\"printer-state\"] span').textContent.length > 0")
    shoot(page, screenshots, "flow-staff-printer-landscape")
    state = page.evaluate("window.kiosk.staff.printer.data.state")
    assert state in ("ok", "unknown")  # the demo's simulated printer has paper
    text = visible_text(page)
    assert ("Der Drucker ist bereit." if state == "ok" else "Der Zustand wird gerade geprüft.") in text
    assert "als QR-Code auf dem Bildschirm" in text

    # Paper out (as the daemon would answer): the steps to change the roll, in order.
    page.route("**/api/staff/printer", lambda route: route.fulfill(
        json={"state": "paper_out", "faults": ["paper_out"], "detail": None, "queued": 1}))  # fmt: skip
    tap(page, '[data-action="staff-printer-check"]')
    page.wait_for_function("window.kiosk.staff.printer.data.state === 'paper_out'")
    steps = page.locator('[data-slot="printer-steps"] li').all_inner_texts()
    assert steps[0] == "Klappe des Druckers öffnen." and "Thermopapier-Rolle" in steps[1]
    assert "Belege, die auf den Druck warten: 1" in visible_text(page)
