"""Packed BCD fields: amounts, receipt and trace numbers, dates, masked card numbers."""

from __future__ import annotations

from .errors import CodecError

AMOUNT_BYTES = 6
MAX_AMOUNT_CENTS = 10 ** (2 * AMOUNT_BYTES) - 1


def encode_bcd(value: int, length: int) -> bytes:
    """`value` as `length` bytes of packed BCD, most significant digit first (1234, 2 -> 12 34)."""
    if value < 0:
        raise CodecError(f"BCD value must not be negative, got {value}")
    digits = str(value)
    if len(digits) > 2 * length:
        raise CodecError(f"{value} does not fit in {length} BCD bytes")
    return bytes.fromhex(digits.zfill(2 * length))


def decode_bcd(data: bytes) -> int:
    """Packed BCD back to an int; a nibble above 9 is a CodecError."""
    text = data.hex()
    if not text.isdigit():
        raise CodecError(f"not packed BCD: {data.hex(' ')}")
    return int(text) if text else 0


def bcd_digits(data: bytes) -> str:
    """Digits of a BCD field that may be masked: nibble E is a masked digit ('*'), F is padding."""
    out = []
    for nibble in data.hex().upper():
        if nibble.isdigit():
            out.append(nibble)
        elif nibble == "E":
            out.append("*")
        elif nibble == "F":
            continue
        else:
            raise CodecError(f"not a BCD digit string: {data.hex(' ')}")
    return "".join(out)


def encode_digits(digits: str) -> bytes:
    """Inverse of `bcd_digits`: '*' becomes nibble E, an odd count is padded with F."""
    nibbles = digits.replace("*", "E")
    if not all(c.isdigit() or c == "E" for c in nibbles):
        raise CodecError(f"not a digit string: {digits!r}")
    if len(nibbles) % 2:
        nibbles += "F"
    return bytes.fromhex(nibbles)


def encode_amount(cents: int) -> bytes:
    """Amount in cents as the 6-byte BCD of BMP 04 (1000 -> 00 00 00 00 10 00)."""
    if not 0 <= cents <= MAX_AMOUNT_CENTS:
        raise CodecError(f"amount {cents} cents is outside 0..{MAX_AMOUNT_CENTS}")
    return encode_bcd(cents, AMOUNT_BYTES)


def decode_amount(data: bytes) -> int:
    if len(data) != AMOUNT_BYTES:
        raise CodecError(f"an amount has {AMOUNT_BYTES} bytes, got {len(data)}")
    return decode_bcd(data)


def encode_password(password: str) -> bytes:
    """The 6-digit terminal password as 3 BCD bytes (123456 -> 12 34 56)."""
    if len(password) != 6 or not password.isdigit():
        raise CodecError("the terminal password must be exactly 6 digits")
    return bytes.fromhex(password)
