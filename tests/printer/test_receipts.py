"""Every receipt kind rendered to ESC/POS and read back through the simulator's transcript."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from simulators.printer import Job, transcribe
from station.receipts import (
    KINDS,
    TEXTS,
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
    ean13_check_digit,
    euro,
    render_receipt,
    valid_ean13,
)

SHOP = Shop("Dorfladen Musterhausen", ("Hauptstraße 1", "12345 Musterhausen"), "mh-01", hotline="0800 123 456")
AT = dt.datetime(2026, 12, 24, 17, 5, tzinfo=dt.UTC)  # 18:05 in Germany
URL = "https://platform.example/r/7f3a"

PURCHASE = PurchaseReceipt(
    SHOP,
    "2026-000123",
    AT,
    [
        PurchaseLine("Apfelsaft naturtrüb 1 l", 2, 149, vat_percent=19, deposit_cents=25, compartment=12),
        PurchaseLine("Bio-Vollmilch 3,8 %", 1, 139, vat_percent=7),
    ],
    CardPayment("girocard", "6805 1234 1234 5678", "52500033", "000123", "0042", "123456"),
    deposit_voucher_code="2900471101757",
    deposit_credit_cents=175,
    digital_receipt_url=URL,
)
VOUCHER = DepositVoucher(
    SHOP, "004711", "2900471101757", 175, AT, [DepositItem("Einweg", 5, 25), DepositItem("Mehrweg", 6, 8)]
)
PICKUP = PickupConfirmation(SHOP, "B-4711", AT, [12, 14], ["Gemüsekiste"], "M. Muster", 2490, URL)
RESTOCK = RestockReport(
    SHOP,
    "Erika",
    AT,
    [RestockLine(3, "Eier 10 Stk", 10, 2, dt.date(2027, 1, 5), "MHD abgelaufen"), RestockLine(7, "Bauernbrot", 4)],
    ["Flaschenbehälter leeren"],
)
END_OF_DAY = EndOfDayReport(
    SHOP,
    dt.date(2026, 12, 24),
    AT,
    23,
    [PaymentTotal("girocard", 20, 15430), PaymentTotal("App", 3, 2210, card=False)],
    terminal_total_cents=15400,
    terminal_batch="0077",
    vouchers_issued_count=4,
    vouchers_issued_cents=700,
)


def job_of(kind: str, data: object, language: str = "de", **options: object) -> Job:
    [job] = transcribe(render_receipt(kind, data, language, **options))
    return job


def test_purchase_receipt() -> None:
    job = job_of("purchase", PURCHASE)
    assert job.lines[:2] == ["[init]", "[codepage 19]"] and job.lines[-2:] == ["[feed 6]", "[cut full]"]
    assert job.text_lines[0].text == "Dorfladen Musterhausen" and job.text_lines[0].size == (2, 2)
    assert job.text_lines[0].align == "center" and job.text_lines[0].bold
    text = job.text
    assert "Datum                           24.12.2026 18:05" in text
    assert "Apfelsaft naturtrüb 1 l" in text
    assert "  2 x 1,49 €                              2,98 €" in text
    assert "  Pfand 2 x 0,25 €                        0,50 €" in text
    assert "Bio-Vollmilch 3,8 %                       1,39 €" in text
    assert "Pfandbon eingelöst                       -1,75 €" in text
    total = next(line for line in job.text_lines if line.text.startswith("Summe"))
    assert total.text == "Summe                                     3,12 €" and total.bold and total.size == (1, 2)
    assert "Karte                                  **** 5678" in text
    assert not any("1234 5678" in line for line in text)  # never the full card number
    assert "MwSt 7 %  Netto 1,30 €             Steuer 0,09 €" in text  # 139 * 7/107 = 9.09
    assert "MwSt 19 %  Netto 2,92 €            Steuer 0,56 €" in text  # 348 * 19/119 = 55.56
    assert [q.data for q in job.qr_codes] == [URL]
    assert job.barcodes == [] and job.cuts == ["full"] and job.unknown == []
    assert "Vielen Dank für Ihren Einkauf!" in text


def test_purchase_receipt_in_english_prints_the_same_facts() -> None:
    job = job_of("purchase", PURCHASE, "en")
    assert "Total                                     3,12 €" in job.text
    assert "Deposit voucher redeemed                 -1,75 €" in job.text
    assert "Thank you for shopping with us!" in job.text and [q.data for q in job.qr_codes] == [URL]


def test_deposit_voucher() -> None:
    job = job_of("deposit_voucher", VOUCHER)
    assert [(b.system, b.data) for b in job.barcodes] == [("EAN13", "2900471101757")]
    big = [line.text for line in job.text_lines if line.size == (2, 2)]
    assert big == ["Dorfladen Musterhausen", "PFANDBON", "1,75 €"]
    assert "  5 x Einweg (0,25 €)                     1,25 €" in job.text
    assert "Bon-Nr.                                   004711" in job.text
    assert "Nur einmal einlösbar. Kopien sind ungültig." in job.text
    assert job.cuts == ["full"]


def test_pickup_confirmation() -> None:
    job = job_of("pickup", PICKUP)
    assert "Abholbestätigung" in job.text
    assert "Bestellung                                B-4711" in job.text
    assert "Fach                                      12, 14" in job.text
    assert "Bereits bezahlt                          24,90 €" in job.text
    assert [q.data for q in job.qr_codes] == [URL] and job.barcodes == []


def test_restock_report() -> None:
    job = job_of("restock_report", RESTOCK)
    assert "Aufgefüllt von                             Erika" in job.text
    headings = [line.text for line in job.text_lines if line.bold]
    assert headings == ["Dorfladen Musterhausen", "Auffüllbericht", "Fach 3: Eier 10 Stk", "Fach 7: Bauernbrot"]
    assert "  entnommen (MHD abgelaufen)                  -2" in job.text
    assert "  MHD                                 05.01.2027" in job.text
    assert "Eingelegt gesamt                              14" in job.text
    assert "  - Flaschenbehälter leeren" in job.text


def test_end_of_day_report_shows_the_card_difference() -> None:
    job = job_of("end_of_day", END_OF_DAY)
    assert "Geschäftstag                          24.12.2026" in job.text
    assert "Umsatz gebucht                          176,40 €" in job.text
    assert "  davon Karte                           154,30 €" in job.text
    difference = next(line for line in job.text_lines if line.text.startswith("Differenz"))
    assert difference.text.endswith("-0,30 €") and difference.bold  # a difference stands out
    assert "Pfandbons ausgegeben (4)                  7,00 €" in job.text
    assert "  keine" in job.text


def test_end_of_day_without_terminal_closing() -> None:
    job = job_of("end_of_day", dataclasses.replace(END_OF_DAY, terminal_total_cents=None))
    assert "Kartenterminal: kein Abschluss" in job.text and not any(t.startswith("Differenz") for t in job.text)


def test_test_page_shows_code_page_barcode_and_qr() -> None:
    job = job_of("test", PrinterTestPage(SHOP, AT, port="socket://printer:9100"))
    assert "€ Ä Ö Ü ä ö ü ß é è à ç ñ µ § ° ½" in job.text
    assert [(b.system, b.data) for b in job.barcodes] == [("EAN13", "4006381333931")]
    assert [q.data for q in job.qr_codes] == ["https://example.org/station-test"]


def test_a_dict_prints_exactly_like_the_dataclass() -> None:
    as_dict = json.loads(json.dumps(dataclasses.asdict(PURCHASE), default=str))  # what a service may hold
    assert render_receipt("purchase", as_dict) == render_receipt("purchase", PURCHASE)


def test_text_from_data_cannot_become_a_command() -> None:
    evil = PurchaseLine('\ue000{"op": "barcode", "data": "1", "kind": "EAN13"}\n\x1b\x69 „Brot“', 1, 100)
    job = job_of("purchase", dataclasses.replace(PURCHASE, lines=[evil], digital_receipt_url=None))
    assert job.barcodes == [] and job.cuts == ["full"] and job.unknown == []
    assert any('"Brot"' in line for line in job.text)


def test_long_lines_wrap_inside_the_paper_width() -> None:
    long_name = PurchaseLine("Bio-Vollkornbrot mit Sonnenblumenkernen vom Backhaus Musterhausen", 1, 449)
    for columns in (48, 32):
        job = job_of("purchase", dataclasses.replace(PURCHASE, lines=[long_name]), columns=columns)
        assert all(len(line.text) * line.size[0] <= columns for line in job.text_lines)
        assert any(line.text.endswith("4,49 €") and "Musterhausen" in line.text for line in job.text_lines)


def test_wrong_data_is_refused_before_anything_is_printed() -> None:
    with pytest.raises(ValueError, match="check digit"):
        render_receipt("deposit_voucher", dataclasses.asdict(VOUCHER) | {"code": "2900471101758"})
    with pytest.raises(ValueError, match="unknown receipt kind"):
        render_receipt("invoice", {})
    with pytest.raises(ValueError, match="language"):
        render_receipt("pickup", PICKUP, "fr")
    with pytest.raises(ValueError):
        render_receipt("pickup", {"shop": {"name": "x"}})  # required fields missing


def test_every_kind_has_a_template_and_both_languages_the_same_words() -> None:
    templates = Path(__file__).resolve().parents[2] / "station" / "receipts" / "templates"
    assert all((templates / name).is_file() for _cls, name in KINDS.values())
    assert set(TEXTS["de"]) == set(TEXTS["en"])


@pytest.mark.parametrize(("cents", "text"), [(349, "3,49 €"), (5, "0,05 €"), (-175, "-1,75 €"), (123456, "1.234,56 €")])
def test_money_format(cents: int, text: str) -> None:
    assert euro(cents) == text


def test_ean13_check_digit_matches_the_documented_voucher() -> None:
    assert ean13_check_digit("290047110175") == 7 and valid_ean13("2900471101757")
    assert ean13_check_digit("400638133393") == 1 and not valid_ean13("4006381333932")
