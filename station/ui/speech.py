"""Speech output: which clips exist, and how a text with placeholders is spoken from clips.

Clips are made offline from the catalogues by `scripts/make-speech` (espeak-ng) and served by the
station; the browser never synthesizes speech. A text with placeholders is cut at them:
"Fach {compartment} ist offen" is the clip `door.open.0` ("Fach"), the number clip `num.12`,
then `door.open.2` ("ist offen"). Numbers up to MAX_NUMBER have their own clips, larger ones are
read digit by digit; prices are "4 Euro 20"; phone and station numbers are spelled. Product names
are not spoken yet (they come from the platform, not from a catalogue).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from .catalogue import LANGUAGES, messages
from .screens import spoken_keys

DEFAULT_DIR = Path(__file__).resolve().parent / "speech"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
MAX_NUMBER = 100
# How each placeholder is spoken. A spoken text with a placeholder not listed here fails the tests.
KINDS = {
    "compartment": "number",
    "count": "number",
    "age": "number",
    "seconds": "number",
    "page": "number",
    "pages": "number",
    "length": "number",
    "price": "money",
    "deposit": "money",
    "total": "money",
    "phone": "spell",
    "station": "spell",
    "date": "date",
    "code": "spell",
    "minutes": "number",
}
VOICES = {"de": "de", "en": "en-gb"}  # espeak-ng voices
WORDS_PER_MINUTE = 140  # slower than espeak's 175: many listeners are older
SPELLED = "abcdefghijklmnopqrstuvwxyz"


def parts(key: str, template: str) -> list[dict[str, str]]:
    """The clips and placeholders a text is spoken as, in order."""
    pieces = PLACEHOLDER.split(template)  # text, name, text, name, ..., text
    if len(pieces) == 1:
        return [{"clip": key}]
    out: list[dict[str, str]] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append({"param": piece, "kind": KINDS.get(piece, "unknown")})
        elif _speakable(piece):
            out.append({"clip": f"{key}.{index}"})
    return out


def _speakable(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def terminal_clip(msgid: str) -> str:
    """Clip name of a terminal prompt (its msgid is a German sentence)."""
    return "terminal." + hashlib.sha1(msgid.encode()).hexdigest()[:12]


def _ordinal(day: int, language: str) -> str:
    if language == "de":
        return f"{day}."
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def clip_texts(language: str) -> dict[str, str]:
    """Every clip one language needs -> the text it speaks."""
    ui = messages(language)
    out: dict[str, str] = {}
    for key in spoken_keys():
        pieces = PLACEHOLDER.split(ui[key])
        for part in parts(key, ui[key]):
            if "clip" in part:
                index = int(part["clip"].rsplit(".", 1)[1]) if len(pieces) > 1 else 0
                out[part["clip"]] = pieces[index].strip(" :–-")
    for msgid, text in messages(language, "terminal").items():
        out[terminal_clip(msgid)] = text
    for number in range(MAX_NUMBER + 1):
        out[f"num.{number}"] = str(number)
    for letter in SPELLED:
        out[f"char.{letter}"] = letter
    for day in range(1, 32):
        out[f"day.{day}"] = _ordinal(day, language)
    for key in ("speech.euro", "speech.plus", "speech.dash", *(f"month.{m}" for m in range(1, 13))):
        out[key] = ui[key]
    return out


def manifest(language: str) -> dict[str, Any]:
    """What the browser needs to turn a screen's script into clip names."""
    ui = messages(language)
    return {
        "keys": {key: parts(key, ui[key]) for key in spoken_keys()},
        "terminal": {msgid: terminal_clip(msgid) for msgid in messages(language, "terminal")},
        "max_number": MAX_NUMBER,
    }


def fingerprint(language: str, text: str) -> str:
    """Changes when the text or the voice changes: the clip must be made again."""
    return hashlib.sha256(f"{VOICES[language]}|{WORDS_PER_MINUTE}|{text}".encode()).hexdigest()[:16]


def clip_path(base: Path, language: str, clip: str) -> Path:
    return base / language / f"{clip}.wav"


def missing_or_stale(base: Path) -> list[str]:
    """Clips that scripts/make-speech still has to make, as 'lang/clip'."""
    import json

    problems = []
    for language in LANGUAGES:
        index_file = base / language / "index.json"
        index = json.loads(index_file.read_text()) if index_file.exists() else {}
        for clip, text in clip_texts(language).items():
            if index.get(clip) != fingerprint(language, text) or not clip_path(base, language, clip).exists():
                problems.append(f"{language}/{clip}")
    return problems
