"""One demo station and one browser for the whole UI suite (package scope: the suite's end stops them).

Package, not session, scope: Playwright's sync API runs an event loop in the test thread while
the browser lives, so async tests of other packages must not run before it is stopped.

The demo station is `station demo` as a subprocess (all devices simulated) on free ports, with a
copy of examples/station.sim.toml and a temporary database prepared beforehand with a few more
compartments: an age-restricted product, a blocked door (an operator's hold), a door whose
contents wait for a check, and an empty door. The browser is Debian's Chromium driven by
Playwright through its executable path (Playwright never downloads a browser here), headless,
with a fresh profile.
"""

from __future__ import annotations

import io
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.helpers.daemon import DaemonProcess
from tests.helpers.demo import demo_config_text

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # as on the kiosk: speech and tones may play
]
ORIENTATIONS = {"landscape": (1920, 1080), "portrait": (1080, 1920)}
SCREENSHOTS = REPO / "test-artifacts" / "screens"

AGE_PRODUCT = ("4034567890123", "Obstbrand 0,35 l", 1290, 18)
EXTRA_COMPARTMENTS = """
[[compartments]]
id = 19
bus = "wall-a"
board = 1
lock = 3
size = "M"

[[compartments]]
id = 20
bus = "wall-a"
board = 1
lock = 4
size = "M"

[[compartments]]
id = 21
bus = "wall-a"
board = 1
lock = 5
size = "M"

[[compartments]]
id = 22
bus = "wall-a"
board = 1
lock = 6
size = "M"
zone = "chilled"

[[compartments]]
id = 23
bus = "wall-a"
board = 1
lock = 7
size = "M"
zone = "chilled"
"""
VOLUNTEER_NAME = "Vera Ehrenamt"
VOLUNTEER_PIN = "582914"
VOLUNTEER_BADGE = "04A1B2C3D4E5F6"
COLD_BLOCKED = 23  # chilled, its goods blocked by the cold chain: waits for a corrective action


@dataclass
class Demo:
    url: str
    config_path: Path
    db_path: Path
    hotline: str
    station_id: str
    volunteer_id: int


def _write_config(folder: Path) -> Path:
    """The shipped demo config on free ports (every device too), plus the doors the screens must show."""
    text, _ports = demo_config_text("demo.db")
    text = text.replace("# --- Card terminal", EXTRA_COMPARTMENTS + "\n# --- Card terminal", 1)
    path = folder / "demo.toml"
    path.write_text(text)
    return path


def _add_volunteer(config_path: Path) -> int:
    """A volunteer account made the way an operator makes one (`station users add`); returns its number."""
    from station.cli import main as cli_main

    saved = sys.stdin
    sys.stdin = io.StringIO(VOLUNTEER_PIN + "\n")
    try:
        assert (
            cli_main(
                [
                    "users",
                    "add",
                    "--config",
                    str(config_path),
                    "--name",
                    VOLUNTEER_NAME,
                    "--pin-stdin",
                    "--badge-uid",
                    VOLUNTEER_BADGE,
                ]
            )
            == 0
        )
    finally:
        sys.stdin = saved
    return 1  # the first account of a fresh database


def _prepare_database(config_path: Path) -> None:
    """The demo's own stock, then the doors the screens must also show: age check, blocked, needs check."""
    from station.coldchain import transitions as coldchain
    from station.compartments import load, owner
    from station.config import load_config
    from station.db.engine import Database
    from station.db.models import Product
    from station.db.types import utcnow
    from station.demo import prepare_database

    config = load_config(config_path)
    prepare_database(config)
    db = Database(config.database.path)
    db.open_sync()

    def extras(session: Any) -> None:
        gtin, name, price, min_age = AGE_PRODUCT
        session.add(
            Product(gtin=gtin, name=name, price_cents=price, deposit_cents=0, vat_rate_bp=1900,
                    temperature_class="ambient", min_age=min_age, updated_at=utcnow())
        )  # fmt: skip
        session.flush()
        best_before = date.today() + timedelta(days=90)
        load(session, 19, gtin, 1, actor="test", best_before=best_before)
        load(session, 21, "4012345678901", 1, actor="test", best_before=best_before)
        owner.hold(session, 21, "operator", actor="test", reason="Tür klemmt (Test)")
        load(session, 22, "4006381333931", 1, actor="test", best_before=best_before)
        owner.needs_check(session, 22, "door seen open without a command (test)")
        load(session, COLD_BLOCKED, "4006381333931", 2, actor="test", use_by=date.today() + timedelta(days=5))
        coldchain.zone_alarm(session, "chilled", {"cause": "temperature", "celsius": 11.5}, [], utcnow())
        coldchain.block(session, COLD_BLOCKED, "chilled", 7.0, {"cause": "temperature", "celsius": 11.5}, utcnow())

    try:
        db.run_sync(extras)
    finally:
        db.close_sync()


@pytest.fixture(scope="package")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("ui-demo")
    config_path = _write_config(folder)
    _prepare_database(config_path)
    volunteer_id = _add_volunteer(config_path)
    daemon = DaemonProcess(["demo", "--config", str(config_path), "--log-format", "text"], log_path=folder / "log")
    from station.config import load_config

    config = load_config(config_path)
    url = f"http://127.0.0.1:{config.http.port}"
    try:
        daemon.wait_http(f"{url}/api/health", timeout=40)
        yield Demo(
            url, config_path, config.database.path, config.station.hotline or "", config.station.id, volunteer_id
        )
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.send_signal(signal.SIGTERM)
            try:
                daemon.proc.wait(timeout=10)
            except Exception:
                pass
        daemon.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/setup (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # launch() gives every browser a new, empty profile of its own.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="package")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    ignore = SCREENSHOTS.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# screenshots and other output of the tests: look at them, never commit them\n*\n")
    return SCREENSHOTS


def _unexpected(message: Any) -> bool:
    """Errors the page logs, except the browser's own note on a refused request (the tests provoke those)."""
    return bool(message.type == "error" and not message.text.startswith("Failed to load resource"))


@pytest.fixture
def open_kiosk(browser: Any, demo: Demo) -> Iterator[Any]:
    """open_kiosk(orientation, **timing) -> a page showing the start screen; closed after the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def _open(orientation: str = "landscape", **timing: float) -> Any:
        width, height = ORIENTATIONS[orientation]
        context = browser.new_context(
            viewport={"width": width, "height": height}, device_scale_factor=1, has_touch=True, locale="de-DE"
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on("console", lambda msg: errors.append(f"console: {msg.text}") if _unexpected(msg) else None)
        query = "&".join(f"{name}={value}" for name, value in timing.items())
        page.goto(f"{demo.url}/{'?' + query if query else ''}")
        page.wait_for_function("window.kiosk && window.kiosk.screen === 'start'")
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not errors, errors
