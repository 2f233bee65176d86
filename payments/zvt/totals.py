"""BMP 60 "individual totals" of an end-of-day status information.

Layout [U, from the spec's description of BMP 60]: receipt number from (2 BCD), receipt number to
(2 BCD), then for each card group a count (1 byte binary) and an amount (6 BCD), groups in the
order of `CARD_GROUPS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bcd import decode_amount, decode_bcd, encode_amount, encode_bcd
from .errors import CodecError

CARD_GROUPS = ("girocard", "JCB", "Mastercard", "Amex", "Visa", "Diners", "other")
TOTALS_SIZE = 4 + 7 * len(CARD_GROUPS)


@dataclass(frozen=True)
class IndividualTotals:
    receipt_from: int
    receipt_to: int
    by_card: dict[str, tuple[int, int]]  # group -> (count, cents)

    @property
    def count(self) -> int:
        return sum(count for count, _cents in self.by_card.values())

    @property
    def total_cents(self) -> int:
        return sum(cents for _count, cents in self.by_card.values())


def encode_totals(totals: IndividualTotals) -> bytes:
    unknown = set(totals.by_card) - set(CARD_GROUPS)
    if unknown:
        raise CodecError(f"unknown card groups {sorted(unknown)}")
    out = encode_bcd(totals.receipt_from, 2) + encode_bcd(totals.receipt_to, 2)
    for group in CARD_GROUPS:
        count, cents = totals.by_card.get(group, (0, 0))
        if not 0 <= count <= 0xFF:
            raise CodecError(f"{group}: count {count} does not fit in one byte")
        out += bytes([count]) + encode_amount(cents)
    return out


def decode_totals(raw: bytes) -> IndividualTotals:
    if len(raw) != TOTALS_SIZE:
        raise CodecError(f"individual totals have {TOTALS_SIZE} bytes, got {len(raw)}")
    by_card = {}
    for index, group in enumerate(CARD_GROUPS):
        start = 4 + 7 * index
        by_card[group] = (raw[start], decode_amount(raw[start + 1 : start + 7]))
    return IndividualTotals(decode_bcd(raw[0:2]), decode_bcd(raw[2:4]), by_card)
