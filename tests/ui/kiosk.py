"""Helpers for driving the kiosk page and checking what a person would see."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

from station.config.ui import MIN_TARGET_MM, UiConfig

PX_PER_MM = UiConfig().px_per_mm  # the station runs with the default panel until [ui] is wired
SERIOUS = ("serious", "critical")
_AXE_SCRIPT = Axe().axe_script  # axe-core as bundled by axe-playwright-python


def screen(page: Any) -> str:
    return page.evaluate("window.kiosk.screen")


def wait_screen(page: Any, name: str, timeout_s: float = 10.0) -> None:
    page.wait_for_function(f"window.kiosk.screen === {json.dumps(name)}", timeout=timeout_s * 1000)


def visible_text(page: Any) -> str:
    """The text of the shown screen and any open overlay."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-screen]:not([hidden]), [data-overlay]:not([hidden])')]
                 .map(el => el.innerText).join('\\n')"""
    )


def tap(page: Any, selector: str) -> None:
    page.locator(selector).first.tap()


def api(demo_url: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Call the station's API directly, without the UI: (status, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{demo_url}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def error_code(body: Any) -> str | None:
    """The refusal's code: {"error": ...} (or FastAPI's {"detail": {...}} until every route is uniform)."""
    if isinstance(body, dict) and "error" in body:
        return body["error"]
    if isinstance(body, dict) and isinstance(body.get("detail"), dict):
        return body["detail"].get("error")
    return None


def wait_sale_final(demo_url: str, sale_id: str, timeout_s: float = 20.0) -> dict[str, Any]:
    final = {"done", "cancelled", "declined", "aborted", "reversed", "released_not_charged", "charge_unknown"}
    deadline = time.monotonic() + timeout_s
    while True:
        status, sale = api(demo_url, "GET", f"/api/purchases/{sale_id}")
        assert status == 200, sale
        if sale["state"] in final:
            return sale
        assert time.monotonic() < deadline, sale
        time.sleep(0.1)


def buyable_offer(demo_url: str, *, declined: bool = False) -> dict[str, Any]:
    """An offer the simulated terminal approves (or declines: totals ending in ,99), no age check."""
    status, offers = api(demo_url, "GET", "/api/offers")
    assert status == 200
    for offer in offers:
        if offer["min_age"] or not offer["available"]:
            continue
        if (offer["total_cents"] % 100 == 99) == declined:
            return offer
    raise AssertionError(f"no {'declined' if declined else 'approved'} offer left: {offers}")


# ---- what a person would notice -----------------------------------------------------------------
def scroll_problems(page: Any) -> list[str]:
    """The document must not scroll, and no screen or dialog may cut off its content."""
    return page.evaluate(
        """() => {
          const problems = [];
          const doc = document.scrollingElement;
          const [height, width] = [window.innerHeight, window.innerWidth];
          if (doc.scrollHeight > height + 1) problems.push(`document ${doc.scrollHeight} > ${height}`);
          if (doc.scrollWidth > width + 1) problems.push(`document width ${doc.scrollWidth} > ${width}`);
          const boxes = '[data-screen]:not([hidden]), [data-overlay]:not([hidden]) .dialog, .grid, .toolbar, .tile';
          for (const el of document.querySelectorAll(boxes)) {
            const name = el.dataset.screen || el.dataset.compartment || el.className;
            if (el.scrollHeight > el.clientHeight + 1) {
              problems.push(`${name} cut off: ${el.scrollHeight} > ${el.clientHeight}`);
            }
          }
          return problems;
        }"""
    )


def small_targets(page: Any, min_mm: float = MIN_TARGET_MM) -> list[str]:
    """Visible touch targets smaller than min_mm in either direction, measured from the layout."""
    min_px = min_mm * PX_PER_MM
    return page.evaluate(
        """(minPx) => {
          const overlay = document.querySelector('[data-overlay]:not([hidden])');
          const root = overlay || document;
          const found = [];
          for (const el of root.querySelectorAll('button, a[href], input, [role="button"], .tile')) {
            if (!el.checkVisibility()) continue;
            const box = el.getBoundingClientRect();
            if (box.width < minPx || box.height < minPx) {
              found.push(`${el.outerHTML.slice(0, 60)}: ${box.width.toFixed(0)}x${box.height.toFixed(0)} px`);
            }
          }
          return found;
        }""",
        min_px - 0.5,
    )


def axe_findings(page: Any, *, enhanced_contrast: bool = False) -> list[str]:
    """Serious and critical axe-core findings on the page as it is (7:1 contrast in the contrast theme)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_AXE_SCRIPT)
    rules = {"color-contrast-enhanced": {"enabled": True}} if enhanced_contrast else {}
    result = page.evaluate("(options) => axe.run(document, options)", {"resultTypes": ["violations"], "rules": rules})
    findings = []
    for violation in result["violations"]:
        strict = enhanced_contrast and violation["id"] == "color-contrast-enhanced"
        if violation["impact"] in SERIOUS or strict:
            targets = [node["target"] for node in violation["nodes"][:3]]
            findings.append(f"{violation['id']} ({violation['impact']}): {violation['help']} {targets}")
    return findings


def shoot(page: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path
