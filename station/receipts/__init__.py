"""Receipts: Jinja2 templates rendered to ESC/POS bytes with python-escpos 3.1 (`Dummy`).

    data = PurchaseReceipt(shop=Shop("Dorfladen Musterhausen"), receipt_number="2026-000123", at=now,
                           lines=[PurchaseLine("Apfelsaft 1 l", 2, 149, deposit_cents=25)])
    job_bytes = render_receipt("purchase", data, language="de")   # or a dict with the same fields

Kinds: purchase, deposit_voucher, pickup, restock_report, end_of_day, test (see `models`).
Languages: de (default), en. Money `3,49 €`, dates `24.12.2026`, times `18:05` in the station's
time zone; code page CP858 fixed (€ = D5); QR codes native (`GS ( k`); a full cut at the end.
The bytes go to `drivers.printer.Printer.print_job(job_id, data)`.
"""

from .formatting import ean13_check_digit, euro, valid_ean13
from .models import (
    CardPayment,
    DepositItem,
    DepositVoucher,
    EndOfDayReport,
    PaymentTotal,
    PickupConfirmation,
    PrinterTestPage,
    PurchaseLine,
    PurchaseReceipt,
    RestockLine,
    RestockReport,
    Shop,
    VatShare,
)
from .render import CODE_PAGE, KINDS, layout_lines, render_receipt, render_template, to_json, validate
from .texts import LANGUAGES, TEXTS

__all__ = [
    "CODE_PAGE",
    "KINDS",
    "LANGUAGES",
    "TEXTS",
    "CardPayment",
    "DepositItem",
    "DepositVoucher",
    "EndOfDayReport",
    "PaymentTotal",
    "PickupConfirmation",
    "PrinterTestPage",
    "PurchaseLine",
    "PurchaseReceipt",
    "RestockLine",
    "RestockReport",
    "Shop",
    "VatShare",
    "ean13_check_digit",
    "euro",
    "layout_lines",
    "render_receipt",
    "render_template",
    "to_json",
    "valid_ean13",
    "validate",
]
