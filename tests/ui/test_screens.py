"""Every main screen in both orientations, both themes and large text: screenshots a person can look
at, no scrolling, touch targets >= 16 mm on the configured panel, 0 serious or critical axe findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import Demo
from tests.ui.kiosk import PX_PER_MM, axe_findings, scroll_problems, shoot, small_targets, tap
from tests.ui.screens import VISITS, visit

NO_TIMEOUTS = {"idle_s": 3600, "warn_s": 60, "window_s": 3600}
CAP_HEIGHT = 0.729  # capital H of DejaVu Sans, in em
MIN_CAP_MM = 6.0  # EN 301 549 5.1.4: 0.7 degree at 50 cm, in large-text mode


@pytest.mark.parametrize("mode", ["normal", "contrast", "large"])
@pytest.mark.parametrize("orientation", ["landscape", "portrait"])
def test_every_main_screen(open_kiosk: Any, demo: Demo, screenshots: Path, orientation: str, mode: str) -> None:
    page = open_kiosk(orientation, **NO_TIMEOUTS)
    if mode == "contrast":
        tap(page, '[data-action="contrast"]')
    if mode == "large":
        tap(page, '[data-action="large-text"]')
        body_px = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert body_px * CAP_HEIGHT / PX_PER_MM >= MIN_CAP_MM
    problems: list[str] = []
    for name in VISITS:
        visit(page, name)
        shoot(page, screenshots, f"{name}-{orientation}-{mode}")
        problems += [f"{name}: {p}" for p in scroll_problems(page)]
        problems += [f"{name}: small target {p}" for p in small_targets(page)]
        if mode != "large":  # axe in both themes; large text is checked for fit and size
            problems += [f"{name}: axe {p}" for p in axe_findings(page, enhanced_contrast=mode == "contrast")]
    assert not problems, "\n".join(problems)


def test_the_checks_notice_small_targets_low_contrast_and_cut_off_content(open_kiosk: Any) -> None:
    """The sweep above could pass by measuring nothing: break each rule once and see it reported."""
    page = open_kiosk("landscape", **NO_TIMEOUTS)
    assert scroll_problems(page) == [] and small_targets(page) == [] and axe_findings(page) == []
    page.evaluate("document.documentElement.style.setProperty('--target-mm', '12')")
    page.evaluate("document.querySelector('.tool[data-action=\"help\"]').style.fontSize = '10px'")
    assert any("help" in problem for problem in small_targets(page))
    page.evaluate("document.documentElement.style.setProperty('--muted', '#b0b0b0')")
    assert any(problem.startswith("color-contrast") for problem in axe_findings(page))
    page.evaluate("document.querySelector('.screen-start .lead').style.height = '3000px'")
    assert any(problem.startswith("start cut off") for problem in scroll_problems(page))
