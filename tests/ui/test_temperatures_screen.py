"""Volunteers see the last 24 hours of every fridge as a chart with the zone's limit drawn in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ui.conftest import Demo
from tests.ui.kiosk import shoot, tap, visible_text, wait_screen
from tests.ui.test_volunteer_flow import _login


def test_temperature_chart_per_fridge_with_its_limit(open_kiosk: Any, demo: Demo, screenshots: Path) -> None:
    page = open_kiosk("portrait")
    _login(page, demo)
    wait_screen(page, "staff-home")
    tap(page, '[data-action="staff-temps"]')
    wait_screen(page, "staff-temps")
    shoot(page, screenshots, "flow-staff-temps-portrait")
    charts = page.locator(".temps-chart")
    assert charts.count() == 2  # the demo's chiller and freezer (station.sim.toml)
    text = visible_text(page)
    assert "chiller-1 (chilled)" in text and "freezer-1 (frozen)" in text
    assert "Grenze 7 °C" in text and "Grenze -18 °C" in text
    assert page.locator(".temps-chart .temps-dot").count() >= 2  # the simulated probes' readings so far
    # The limit is drawn as a line in each chart, and the chart says in words what it shows.
    assert page.locator(".temps-chart .temps-limit").count() == 2
    assert page.locator(".temps-chart .temps-ceiling").count() == 1  # frozen goods: the tolerated rise to −15 °C
    label = charts.first.get_attribute("aria-label") or ""
    assert "chiller-1" in label and "Grenze" in label
    tap(page, '[data-action="back"]')
    wait_screen(page, "staff-home")
