"""GS1 check digits and deposit voucher codes (EAN-13, restricted prefix 20-29, `PP SSSSSS AAAA C`)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deposit.gs1 import check_digit, gtin_text, has_valid_check_digit, is_valid_gtin
from deposit.voucher import Voucher, VoucherCodeError, build_code, parse_code, random_serial


@pytest.mark.parametrize(
    "code",
    [
        "6291041500213",  # GS1 Hong Kong check digit calculator, worked example (sum 57 -> 3)
        "7300011000017",  # GS1 Sweden "Så beräknas kontrollsiffran" example
        "8904000210037",  # GS1 India check digit example
        "2900471101757",  # hardware.md §3.4 voucher example
        "96385074",  # GTIN-8 (EAN-8 example)
        "036000291452",  # GTIN-12 (UPC-A example)
    ],
)
def test_published_check_digits(code: str) -> None:
    assert check_digit(code[:-1]) == int(code[-1])
    assert has_valid_check_digit(code) and is_valid_gtin(int(code))


def test_a_changed_digit_or_swapped_neighbours_is_detected() -> None:
    code = "6291041500213"
    for position in range(12):
        for digit in "0123456789":
            if digit != code[position]:
                assert not has_valid_check_digit(code[:position] + digit + code[position + 1 :])
    assert not has_valid_check_digit("6921041500213")  # 2 and 9 swapped
    assert not has_valid_check_digit("629104150021x") and not has_valid_check_digit("")


def test_gtin_text_pads_to_ean13() -> None:
    assert gtin_text(36000291452) == "0036000291452"
    assert gtin_text(12345678901231) == "12345678901231"
    with pytest.raises(ValueError):
        gtin_text(10**14)


def test_example_voucher_from_the_reference() -> None:
    assert build_code(29, 4711, 175) == "2900471101757"
    assert parse_code("2900471101757", prefix=29) == Voucher(29, 4711, 175)
    assert Voucher(29, 4711, 175).code == "2900471101757"


def test_amounts_above_99_99_are_refused() -> None:
    assert build_code(21, 1, 9999).startswith("21000001" + "9999")
    with pytest.raises(VoucherCodeError, match=r"100\.00 € does not fit on one voucher"):
        build_code(21, 1, 10000)
    with pytest.raises(VoucherCodeError, match="positive amount"):
        build_code(21, 1, 0)


@pytest.mark.parametrize("prefix", [19, 30, 0, 99])
def test_prefix_outside_restricted_range_is_refused(prefix: int) -> None:
    with pytest.raises(VoucherCodeError, match="20-29"):
        build_code(prefix, 1, 100)
    with pytest.raises(VoucherCodeError, match="20-29"):
        parse_code("2900471101757", prefix=prefix)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("2900471101758", "wrong check digit"),
        ("2800471101750", "is not this station's voucher prefix 29"),
        ("290047110175", "not an EAN-13"),
        ("29004711017５7", "not an EAN-13"),
        ("2900471100002", "0.00 € is never issued")  # well-formed, valid check digit,
    ],
)
def test_bad_codes_are_refused(code: str, message: str) -> None:
    with pytest.raises(VoucherCodeError, match=message):
        parse_code(code, prefix=29)


def test_scanner_whitespace_is_ignored() -> None:
    assert parse_code(" 2900471101757\r\n", prefix=29).serial == 4711


@given(st.integers(20, 29), st.integers(0, 999_999), st.integers(1, 9999))
def test_build_parse_round_trip(prefix: int, serial: int, amount: int) -> None:
    code = build_code(prefix, serial, amount)
    assert len(code) == 13 and has_valid_check_digit(code)
    assert parse_code(code, prefix) == Voucher(prefix, serial, amount)


def test_random_serials_are_seeded_spread_and_skip_taken_ones() -> None:
    first = [random_serial(random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same serial: reproducible in tests
    rng = random.Random(7)
    serials = [random_serial(rng) for _ in range(200)]
    assert all(1 <= s <= 999_999 for s in serials) and len(set(serials)) == 200
    steps = {b - a for a, b in itertools.pairwise(serials)}
    assert 1 not in steps and len(steps) > 190  # not sequential
    taken = set(serials[:5])
    replay = random.Random(7)
    assert random_serial(replay, taken.__contains__) == serials[5]


def test_random_serial_gives_up_when_everything_is_taken() -> None:
    with pytest.raises(RuntimeError, match="no free voucher serial"):
        random_serial(random.Random(1), lambda _serial: True)
