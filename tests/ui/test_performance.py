"""First paint of the start screen under 1 s; tap to visible feedback under 100 ms (in the browser)."""

from __future__ import annotations

import statistics
from typing import Any

from tests.ui.conftest import Demo

FIRST_PAINT_MS = 1000
TAP_FEEDBACK_MS = 100

# On every pointer-down: the time from the event to the second animation frame after it, i.e. to
# the first frame painted with the pressed state (the handler runs before the first frame).
MEASURE_TAPS = """
window.__taps = [];
document.addEventListener('pointerdown', (event) => {
  const started = event.timeStamp;
  const target = event.target.closest('button, .tile');
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const pressed = !!target && target.classList.contains('is-pressed');
    window.__taps.push({ ms: performance.now() - started, pressed });
  }));
}, { capture: true });
"""


def test_first_paint_and_tap_feedback(browser: Any, demo: Demo) -> None:
    context = browser.new_context(viewport={"width": 1080, "height": 1920}, has_touch=True, device_scale_factor=1)
    try:
        page = context.new_page()
        page.add_init_script(MEASURE_TAPS)
        paints = []
        for _ in range(3):  # the machine is shared: take the best of three loads
            page.goto(f"{demo.url}/")
            page.wait_for_function("window.kiosk && window.kiosk.screen === 'start'")
            # The page may be ready before its first paint is recorded: wait for the entry itself.
            page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
            paints.append(page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime"))
        for selector in ('[data-action="large-text"]', '[data-action="large-text"]', '[data-action="contrast"]',
                         '[data-action="contrast"]', '[data-screen="start"] [data-action="buy"]'):  # fmt: skip
            page.locator(selector).tap()
        page.wait_for_function("window.__taps.length >= 5")
        taps = page.evaluate("window.__taps")
    finally:
        context.close()
    first_paint = min(paints)
    tap_ms = statistics.median(t["ms"] for t in taps)
    print(f"\nfirst contentful paint of the start screen: {first_paint:.0f} ms (loads: {[round(p) for p in paints]})")
    print(f"tap to feedback: median {tap_ms:.0f} ms, max {max(t['ms'] for t in taps):.0f} ms over {len(taps)} taps")
    assert all(t["pressed"] for t in taps), taps  # the feedback was on screen in that frame
    assert first_paint < FIRST_PAINT_MS
    assert tap_ms < TAP_FEEDBACK_MS
