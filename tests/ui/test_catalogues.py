"""German and English catalogues: the same keys and placeholders, no empty text, no text in code."""

from __future__ import annotations

import re
from pathlib import Path

from station.cardterminal.prompts import _PROMPTS, FINAL_TEXT
from station.ui.catalogue import LANGUAGES, messages, po_path, read_catalog
from station.ui.screens import SCREENS
from station.ui.speech import PLACEHOLDER

UI = Path(__file__).resolve().parents[2] / "station" / "ui"
PREFIXES = (
    "app|chrome|idle|start|buy|number|item|age|pay|door|done|declined|error|help|timeout|keypad|speech|month"
    "|return|voucher|staff|task|report"
)
KEY = re.compile(rf"""["'`](?P<key>(?:{PREFIXES})\.[a-z_.]+)["'`]""")


def test_german_and_english_have_the_same_keys_and_placeholders() -> None:
    de, en = messages("de"), messages("en")
    assert set(de) == set(en), {"only German": set(de) - set(en), "only English": set(en) - set(de)}
    for key in de:
        assert de[key].strip() and en[key].strip(), f"{key} has an empty text"
        assert sorted(PLACEHOLDER.findall(de[key])) == sorted(PLACEHOLDER.findall(en[key])), key


def test_terminal_catalogues_cover_every_prompt_the_api_can_send() -> None:
    said = {*_PROMPTS.values(), *FINAL_TEXT.values()}
    for language in LANGUAGES:
        known = messages(language, "terminal")
        assert said <= set(known), f"{language}: missing {said - set(known)}"
    english = messages("en", "terminal")
    assert all(english[text] != text for text in said), "every prompt has an English text"


def test_catalogues_are_valid_gettext_files() -> None:
    for language in LANGUAGES:
        for domain in ("ui", "terminal"):
            catalog = read_catalog(language, domain)
            assert str(catalog.locale) == language, po_path(language, domain)
            assert not [m.id for m in catalog if m.fuzzy and m.id], "no fuzzy entries"


def test_every_key_the_screens_use_exists() -> None:
    known = set(messages("de"))
    sources = [*UI.glob("templates/*.html"), *UI.glob("static/js/*.js")]
    used = {match["key"] for path in sources for match in KEY.finditer(path.read_text())}
    used |= {key for keys in SCREENS.values() for key in keys}
    assert len(used) > 80
    # Keys built at run time (buy.state.<state>, error.<code>.*) are listed in SCREENS and checked there.
    assert sorted(key for key in used if key not in known and not key.endswith(".")) == []


def test_no_german_words_in_the_code() -> None:
    """Texts live in the catalogues: the JavaScript carries keys, never sentences."""
    for path in UI.glob("static/js/*.js"):
        code = re.sub(r"//.*|/\*.*?\*/", "", path.read_text(), flags=re.S)
        strings = re.findall(r'"([^"\n]*)"', code)
        umlauts = [s for s in strings if re.search(r"[äöüß]|\b(Bitte|Fach|Zahlung|Karte)\b", s)]
        assert umlauts == [], f"{path.name}: {umlauts}"
