"""What each receipt needs, as plain dataclasses. Services may pass these or equivalent dicts.

Money is integer cents, times are datetimes (aware ones are printed in the station's zone),
VAT rates are percent. Totals are computed here, never taken from the caller's text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from .formatting import valid_ean13


@dataclass(frozen=True)
class Shop:
    """The header every receipt starts with."""

    name: str
    address: Sequence[str] = ()
    station_id: str = ""
    operator: str | None = None  # who runs the station (printed as "Betreiber")
    vat_id: str | None = None  # USt-IdNr.
    hotline: str | None = None


@dataclass(frozen=True)
class PurchaseLine:
    name: str
    quantity: int
    unit_price_cents: int
    vat_percent: float = 7.0
    deposit_cents: int = 0  # per unit; carries the item's VAT rate
    compartment: int | None = None

    @property
    def goods_cents(self) -> int:
        return self.quantity * self.unit_price_cents

    @property
    def deposit_total_cents(self) -> int:
        return self.quantity * self.deposit_cents

    @property
    def total_cents(self) -> int:
        return self.goods_cents + self.deposit_total_cents


@dataclass(frozen=True)
class CardPayment:
    method: str  # "girocard", "Mastercard", …
    card_number: str | None = None  # printed masked: last four digits only
    terminal_id: str | None = None
    trace_number: str | None = None
    receipt_number: str | None = None  # the terminal's Beleg-Nr.
    auth_code: str | None = None
    terminal_lines: Sequence[str] = ()  # the card terminal's own receipt text, printed as it comes


@dataclass(frozen=True)
class VatShare:
    percent: float
    gross_cents: int
    tax_cents: int

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.tax_cents


@dataclass(frozen=True)
class PurchaseReceipt:
    shop: Shop
    receipt_number: str
    at: dt.datetime
    lines: Sequence[PurchaseLine]
    payment: CardPayment | None = None
    deposit_voucher_code: str | None = None  # a redeemed Pfandbon
    deposit_credit_cents: int = 0
    digital_receipt_url: str | None = None

    @property
    def subtotal_cents(self) -> int:
        return sum(line.total_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.deposit_credit_cents

    @property
    def vat(self) -> list[VatShare]:
        """Tax contained in the gross amounts, per rate (rounded half up per rate, as tills do)."""
        gross: dict[float, int] = {}
        for line in self.lines:
            gross[line.vat_percent] = gross.get(line.vat_percent, 0) + line.total_cents
        shares = []
        for rate, amount in sorted(gross.items()):
            rate_d = Decimal(str(rate))
            tax = (Decimal(amount) * rate_d / (100 + rate_d)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
            shares.append(VatShare(rate, amount, int(tax)))
        return shares


@dataclass(frozen=True)
class DepositItem:
    label: str  # "Einweg 0,25 €", "Mehrweg Flasche", …
    count: int
    deposit_cents: int

    @property
    def total_cents(self) -> int:
        return self.count * self.deposit_cents


@dataclass(frozen=True)
class DepositVoucher:
    """A Pfandbon: the EAN-13 `code` must carry a valid check digit (it is scanned at redemption)."""

    shop: Shop
    serial: str
    code: str
    amount_cents: int
    at: dt.datetime
    items: Sequence[DepositItem] = ()
    valid_until: dt.date | None = None

    def __post_init__(self) -> None:
        if not valid_ean13(self.code):
            raise ValueError(f"{self.code!r} is not an EAN-13 with a valid check digit")


@dataclass(frozen=True)
class PickupConfirmation:
    shop: Shop
    order_number: str
    at: dt.datetime
    compartments: Sequence[int]
    items: Sequence[str] = ()
    recipient: str | None = None
    paid_cents: int | None = None  # paid in advance on the platform; None = nothing to pay
    digital_receipt_url: str | None = None


@dataclass(frozen=True)
class RestockLine:
    compartment: int
    product: str
    added: int = 0
    removed: int = 0
    best_before: dt.date | None = None
    reason: str | None = None  # why removed: "MHD abgelaufen", "beschädigt", …


@dataclass(frozen=True)
class RestockReport:
    shop: Shop
    volunteer: str
    at: dt.datetime
    lines: Sequence[RestockLine]
    open_tasks: Sequence[str] = ()
    notes: Sequence[str] = ()

    @property
    def added_total(self) -> int:
        return sum(line.added for line in self.lines)

    @property
    def removed_total(self) -> int:
        return sum(line.removed for line in self.lines)


@dataclass(frozen=True)
class PaymentTotal:
    method: str
    count: int
    total_cents: int
    card: bool = True  # paid through the card terminal (False: e.g. prepaid in the platform's app)


@dataclass(frozen=True)
class EndOfDayReport:
    shop: Shop
    business_date: dt.date
    at: dt.datetime
    sales_count: int
    by_payment: Sequence[PaymentTotal]
    terminal_total_cents: int | None = None  # the card terminal's batch total (ZVT end-of-day); None = not run
    terminal_batch: str | None = None
    vouchers_issued_count: int = 0
    vouchers_issued_cents: int = 0
    vouchers_redeemed_count: int = 0
    vouchers_redeemed_cents: int = 0
    pickups_count: int = 0
    open_issues: Sequence[str] = ()

    @property
    def sales_total_cents(self) -> int:
        return sum(p.total_cents for p in self.by_payment)

    @property
    def card_total_cents(self) -> int:
        return sum(p.total_cents for p in self.by_payment if p.card)

    @property
    def difference_cents(self) -> int | None:
        """Terminal batch minus booked card sales; None when the terminal total is unknown."""
        if self.terminal_total_cents is None:
            return None
        return self.terminal_total_cents - self.card_total_cents


@dataclass(frozen=True)
class PrinterTestPage:
    """The technician's test print: code page, styles, barcode and QR on one slip."""

    shop: Shop
    at: dt.datetime
    port: str = ""
    qr_data: str = "https://example.org/station-test"
    barcode: str = "4006381333931"
    extra_lines: Sequence[str] = field(default_factory=tuple)
