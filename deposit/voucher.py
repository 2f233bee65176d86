"""Deposit voucher codes: EAN-13 in the GS1 restricted-circulation range (prefix 20-29).

Layout `PP SSSSSS AAAA C` (hardware.md §3.4): PP the configured prefix, SSSSSS the voucher serial,
AAAA the amount in cents (so at most 99.99 €), C the EAN-13 check digit. Example: prefix 29,
serial 004711, 1.75 € → 2900471101757.

These are the code rules only. Single redemption is the ledger's job: the row (serial, amount,
state) is committed before printing and the amount paid comes from the ledger, never from the
barcode; the barcode's amount must merely agree with it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .gs1 import check_digit

MAX_AMOUNT_CENTS = 9999  # four digits of cents
MAX_SERIAL = 999_999
RESTRICTED_PREFIXES = range(20, 30)  # GS1: restricted circulation within a company (in-store codes)


class VoucherCodeError(ValueError):
    """A voucher code that cannot be built or does not parse; the message says why."""


@dataclass(frozen=True)
class Voucher:
    prefix: int
    serial: int
    amount_cents: int

    @property
    def code(self) -> str:
        return build_code(self.prefix, self.serial, self.amount_cents)


def _check_prefix(prefix: int) -> None:
    if prefix not in RESTRICTED_PREFIXES:
        raise VoucherCodeError(f"voucher prefix must be 20-29 (GS1 restricted circulation), not {prefix}")


def build_code(prefix: int, serial: int, amount_cents: int) -> str:
    """The 13-digit voucher code; refuses amounts above 99.99 € or below 0.01 € and serials beyond 6 digits."""
    _check_prefix(prefix)
    if not 0 <= serial <= MAX_SERIAL:
        raise VoucherCodeError(f"voucher serial must be 0-{MAX_SERIAL}, not {serial}")
    if amount_cents > MAX_AMOUNT_CENTS:
        raise VoucherCodeError(
            f"{amount_cents / 100:.2f} € does not fit on one voucher (at most {MAX_AMOUNT_CENTS / 100:.2f} €)"
        )
    if amount_cents < 1:
        raise VoucherCodeError(f"a voucher needs a positive amount, not {amount_cents} cents")
    data = f"{prefix:02d}{serial:06d}{amount_cents:04d}"
    return f"{data}{check_digit(data)}"


def parse_code(code: str, prefix: int) -> Voucher:
    """Read a scanned voucher code; raises VoucherCodeError unless it is a well-formed voucher with `prefix`."""
    _check_prefix(prefix)
    text = code.strip()
    if len(text) != 13 or not text.isascii() or not text.isdigit():
        raise VoucherCodeError(f"{code!r} is not an EAN-13 code (13 digits)")
    if check_digit(text[:12]) != int(text[12]):
        raise VoucherCodeError(f"{text}: wrong check digit (misread or altered)")
    if int(text[:2]) != prefix:
        raise VoucherCodeError(f"{text}: prefix {text[:2]} is not this station's voucher prefix {prefix:02d}")
    amount = int(text[8:12])
    if amount < 1:
        raise VoucherCodeError(f"{text}: a voucher of 0.00 € is never issued")
    return Voucher(prefix, int(text[2:8]), amount)


def random_serial(rng: random.Random, is_taken: Callable[[int], bool] = lambda _serial: False) -> int:
    """A serial drawn uniformly from 1..999999 that `is_taken` does not claim.

    Random, not sequential, so that a guessed code is almost never a real voucher (hardware.md §3.4);
    pass `random.SystemRandom()` in production and a seeded `random.Random` in tests.
    Raises RuntimeError when 1000 draws in a row are taken (the serial space is nearly used up).
    """
    for _ in range(1000):
        serial = rng.randint(1, MAX_SERIAL)
        if not is_taken(serial):
            return serial
    raise RuntimeError("no free voucher serial found in 1000 draws: archive redeemed vouchers or change the prefix")
