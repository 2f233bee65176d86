"""BCD fields of ZVT at their limits: widest values, empty fields, padding, the password."""

from __future__ import annotations

import pytest

from payments.zvt.bcd import (
    MAX_AMOUNT_CENTS,
    bcd_digits,
    decode_amount,
    decode_bcd,
    encode_amount,
    encode_bcd,
    encode_digits,
    encode_password,
)
from payments.zvt.errors import CodecError


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_encode_bcd_fills_exactly_the_width_and_no_more() -> None:
    assert encode_bcd(0, 1) == h("00")
    assert encode_bcd(99, 1) == h("99")
    assert encode_bcd(9999, 2) == h("99 99")
    assert encode_bcd(5, 3) == h("00 00 05")
    for value, length in ((100, 1), (10000, 2), (1000000, 3)):
        with pytest.raises(CodecError):
            encode_bcd(value, length)
    with pytest.raises(CodecError):
        encode_bcd(-1, 2)


def test_decode_bcd_of_an_empty_field_is_refused() -> None:
    with pytest.raises(CodecError):
        decode_bcd(b"")
    assert decode_bcd(h("00 01 00")) == 100
    with pytest.raises(CodecError):
        decode_bcd(h("0A"))


def test_the_largest_amount_and_one_cent_more() -> None:
    assert MAX_AMOUNT_CENTS == 999_999_999_999
    assert encode_amount(MAX_AMOUNT_CENTS) == h("99 99 99 99 99 99")
    assert decode_amount(h("99 99 99 99 99 99")) == MAX_AMOUNT_CENTS
    assert encode_amount(0) == h("00 00 00 00 00 00")
    for cents in (MAX_AMOUNT_CENTS + 1, -1):
        with pytest.raises(CodecError):
            encode_amount(cents)


def test_an_amount_has_exactly_six_bytes() -> None:
    for raw in (h("00 00 00 00 10"), h("00 00 00 00 00 10 00")):
        with pytest.raises(CodecError):
            decode_amount(raw)


def test_bcd_digits_skip_padding_wherever_it_is() -> None:
    assert bcd_digits(h("FF 12 34")) == "1234"  # left-padded
    assert bcd_digits(h("12 3F")) == "123"  # right-padded odd count
    assert bcd_digits(h("67 EE EE 12 3F")) == "67****123"
    with pytest.raises(CodecError):
        bcd_digits(h("1A"))


def test_encode_digits_pads_an_odd_count_and_masks() -> None:
    assert encode_digits("123") == h("12 3F")
    assert encode_digits("1234") == h("12 34")
    assert encode_digits("67**12") == h("67 EE 12")
    assert encode_digits("") == b""
    with pytest.raises(CodecError):
        encode_digits("12a4")


@pytest.mark.parametrize("password", ["12345", "1234567", "12345a", "", "abcdef"])
def test_the_password_must_be_six_digits(password: str) -> None:
    with pytest.raises(CodecError):
        encode_password(password)


def test_the_password_is_three_bcd_bytes() -> None:
    assert encode_password("000000") == h("00 00 00")
    assert encode_password("123456") == h("12 34 56")
