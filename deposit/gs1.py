"""GS1 check digits (GTIN-8/12/13/14 and EAN-13 vouchers): the mod-10 rule with weights 3 and 1.

GS1 General Specifications: counting from the rightmost data digit, digits are weighted 3, 1, 3, 1 …;
the check digit brings the weighted sum up to the next multiple of ten. For a 13-digit code this is
the same as weights 1, 3, 1, 3 … from the left over the first twelve digits.
"""

from __future__ import annotations

GTIN_LENGTHS = (8, 12, 13, 14)


def check_digit(data: str) -> int:
    """Check digit for `data` (the digits before the check digit)."""
    if not data.isascii() or not data.isdigit():
        raise ValueError(f"{data!r}: only the digits 0-9 are allowed")
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(data)))
    return -total % 10


def has_valid_check_digit(code: str) -> bool:
    """True when the last digit of `code` is the GS1 check digit of the digits before it."""
    if len(code) < 2 or not code.isascii() or not code.isdigit():
        return False
    return check_digit(code[:-1]) == int(code[-1])


def gtin_text(gtin: int) -> str:
    """A GTIN number as printed under the barcode: 13 digits (EAN-13) unless it needs 14."""
    if not 0 <= gtin < 10**14:
        raise ValueError(f"{gtin} is not a GTIN (at most 14 digits)")
    return f"{gtin:013d}" if gtin < 10**13 else f"{gtin:014d}"


def is_valid_gtin(gtin: int) -> bool:
    """A GTIN (any of 8, 12, 13, 14 digits, zero-padded to 14) with a correct check digit; 0 is not one."""
    return 0 < gtin < 10**14 and has_valid_check_digit(f"{gtin:014d}")
