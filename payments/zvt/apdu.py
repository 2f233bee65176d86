"""APDU: class byte, instruction byte, length, data.

LEN is one byte for up to 254 data bytes; from 255 bytes on it is `FF` followed by the length as
2 bytes little-endian (300 bytes -> `FF 2C 01`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CodecError

EXTENDED = 0xFF
MAX_DATA = 0xFFFF


@dataclass(frozen=True)
class Apdu:
    """One application message; `cls`/`ins` are CCRC/APRC for commands or the two ack bytes."""

    cls: int
    ins: int
    data: bytes = b""

    @property
    def code(self) -> tuple[int, int]:
        return (self.cls, self.ins)

    def encode(self) -> bytes:
        return encode_apdu(self.cls, self.ins, self.data)

    def __str__(self) -> str:
        return self.encode().hex(" ").upper()


def encode_length(size: int) -> bytes:
    if not 0 <= size <= MAX_DATA:
        raise CodecError(f"APDU data of {size} bytes does not fit (maximum {MAX_DATA})")
    if size < EXTENDED:
        return bytes([size])
    return bytes([EXTENDED]) + size.to_bytes(2, "little")


def encode_apdu(cls: int, ins: int, data: bytes = b"") -> bytes:
    if not (0 <= cls <= 0xFF and 0 <= ins <= 0xFF):
        raise CodecError(f"class and instruction are single bytes, got {cls!r}, {ins!r}")
    return bytes([cls, ins]) + encode_length(len(data)) + bytes(data)


def parse_length(prefix: bytes) -> tuple[int, int] | None:
    """(header size, data size) from the first bytes of an APDU; None while too few bytes are known."""
    if len(prefix) < 3:
        return None
    if prefix[2] != EXTENDED:
        return 3, prefix[2]
    if len(prefix) < 5:
        return None
    return 5, int.from_bytes(prefix[3:5], "little")


def decode_apdu(raw: bytes) -> Apdu:
    """Exactly one APDU; too few or too many bytes is a CodecError."""
    raw = bytes(raw)
    sizes = parse_length(raw)
    if sizes is None:
        raise CodecError(f"APDU too short ({len(raw)} bytes): {raw.hex(' ')}")
    header, size = sizes
    if len(raw) != header + size:
        raise CodecError(f"APDU {raw[:2].hex(' ')} announces {size} data bytes but carries {len(raw) - header}")
    return Apdu(raw[0], raw[1], raw[header:])
