"""Byte-exact vectors from hardware.md §4 (python-escpos 3.1 output, Epson DLE EOT), and our jobs built on them."""

from __future__ import annotations

import datetime as dt

import pytest

from drivers.printer import StatusKind, status_request
from drivers.printer.escposlib import escpos_printer
from station.receipts import DepositVoucher, PurchaseLine, PurchaseReceipt, Shop, render_receipt

Dummy = escpos_printer().Dummy


def hx(text: str) -> bytes:
    return bytes.fromhex(text)


# The vectors exactly as hardware.md writes them (not produced by our code).
SET_CENTER_BOLD = hx("1B 45 01 1B 61 01")
EAN13_4006381333931 = hx(
    "1B 61 01 1D 68 40 1D 77 03 1D 66 00 1D 48 02 1D 6B 02 34 30 30 36 33 38 31 33 33 33 39 33 31 00"
)
QR_1234 = hx(
    "1D 28 6B 04 00 31 41 32 00"  # model 2
    "1D 28 6B 03 00 31 43 03"  # module size 3
    "1D 28 6B 03 00 31 45 30"  # error correction L
    "1D 28 6B 07 00 31 50 30 31 32 33 34"  # store: pL pH = len("1234") + 3
    "1D 28 6B 03 00 31 51 30"  # print
)
CUT = hx("1B 64 06 1D 56 00")
CODE_PAGE_CP858 = hx("1B 74 13")
INIT = hx("1B 40")


def test_python_escpos_set_matches_the_vector() -> None:
    p = Dummy()
    p.set(align="center", bold=True)
    assert p.output == SET_CENTER_BOLD


def test_python_escpos_ean13_matches_the_vector(capsys: pytest.CaptureFixture[str]) -> None:
    p = Dummy()
    p.barcode("4006381333931", "EAN13")
    assert p.output == EAN13_4006381333931


def test_python_escpos_native_qr_matches_the_vector() -> None:
    p = Dummy()
    p.qr("1234", native=True)
    assert p.output == QR_1234


def test_python_escpos_cut_matches_the_vector() -> None:
    p = Dummy()
    p.cut()
    assert p.output == CUT


def test_fixed_code_page_cp858_puts_the_euro_at_d5() -> None:
    p = Dummy()
    p.charcode("CP858")
    p.text("3,49 €")
    assert p.output == CODE_PAGE_CP858 + b"3,49 \xd5"


@pytest.mark.parametrize(("kind", "expected"), [(1, "10 04 01"), (2, "10 04 02"), (3, "10 04 03"), (4, "10 04 04")])
def test_status_request_bytes(kind: int, expected: str) -> None:
    assert status_request(kind) == hx(expected)
    assert status_request(StatusKind(kind)) == hx(expected)


SHOP = Shop("Dorfladen")
AT = dt.datetime(2026, 12, 24, 17, 5, tzinfo=dt.UTC)


def test_every_job_starts_with_init_and_cp858_and_ends_with_the_cut() -> None:
    data = render_receipt("purchase", PurchaseReceipt(SHOP, "1", AT, [PurchaseLine("Brot", 1, 349)]))
    assert data.startswith(INIT + CODE_PAGE_CP858)
    assert data.endswith(CUT)
    assert data.count(CODE_PAGE_CP858) == 1  # no per-character code page switching
    assert b"3,49 \xd5" in data and "€".encode() not in data


def test_voucher_carries_the_ean13_sequence_byte_exact() -> None:
    voucher = DepositVoucher(SHOP, "004711", "2900471101757", 175, AT)
    data = render_receipt("deposit_voucher", voucher)
    expected = hx("1B 61 01 1D 68 40 1D 77 03 1D 66 00 1D 48 02 1D 6B 02") + b"2900471101757" + b"\x00"
    assert expected in data


def test_digital_receipt_link_is_a_native_qr_with_little_endian_length() -> None:
    url = "https://platform.example/r/" + "x" * 300  # longer than 255: pH must be used
    receipt = PurchaseReceipt(SHOP, "1", AT, [PurchaseLine("Brot", 1, 349)], digital_receipt_url=url)
    data = render_receipt("purchase", receipt, qr_size=4)
    store = hx("1D 28 6B") + (len(url) + 3).to_bytes(2, "little") + hx("31 50 30") + url.encode()
    assert store in data
    assert hx("1D 28 6B 03 00 31 43 04") in data  # module size from the setting
    assert hx("1D 28 6B 03 00 31 51 30") in data  # print the stored symbol
