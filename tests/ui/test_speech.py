"""Speech output: clips made offline from the catalogues, every screen's clips in both languages,
started on request, interruptable, and PIN digits never spoken."""

from __future__ import annotations

import shutil
import urllib.request
import wave
from pathlib import Path
from typing import Any

import pytest

from station.ui.catalogue import LANGUAGES, messages
from station.ui.makespeech import render
from station.ui.screens import SCREENS, SPEAKS_TERMINAL
from station.ui.speech import DEFAULT_DIR, KINDS, PLACEHOLDER, clip_texts, missing_or_stale
from tests.ui.conftest import Demo
from tests.ui.kiosk import tap
from tests.ui.screens import VISITS, home, visit


def test_every_screen_has_its_speech_clips_in_both_languages() -> None:
    problems = missing_or_stale(DEFAULT_DIR)
    assert not problems, f"{len(problems)} clips missing or stale, e.g. {problems[:5]}: run scripts/make-speech"


def test_every_spoken_text_can_be_spoken() -> None:
    for language in LANGUAGES:
        ui = messages(language)
        for screen, keys in SCREENS.items():
            for key in keys:
                assert ui.get(key), f"{screen} speaks {key!r}, missing in the {language} catalogue"
                unknown = set(PLACEHOLDER.findall(ui[key])) - set(KINDS)
                assert not unknown, f"{key}: no way to speak {unknown}"
    assert SPEAKS_TERMINAL == ("pay",)


def test_a_missing_clip_is_noticed(tmp_path: Path) -> None:
    if not (DEFAULT_DIR / "de").exists():
        pytest.fail("no speech clips: run scripts/make-speech")
    shutil.copytree(DEFAULT_DIR, tmp_path / "speech")
    (tmp_path / "speech" / "en" / "door.open.0.wav").unlink()
    assert missing_or_stale(tmp_path / "speech") == ["en/door.open.0"]


def test_make_speech_renders_a_trimmed_clip_with_espeak_ng(tmp_path: Path) -> None:
    target = tmp_path / "clip.wav"
    render(clip_texts("de")["door.open.0"], "de", target)  # "Fach"
    with wave.open(str(target)) as clip:
        seconds = clip.getnframes() / clip.getframerate()
        samples = clip.readframes(clip.getnframes())
    assert 0.1 < seconds < 1.0  # one word, its padding trimmed
    assert max(samples[1::2]) > 8  # not silence (high bytes of 16-bit samples)


def _clip_urls(page: Any) -> list[str]:
    return page.evaluate("window.kiosk.speech.clipsFor(window.kiosk.script()).map(c => window.kiosk.speech.url(c))")


def _served(url: str) -> bool:
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200 and response.headers["Content-Type"].startswith("audio/")
    except OSError:
        return False


def test_each_screen_speaks_only_its_listed_keys_from_served_clips(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("landscape", idle_s=3600, warn_s=60, window_s=3600)
    problems = []
    for language in LANGUAGES:
        home(page)
        if page.evaluate("document.documentElement.lang") != language:
            tap(page, '[data-action="language"]')
        for name in VISITS:
            visit(page, name)
            items = page.evaluate("window.kiosk.script()")
            allowed = set(SCREENS[name]) | (set(SCREENS["chrome"]) if name in ("start", "idle") else set())
            keys = [item["key"] for item in items if "key" in item]
            problems += [f"{language}/{name} speaks unlisted {key}" for key in keys if key not in allowed]
            urls = _clip_urls(page)
            if not urls:
                problems.append(f"{language}/{name} says nothing")
            problems += [f"{language}/{name}: {url} not served" for url in urls if not _served(demo.url + url)]
            assert all(f"/{language}/" in url for url in urls)
    assert not problems, "\n".join(problems)


def test_read_aloud_starts_on_request_and_stops(open_kiosk: Any, demo: Demo) -> None:
    page = open_kiosk("portrait")
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url) if "/ui/speech/" in request.url else None)
    page.wait_for_timeout(300)
    assert requested == []  # nothing is spoken unless asked for
    tap(page, '[data-action="speak"]')
    assert page.locator('[data-action="speak"]').get_attribute("aria-pressed") == "true"
    assert page.locator('[data-action="speak"]').inner_text().strip() == "Vorlesen aus"
    page.wait_for_function("window.kiosk.speech.lastClips.length > 0")
    first = page.evaluate("window.kiosk.speech.lastItems.map(i => i.key)")
    assert "chrome.simulated" in first and "start.title" in first
    page.wait_for_timeout(300)
    assert requested and all("/ui/speech/de/" in url for url in requested)
    tap(page, '[data-screen="start"] [data-action="buy"]')  # a new screen interrupts and reads itself
    assert page.evaluate("window.kiosk.speech.lastItems[0].key") == "buy.title"
    tap(page, '[data-action="speak"]')
    assert page.evaluate("window.kiosk.speech.queue.length === 0 && window.kiosk.speech.audio.paused")
    assert page.locator('[data-action="speak"]').get_attribute("aria-pressed") == "false"


def test_pin_digits_are_never_spoken_nor_shown(open_kiosk: Any) -> None:
    page = open_kiosk("landscape")
    result = page.evaluate(
        """async () => {
          const { Keypad } = await import('/ui/static/js/keypad.js');
          const host = document.createElement('div');
          document.body.append(host);
          const said = [];
          const speak = (items) => said.push(...items);
          const pad = new Keypad(host, { label: 'number.label', maxLength: 4, secret: true, speak });
          for (const d of ['4', '7', '1', '1']) host.querySelector(`[data-digit="${d}"]`).click();
          return { said, shown: host.querySelector('output').textContent, script: pad.script(), value: pad.value };
        }"""
    )
    assert result["value"] == "4711" and result["shown"] == "••••"
    assert {item["key"] for item in result["said"]} == {"keypad.digit_entered"}
    assert all("params" not in item for item in result["said"])
    assert result["script"] == [{"key": "keypad.digits", "params": {"count": 4, "length": 4}}]


def test_texts_with_placeholders_are_spoken_in_pieces() -> None:
    from station.ui.speech import parts

    assert parts("door.open", "Fach {compartment} ist offen") == [
        {"clip": "door.open.0"},
        {"param": "compartment", "kind": "number"},
        {"clip": "door.open.2"},
    ]
    assert parts("buy.price", "{price}") == [{"param": "price", "kind": "money"}]
    assert parts("help.title", "Hilfe") == [{"clip": "help.title"}]
    texts = clip_texts("de")
    assert (texts["door.open.0"], texts["door.open.2"], texts["num.12"]) == ("Fach", "ist offen", "12")
