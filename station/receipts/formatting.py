"""How receipts write money, dates and text: `3,49 €`, `24.12.2026`, `18:05`, CP858-safe text."""

from __future__ import annotations

import datetime as dt
import unicodedata
from zoneinfo import ZoneInfo

# Characters people type (or product feeds contain) that CP858 lacks, and what to print instead.
_PLAIN = str.maketrans(
    {
        "„": '"', "“": '"', "”": '"', "‚": "'", "‘": "'", "’": "'", "–": "-", "—": "-",
        "…": "...", "\u00a0": " ", "\u202f": " ", "•": "*", "‐": "-", "−": "-",
    }
)  # fmt: skip


def euro(cents: int) -> str:
    """Integer cents as German money: 349 -> "3,49 €", 123456 -> "1.234,56 €", -175 -> "-1,75 €"."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{rest:02d} €"


def local(moment: dt.datetime, timezone: str) -> dt.datetime:
    """An aware time in the station's zone; a naive time is taken as already local."""
    return moment.astimezone(ZoneInfo(timezone)) if moment.tzinfo is not None else moment


def date_de(value: dt.date | dt.datetime, timezone: str = "Europe/Berlin") -> str:
    """24.12.2026"""
    if isinstance(value, dt.datetime):
        value = local(value, timezone)
    return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"


def time_de(value: dt.datetime, timezone: str = "Europe/Berlin") -> str:
    """18:05"""
    value = local(value, timezone)
    return f"{value.hour:02d}:{value.minute:02d}"


def percent(rate: float) -> str:
    """7 -> "7 %", 10.7 -> "10,7 %"."""
    text = f"{rate:g}".replace(".", ",")
    return f"{text} %"


def printable(text: str) -> str:
    """One line of text the printer can print in CP858: no control characters, look-alikes for the rest."""
    text = unicodedata.normalize("NFC", str(text)).translate(_PLAIN)
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in text)
    return text.encode("cp858", errors="replace").decode("cp858")


def ean13_check_digit(first12: str) -> int:
    """GS1 check digit: weights 1, 3, 1, 3 … from the left over the first 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def valid_ean13(code: str) -> bool:
    return len(code) == 13 and code.isascii() and code.isdigit() and ean13_check_digit(code[:12]) == int(code[12])


def mask_card(number: str) -> str:
    """Only the last four digits of a card number are ever printed."""
    digits = [ch for ch in number if ch.isdigit()]
    return "**** " + "".join(digits[-4:]) if digits else ""
