"""Pick-up credentials: what a customer presents, how it is told apart, and how it is stored.

- a typed code: 10-16 digits (≥ 33 bits; the keypad throttle keeps guessing below 10⁻³ hits per
  station-year with 50 live codes, safety-and-sync.md §5.3);
- a QR token: ≥ 128 bits in base64url (22-86 characters), typed by a 2D scanner that acts as a
  keyboard, into the same field;
- a customer NFC card: its UID, linked to the order by the platform;
- a signed offline code (`offline.py`): verified with the platform's pinned key, no lookup needed.

The station keeps only HMAC-SHA256 digests of codes, tokens and card UIDs under its key file
(`staff.secret.StationSecret`, outside the database), so a copy of the database allows no offline
guessing. A lookup is by digest (an index), and the digest found is compared once more in constant
time (`hmac.compare_digest`).
"""

from __future__ import annotations

import enum
import hmac
import re

from ..staff.secret import StationSecret, normalise_uid

CODE_RE = re.compile(r"^\d{10,16}$")
QR_RE = re.compile(r"^[A-Za-z0-9_-]{22,86}$")
OFFLINE_PREFIX = "PU1."


class Kind(enum.StrEnum):
    CODE = "code"
    QR = "qr"
    CARD = "card"
    OFFLINE = "offline"


def classify(text: str) -> Kind | None:
    """What was typed or scanned: digits are a code, `PU1.…` a signed offline code, else a QR token."""
    cleaned = text.strip()
    if CODE_RE.match(cleaned):
        return Kind.CODE
    if cleaned.startswith(OFFLINE_PREFIX):
        return Kind.OFFLINE
    if QR_RE.match(cleaned):
        return Kind.QR
    return None


def digest(secret: StationSecret, kind: Kind, value: str) -> str:
    """The stored form of a code, a QR token or a card UID (hex, separators ignored)."""
    if kind is Kind.CARD:
        value = normalise_uid(value)
    return secret.pickup_digest(kind.value, value.strip())


def same(stored: str | None, candidate: str) -> bool:
    return stored is not None and hmac.compare_digest(stored, candidate)
