"""BMPs: the tagged fields after an APDU's fixed fields.

A BMP is a one-byte tag followed by a value whose framing depends on the tag: a fixed number of
bytes, LLVAR (`Fx Fy` = a two-digit length, one digit per low nibble), LLLVAR (`Fx Fy Fz`) or the
TLV container (tag 06, BER length). A tag that is not in `BMP_FORMATS` cannot be skipped (its length
is unknown): `decode_bmps` raises CodecError there, `scan_bmps` stops there and says why, keeping
every BMP read before it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CodecError
from .tlv import decode_ber_length, encode_ber_length

LL, LLL, TLV = -2, -3, -1  # pseudo sizes for the variable formats


@dataclass(frozen=True)
class BmpFormat:
    name: str
    size: int  # > 0 fixed byte count; LL, LLL or TLV


def _f(name: str, size: int) -> BmpFormat:
    return BmpFormat(name, size)


# ZVT spec rev. 13.06 chapter "Bitmaps" (zvt.md §2.1, completed from the spec's list).
BMP_FORMATS: dict[int, BmpFormat] = {
    0x01: _f("timeout", 1),
    0x02: _f("max status infos", 1),
    0x03: _f("service byte", 1),
    0x04: _f("amount", 6),
    0x05: _f("pump number", 1),
    0x06: _f("TLV container", TLV),
    0x0B: _f("trace number", 3),
    0x0C: _f("time", 3),
    0x0D: _f("date", 2),
    0x0E: _f("expiry date", 2),
    0x17: _f("card sequence number", 2),
    0x19: _f("status / payment type", 1),
    0x22: _f("PAN", LL),
    0x23: _f("track 2", LL),
    0x24: _f("track 3", LLL),
    0x27: _f("result code", 1),
    0x29: _f("terminal id", 4),
    0x2A: _f("VU number", 15),
    0x2D: _f("track 1", LL),
    0x2E: _f("sync chip data", LLL),
    0x37: _f("original trace number", 3),
    0x3A: _f("CVV", 2),
    0x3B: _f("AID", 8),
    0x3C: _f("additional data", LLL),
    0x3D: _f("password", 3),
    0x49: _f("currency code", 2),
    0x60: _f("individual totals", LLL),
    0x87: _f("receipt number", 2),
    0x88: _f("turnover record number", 3),
    0x8A: _f("card type", 1),
    0x8B: _f("card name", LL),
    0x8C: _f("card type id of the network operator", 1),
    0x92: _f("additional data ec-Cash", LLL),
    0x9A: _f("Geldkarte payment data", LLL),
    0xA0: _f("result code of the authorisation system", 1),
    0xA7: _f("chip data", LL),
    0xAA: _f("date YYMMDD", 3),
    0xAF: _f("EF_ID", LLL),
    0xBA: _f("AID parameter", 5),
    0xD0: _f("algorithm key", 1),
    0xD1: _f("card offset / PIN data", LL),
    0xD2: _f("direction", 1),
    0xD3: _f("key position", 1),
    0xE0: _f("min. input length", 1),
    **{tag: _f(f"text line {tag - 0xE0}", LL) for tag in range(0xE1, 0xE9)},
    0xE9: _f("max. input length", 1),
    0xEA: _f("echo input", 1),
    0xEB: _f("MAC", 8),
    0xF0: _f("display duration", 1),
    **{tag: _f(f"display line {tag - 0xF0}", LL) for tag in range(0xF1, 0xF9)},
    0xF9: _f("number of beeps", 1),
    0xFA: _f("status", 1),
    0xFB: _f("OK required", 1),
    0xFC: _f("card reading control", 1),
    # Added in spec rev. 13.11 ("Summary of utilised BMPs"; public list in BrunoHos/zvt-show
    # zvt.mjs): we do not use them, but knowing their size lets a message carrying them be read.
    0x70: _f("display image request id", 4),
    0x71: _f("display image size", 4),
    0x72: _f("display image MIME type", 1),
    0x73: _f("display image encoding", 1),
    0x74: _f("display image chunk count", 1),
    0x75: _f("display image chunk index", 1),
    0xFD: _f("display device", 1),
}


def encode_var_length(size: int, digits: int) -> bytes:
    """LLVAR/LLLVAR length: one decimal digit per byte, high nibble F (16 -> F1 F6)."""
    if not 0 <= size < 10**digits:
        raise CodecError(f"length {size} does not fit in {digits} length digits")
    return bytes(0xF0 | int(d) for d in str(size).zfill(digits))


def decode_var_length(data: bytes, pos: int, digits: int) -> tuple[int, int]:
    raw = data[pos : pos + digits]
    if len(raw) != digits:
        raise CodecError("LLVAR/LLLVAR length cut short")
    if any(b & 0xF0 != 0xF0 or b & 0x0F > 9 for b in raw):
        raise CodecError(f"bad LLVAR/LLLVAR length bytes {raw.hex(' ')}")
    return int("".join(str(b & 0x0F) for b in raw)), pos + digits


def encode_bmp(tag: int, value: bytes) -> bytes:
    """One BMP with its framing; a wrong fixed length or an unknown tag is a CodecError."""
    fmt = BMP_FORMATS.get(tag)
    if fmt is None:
        raise CodecError(f"unknown BMP tag {tag:02X}")
    value = bytes(value)
    if fmt.size > 0:
        if len(value) != fmt.size:
            raise CodecError(f"BMP {tag:02X} ({fmt.name}) has {fmt.size} bytes, got {len(value)}")
        prefix = b""
    elif fmt.size == TLV:
        prefix = encode_ber_length(len(value))
    else:
        prefix = encode_var_length(len(value), -fmt.size)
    return bytes([tag]) + prefix + value


def encode_bmps(fields: list[tuple[int, bytes]]) -> bytes:
    return b"".join(encode_bmp(tag, value) for tag, value in fields)


def decode_bmps(data: bytes, pos: int = 0) -> list[tuple[int, bytes]]:
    """All BMPs from `pos` to the end as (tag, value) in wire order; the TLV value is the raw container."""
    fields, broken = scan_bmps(data, pos)
    if broken is not None:
        raise CodecError(broken)
    return fields


def scan_bmps(data: bytes, pos: int = 0) -> tuple[list[tuple[int, bytes]], str | None]:
    """BMPs from `pos` in wire order, and why the scan stopped early (None when it reached the end).

    The scan stops where the framing breaks (unknown tag, bad or overlong length): nothing after
    that point can be located, but everything before it was read correctly.
    """
    data = bytes(data)
    fields: list[tuple[int, bytes]] = []
    while pos < len(data):
        tag = data[pos]
        fmt = BMP_FORMATS.get(tag)
        if fmt is None:
            return fields, f"unknown BMP tag {tag:02X} at byte {pos}"
        try:
            size, start = _value_size(data, pos + 1, fmt)
        except CodecError as exc:
            return fields, f"BMP {tag:02X} ({fmt.name}): {exc}"
        if start + size > len(data):
            return fields, f"BMP {tag:02X} ({fmt.name}) needs {size} bytes, {len(data) - start} left"
        fields.append((tag, data[start : start + size]))
        pos = start + size
    return fields, None


def _value_size(data: bytes, pos: int, fmt: BmpFormat) -> tuple[int, int]:
    """(value size, position of the value) for a BMP whose tag ends before `pos`."""
    if fmt.size > 0:
        return fmt.size, pos
    if fmt.size == TLV:
        return decode_ber_length(data, pos)
    return decode_var_length(data, pos, -fmt.size)
