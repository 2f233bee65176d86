"""Which character set a terminal's texts use, and decoding them without ever failing.

ZVT texts default to code page 437 (Wireshark's ZVT dissector and Portalum both default to it;
Portalum's receipt vectors carry `81` = ü and `8E` = Ä). A terminal may name another set in TLV
tag 14 "ISO character set" (spec rev. 13.11, chapter "Overview of tags used"; the tag name is
public in BrunoHos/zvt-show `zvt.mjs` and in Portalum's registration comments). Tag 27 is the
"list of supported character sets" a terminal announces, built from tag-14 items.

The *values* of tag 14 are not in any public source we could read: we take the byte as the part
number of ISO/IEC 8859 (01 = 8859-1 Latin-1, 0F = 8859-15 Latin-9, ...), and 00 as the default
CP437 [U: confirm against the spec table or a real terminal]. An unknown value keeps CP437 and
is reported as a warning. Texts are informational: a wrong guess garbles a receipt line, never a
money outcome.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import CodecError
from .tlv import TlvItem

DEFAULT_ENCODING = "cp437"
CHARSET_TAG = 0x14
SUPPORTED_CHARSETS_TAG = 0x27

# ISO/IEC 8859 has parts 1-16 except 12 (abandoned); Python names them iso8859_N.
_ISO_8859_PARTS = frozenset(range(1, 17)) - {12}


def encoding_for(value: bytes) -> tuple[str, str | None]:
    """(Python codec, warning or None) for the value of TLV tag 14."""
    if len(value) != 1:
        return DEFAULT_ENCODING, f"character set tag 14 has {len(value)} bytes, expected 1: texts read as CP437"
    code = value[0]
    if code == 0:
        return DEFAULT_ENCODING, None
    if code in _ISO_8859_PARTS:
        return f"iso8859_{code}", None
    return DEFAULT_ENCODING, f"unknown character set {code:02X} in tag 14: texts read as CP437"


def message_encoding(items: Iterable[TlvItem] | None) -> tuple[str, tuple[str, ...]]:
    """The text encoding a message's TLV container names (first tag 14 outside tag 27), with warnings."""
    for item in _outside_supported_list(items or ()):
        if item.tag == CHARSET_TAG and isinstance(item.value, bytes):
            encoding, warning = encoding_for(item.value)
            return encoding, (warning,) if warning else ()
    return DEFAULT_ENCODING, ()


def _outside_supported_list(items: Iterable[TlvItem]) -> Iterable[TlvItem]:
    """Depth first, skipping the "supported character sets" list (it names options, not the one in use)."""
    for item in items:
        if item.tag == SUPPORTED_CHARSETS_TAG:
            continue
        yield item
        yield from _outside_supported_list(item.children())


def decode_text(raw: bytes, encoding: str) -> tuple[str, str | None]:
    """Text from bytes, never raising: undecodable bytes become U+FFFD and a warning."""
    text = bytes(raw).decode(encoding, errors="replace")
    if "\ufffd" in text:
        return text, f"{text.count(chr(0xFFFD))} byte(s) not defined in {encoding}"
    return text, None


def encode_text(text: str, encoding: str) -> bytes:
    """Inverse of `decode_text` for texts that decoded cleanly (the simulator's side)."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise CodecError(f"text {text!r} cannot be written in {encoding}") from exc
