"""Typed values of the BMPs a terminal reports, split by what is at stake.

Money fields (result code, amount, currency, trace, original trace, receipt number) are decoded
strictly: a value that cannot be read makes the whole status information unreadable, because
guessing it could book or refuse the wrong money. Every other field is informational (card data,
texts, dates, terminal id, the TLV container): it is decoded as well as it can be, never fails,
and reports what it could not read as a warning. Its original bytes are kept in `raw` whenever
the decoded value does not encode back to the same bytes, so nothing the terminal said is lost;
the one exception is a PAN carrying track-2 data after a separator, which is never kept.

Texts are read in the character set the message's TLV container names (see `charset.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .bcd import decode_bcd, encode_bcd, encode_digits
from .charset import DEFAULT_ENCODING, decode_text, encode_text, message_encoding
from .errors import CodecError
from .tlv import TlvItem, decode_tlv_lenient, encode_tlv

Decoded = tuple[Any, str | None]  # (value or None, warning or None)
Decode = Callable[[bytes, str], Decoded]  # (raw, text encoding)
Encode = Callable[[Any, str], bytes]

TLV_TAG = 0x06


@dataclass(frozen=True)
class FieldCodec:
    attr: str
    decode: Decode
    encode: Encode
    money: bool = False  # strict: unreadable means the message is unreadable
    keep: Callable[[bytes], bytes] = bytes  # which raw bytes may be kept when the value is lossy


# --- money: strict ---------------------------------------------------------------------------


def _strict_bcd(size: int) -> tuple[Decode, Encode]:
    def decode(raw: bytes, _enc: str) -> Decoded:
        return decode_bcd(raw), None

    return decode, lambda value, _enc: encode_bcd(value, size)


# --- informational: lenient ------------------------------------------------------------------


def _byte(raw: bytes, _enc: str) -> Decoded:
    return raw[0], None


def _unbyte(value: int, _enc: str) -> bytes:
    if not 0 <= value <= 0xFF:
        raise CodecError(f"{value} is not a byte value")
    return bytes([value])


def _bcd_number(size: int) -> tuple[Decode, Encode]:
    def decode(raw: bytes, _enc: str) -> Decoded:
        text = raw.hex()
        return (int(text), None) if text.isdigit() else (None, f"not packed BCD: {raw.hex(' ').upper()}")

    return decode, lambda value, _enc: encode_bcd(value, size)


def _digits(size: int) -> tuple[Decode, Encode]:
    """Fixed-size all-digit BCD kept as a string (dates, terminal id: leading zeros matter)."""

    def decode(raw: bytes, _enc: str) -> Decoded:
        text = raw.hex()
        return (text, None) if text.isdigit() else (None, f"not packed BCD: {raw.hex(' ').upper()}")

    def encode(value: str, _enc: str) -> bytes:
        if len(value) != 2 * size or not value.isdigit():
            raise CodecError(f"expected {2 * size} digits, got {value!r}")
        return bytes.fromhex(value)

    return decode, encode


_PAN_SEPARATOR = "D"  # track-2 field separator: expiry and service code follow


def _pan(raw: bytes, _enc: str) -> Decoded:
    """Masked PAN: E = masked digit '*', F = padding; D ends the PAN (track-2 data follows)."""
    out: list[str] = []
    odd: set[str] = set()
    for nibble in raw.hex().upper():
        if nibble.isdigit():
            out.append(nibble)
        elif nibble == "E":
            out.append("*")
        elif nibble == _PAN_SEPARATOR:
            return "".join(out), "PAN carries a track-2 separator: the data after it is dropped, never kept"
        elif nibble != "F":
            out.append("?")
            odd.add(nibble)
    warning = f"PAN has non-digit nibble(s) {', '.join(sorted(odd))}" if odd else None
    return "".join(out), warning


def _pan_bytes_before_separator(raw: bytes) -> bytes:
    index = raw.hex().upper().find(_PAN_SEPARATOR)
    return raw if index < 0 else raw[: index // 2]


def _unpan(value: str, _enc: str) -> bytes:
    return encode_digits(value)


def _text(raw: bytes, enc: str) -> Decoded:
    return decode_text(raw, enc)


def _untext(value: str, enc: str) -> bytes:
    return encode_text(value, enc)


def _c_string(raw: bytes, enc: str) -> Decoded:
    """A name that some terminals end with NUL bytes (C string): the text ends at the first NUL."""
    head, nul, tail = bytes(raw).partition(b"\x00")
    text, warning = decode_text(head, enc)
    if nul and tail.strip(b"\x00"):
        warning = warning or f"{len(tail)} byte(s) after the NUL terminator dropped"
    return text, warning


def _fixed_text(size: int) -> tuple[Decode, Encode]:
    """Fixed-size text padded with NUL bytes (BMP 3B); the padding is not part of the value."""

    def decode(raw: bytes, enc: str) -> Decoded:
        return _c_string(raw, enc)

    def encode(value: str, enc: str) -> bytes:
        data = encode_text(value, enc)
        if len(data) > size:
            raise CodecError(f"{value!r} is longer than {size} bytes")
        return data.ljust(size, b"\x00")

    return decode, encode


def _raw(raw: bytes, _enc: str) -> Decoded:
    return bytes(raw), None


def _unraw(value: bytes, _enc: str) -> bytes:
    return bytes(value)


def _tlv(raw: bytes, _enc: str) -> Decoded:
    items, warnings = decode_tlv_lenient(raw)
    return items, "; ".join(warnings) or None


def _untlv(value: tuple[TlvItem, ...], _enc: str) -> bytes:
    return encode_tlv(value)


def _c(attr: str, pair: tuple[Decode, Encode], **kw: Any) -> FieldCodec:
    return FieldCodec(attr, pair[0], pair[1], **kw)


# Order = the order in which `encode_fields` writes them.
FIELD_CODECS: dict[int, FieldCodec] = {
    0x27: FieldCodec("result_code", _byte, _unbyte, money=True),  # one byte: framing guarantees it
    0x04: _c("amount_cents", _strict_bcd(6), money=True),
    0x49: _c("currency", _strict_bcd(2), money=True),
    0x0B: _c("trace_no", _strict_bcd(3), money=True),
    0x37: _c("original_trace_no", _strict_bcd(3), money=True),
    0x87: _c("receipt_no", _strict_bcd(2), money=True),
    0x88: _c("turnover_no", _bcd_number(3)),
    0x29: _c("terminal_id", _digits(4)),
    0x2A: _c("vu_number", (_text, _untext)),
    0x0C: _c("time", _digits(3)),
    0x0D: _c("date", _digits(2)),
    0xAA: _c("date_ymd", _digits(3)),
    0x0E: _c("expiry", _digits(2)),
    0x17: _c("card_seq_no", _bcd_number(2)),
    0x19: _c("payment_type", (_byte, _unbyte)),
    0x22: _c("pan", (_pan, _unpan), keep=_pan_bytes_before_separator),
    0x8A: _c("card_type", (_byte, _unbyte)),
    0x8B: _c("card_name", (_c_string, _untext)),
    0x8C: _c("card_type_network", (_byte, _unbyte)),
    0x3B: _c("aid", _fixed_text(8)),
    0xA0: _c("host_result_code", (_byte, _unbyte)),
    0x3C: _c("additional_text", (_text, _untext)),
    0x60: _c("individual_totals", (_raw, _unraw)),
    TLV_TAG: _c("tlv", (_tlv, _untlv)),
}

ATTR_TAGS = {codec.attr: tag for tag, codec in FIELD_CODECS.items()}
MONEY_TAGS = frozenset(tag for tag, codec in FIELD_CODECS.items() if codec.money)


@dataclass
class DecodedFields:
    """What `decode_fields` read: typed values, untyped BMPs, kept raw bytes, problems."""

    values: dict[str, Any] = field(default_factory=dict)
    extra: list[tuple[int, bytes]] = field(default_factory=list)
    raw: list[tuple[int, bytes]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    money_errors: list[str] = field(default_factory=list)
    encoding: str = DEFAULT_ENCODING


def decode_fields(fields: list[tuple[int, bytes]]) -> DecodedFields:
    """Typed values by attribute name; never raises (money problems are listed in `money_errors`)."""
    out = DecodedFields()
    tlv_raw = next((raw for tag, raw in reversed(fields) if tag == TLV_TAG), None)
    if tlv_raw is not None:  # first: it may name the character set of the texts
        _decode_one(out, TLV_TAG, tlv_raw)
        out.encoding, charset_warnings = message_encoding(out.values.get("tlv"))
        out.warnings.extend(charset_warnings)
    seen: dict[int, bytes] = {}
    for tag, raw in fields:
        if tag in seen:
            _duplicate(out, tag, seen[tag], raw)
        seen[tag] = raw
        if tag == TLV_TAG:
            continue
        if tag in FIELD_CODECS:
            _decode_one(out, tag, raw)
        else:
            out.extra.append((tag, raw))
    return out


def _duplicate(out: DecodedFields, tag: int, first: bytes, again: bytes) -> None:
    if first == again:
        return
    text = f"BMP {tag:02X} appears twice with different values ({first.hex(' ')} / {again.hex(' ')})"
    if tag in MONEY_TAGS:
        out.money_errors.append(text)
    else:
        out.warnings.append(text + ": the last is kept")


def _decode_one(out: DecodedFields, tag: int, raw: bytes) -> None:
    codec = FIELD_CODECS[tag]
    if codec.money:
        try:
            out.values[codec.attr] = codec.decode(raw, out.encoding)[0]
        except CodecError as exc:
            out.money_errors.append(f"BMP {tag:02X} ({codec.attr}): {exc}")
        return
    value, warning = codec.decode(raw, out.encoding)
    out.values[codec.attr] = value
    if warning:
        out.warnings.append(f"BMP {tag:02X} ({codec.attr}): {warning}")
    if value is None or not _reencodes(codec, value, raw, out.encoding):
        out.raw.append((tag, codec.keep(raw)))


def _reencodes(codec: FieldCodec, value: Any, raw: bytes, encoding: str) -> bool:
    try:
        return codec.encode(value, encoding) == raw
    except CodecError:
        return False


def encode_fields(
    values: dict[str, Any], raw: tuple[tuple[int, bytes], ...] = (), encoding: str = DEFAULT_ENCODING
) -> list[tuple[int, bytes]]:
    """(tag, bytes) for every attribute that is not None, in `FIELD_CODECS` order.

    A tag with kept raw bytes is written from those bytes, so a message read leniently is
    written back as the terminal sent it.
    """
    kept = dict(raw)
    out = []
    for tag, codec in FIELD_CODECS.items():
        if tag in kept:
            out.append((tag, kept[tag]))
            continue
        value = values.get(codec.attr)
        if value is not None:
            out.append((tag, codec.encode(value, encoding)))
    return out
