"""What the NFC reader reports: one `TagRead` per tap, with the NDEF records found on the card."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ndef


@dataclass(frozen=True)
class NdefRecord:
    """One NDEF record: its type and raw payload, plus the decoded text or URI for those well-known types."""

    type: str  # ndeflib notation: "urn:nfc:wkt:U", "urn:nfc:wkt:T", "text/plain", "application/…"
    payload: bytes
    name: str = ""  # the record identifier, usually empty
    text: str | None = None  # Text record (urn:nfc:wkt:T)
    language: str | None = None  # Text record language, e.g. "de"
    uri: str | None = None  # URI record (urn:nfc:wkt:U), the full URI with its prefix expanded

    @classmethod
    def from_ndeflib(cls, record: ndef.Record) -> NdefRecord:
        text = language = uri = None
        if isinstance(record, ndef.TextRecord):
            text, language = record.text, record.language
        elif isinstance(record, ndef.UriRecord):
            uri = record.iri
        return cls(record.type, bytes(record.data), record.name or "", text, language, uri)

    @property
    def value(self) -> str | None:
        """The text or URI when the record is one of those, else None."""
        return self.text if self.text is not None else self.uri

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "payload": self.payload.hex()}
        if self.name:
            out["name"] = self.name
        if self.text is not None:
            out["text"], out["language"] = self.text, self.language
        if self.uri is not None:
            out["uri"] = self.uri
        return out


@dataclass(frozen=True)
class TagRead:
    """A card held to the reader (one event per tap, see `NfcReaderSettings.debounce_s`).

    The UID identifies a card but is no secret (clonable; phones emulate random UIDs): pair it with
    something the holder knows before it authorises anything.
    """

    uid_hex: str  # upper-case hex, e.g. "04A1B2C3D4E5F6"
    technology: str  # nfcpy bitrate and type: "106A" (ISO 14443-A), "106B", "212F" (FeliCa)
    ndef_records: tuple[NdefRecord, ...]
    at: float  # UNIX time the card was read
    tag_type: str = ""  # nfcpy's tag type, e.g. "Type2Tag"; empty when the card could not be activated
    product: str = ""  # e.g. "NXP NTAG213"

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.ndef_records if r.text is not None]

    @property
    def uris(self) -> list[str]:
        return [r.uri for r in self.ndef_records if r.uri is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI `--json`, logs)."""
        return {
            "uid": self.uid_hex,
            "technology": self.technology,
            "tag_type": self.tag_type,
            "product": self.product,
            "at": self.at,
            "ndef": [record.to_dict() for record in self.ndef_records],
        }


def records_from_ndeflib(records: Iterable[ndef.Record]) -> tuple[NdefRecord, ...]:
    return tuple(NdefRecord.from_ndeflib(record) for record in records)
