"""The touchscreen's message catalogues: gettext `.po` files read with Babel.

Two domains per language under `locale/<lang>/LC_MESSAGES/`:
- `ui.po`: msgid is a key (`buy.title`), msgstr the text; placeholders in braces (`{compartment}`).
- `terminal.po`: msgid is the German text the purchase API sends (the card terminal's prompts),
  msgstr its translation (empty in German: the text itself).

The `.po` files are read directly (no compiled `.mo`): they are small, read once, and the browser
gets them as JSON. German is the default; English is switchable on the screen.
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
DOMAINS = ("ui", "terminal")


def po_path(language: str, domain: str = "ui") -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"


def read_catalog(language: str, domain: str = "ui") -> Catalog:
    with po_path(language, domain).open("rb") as fp:
        return read_po(fp, locale=language, domain=domain)


@functools.cache
def messages(language: str, domain: str = "ui") -> dict[str, str]:
    """msgid -> text for one language; a terminal prompt without translation is its German msgid."""
    if language not in LANGUAGES:
        raise KeyError(f"no catalogue for language {language!r}")
    out: dict[str, str] = {}
    for message in read_catalog(language, domain):
        if not message.id or not isinstance(message.id, str):
            continue  # the header, or a plural entry (we have none)
        text = message.string if isinstance(message.string, str) else ""
        out[message.id] = text or (message.id if domain == "terminal" else "")
    return out


def text(key: str, language: str = DEFAULT_LANGUAGE, **params: object) -> str:
    """One UI text with its placeholders filled (for templates rendered on the server)."""
    template = messages(language).get(key)
    if not template:
        raise KeyError(f"no text for {key!r} in the {language} catalogue")
    return template.format(**params) if params else template
