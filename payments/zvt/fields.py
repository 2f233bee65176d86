"""Typed values of the BMPs a terminal reports, and their encoders (for the simulator).

`FIELD_CODECS` maps a BMP tag to the attribute name used on `StatusInformation` and to a pair of
functions (bytes -> value, value -> bytes). Texts use code page 437, which maps all 256 byte values,
so decoding and encoding are exact inverses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .bcd import bcd_digits, decode_bcd, encode_bcd, encode_digits
from .errors import CodecError
from .tlv import TlvItem, decode_tlv, encode_tlv

TEXT_ENCODING = "cp437"


def _text(raw: bytes) -> str:
    return raw.decode(TEXT_ENCODING)


def _untext(value: str) -> bytes:
    return value.encode(TEXT_ENCODING)


def _byte(raw: bytes) -> int:
    return raw[0]


def _unbyte(value: int) -> bytes:
    if not 0 <= value <= 0xFF:
        raise CodecError(f"{value} is not a byte value")
    return bytes([value])


def _bcd(size: int) -> tuple[Callable[[bytes], int], Callable[[int], bytes]]:
    return decode_bcd, lambda value: encode_bcd(value, size)


def _digits(size: int) -> tuple[Callable[[bytes], str], Callable[[str], bytes]]:
    """Fixed-size all-digit BCD kept as a string (dates, terminal id: leading zeros matter)."""

    def decode(raw: bytes) -> str:
        text = raw.hex()
        if not text.isdigit():
            raise CodecError(f"not packed BCD: {raw.hex(' ')}")
        return text

    def encode(value: str) -> bytes:
        if len(value) != 2 * size or not value.isdigit():
            raise CodecError(f"expected {2 * size} digits, got {value!r}")
        return bytes.fromhex(value)

    return decode, encode


def _tlv(raw: bytes) -> tuple[TlvItem, ...]:
    return decode_tlv(raw)


def _raw(raw: bytes) -> bytes:
    return bytes(raw)


@dataclass(frozen=True)
class FieldCodec:
    attr: str
    decode: Callable[[bytes], Any]
    encode: Callable[[Any], bytes]


def _c(attr: str, pair: tuple[Callable[[bytes], Any], Callable[[Any], bytes]]) -> FieldCodec:
    return FieldCodec(attr, pair[0], pair[1])


# Order = the order in which the simulator writes them.
FIELD_CODECS: dict[int, FieldCodec] = {
    0x27: _c("result_code", (_byte, _unbyte)),
    0x04: _c("amount_cents", _bcd(6)),
    0x49: _c("currency", _bcd(2)),
    0x0B: _c("trace_no", _bcd(3)),
    0x37: _c("original_trace_no", _bcd(3)),
    0x87: _c("receipt_no", _bcd(2)),
    0x88: _c("turnover_no", _bcd(3)),
    0x29: _c("terminal_id", _digits(4)),
    0x2A: _c("vu_number", (_text, _untext)),
    0x0C: _c("time", _digits(3)),
    0x0D: _c("date", _digits(2)),
    0xAA: _c("date_ymd", _digits(3)),
    0x0E: _c("expiry", _digits(2)),
    0x17: _c("card_seq_no", _bcd(2)),
    0x19: _c("payment_type", (_byte, _unbyte)),
    0x22: _c("pan", (bcd_digits, encode_digits)),
    0x8A: _c("card_type", (_byte, _unbyte)),
    0x8B: _c("card_name", (_text, _untext)),
    0x8C: _c("card_type_network", (_byte, _unbyte)),
    0x3B: _c("aid", (_text, _untext)),
    0xA0: _c("host_result_code", (_byte, _unbyte)),
    0x3C: _c("additional_text", (_text, _untext)),
    0x60: _c("individual_totals", (_raw, _raw)),
    0x06: _c("tlv", (_tlv, encode_tlv)),
}

ATTR_TAGS = {codec.attr: tag for tag, codec in FIELD_CODECS.items()}


def decode_fields(fields: list[tuple[int, bytes]]) -> tuple[dict[str, Any], tuple[tuple[int, bytes], ...]]:
    """Typed values by attribute name, plus the BMPs without a typed attribute (wire order)."""
    typed: dict[str, Any] = {}
    extra: list[tuple[int, bytes]] = []
    for tag, raw in fields:
        codec = FIELD_CODECS.get(tag)
        if codec is None:
            extra.append((tag, raw))
            continue
        try:
            typed[codec.attr] = codec.decode(raw)
        except CodecError as exc:
            raise CodecError(f"BMP {tag:02X} ({codec.attr}): {exc}") from exc
    return typed, tuple(extra)


def encode_fields(values: dict[str, Any]) -> list[tuple[int, bytes]]:
    """(tag, raw) for every attribute that is not None, in `FIELD_CODECS` order."""
    out = []
    for tag, codec in FIELD_CODECS.items():
        value = values.get(codec.attr)
        if value is not None:
            out.append((tag, codec.encode(value)))
    return out
