"""The typed BMP fields of ZVT, one codec at a time, at the edges of their sizes and alphabets.

`FIELD_CODECS` is built while `payments.zvt.fields` is imported; the tests read it from a freshly
executed copy of the module (tests/core/fresh_import.py) so that code is exercised too.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from payments.zvt.errors import CodecError
from payments.zvt.fields import decode_fields
from tests.core.fresh_import import fresh_module


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.fixture
def fields() -> ModuleType:
    """Executed again for every test, so each test exercises (and is known to exercise) the import-time code."""
    return fresh_module("payments.zvt.fields")


def codec(fields: ModuleType, tag: int) -> Any:
    """The FieldCodec of `tag` in the fresh module (its own class object, hence Any)."""
    return fields.FIELD_CODECS[tag]


# -- money fields: strict ------------------------------------------------------------------------------


def test_money_fields_decode_and_encode_exactly(fields: ModuleType) -> None:
    cases = [
        (0x04, "amount_cents", 1000, "00 00 00 00 10 00"),
        (0x49, "currency", 978, "09 78"),
        (0x0B, "trace_no", 42, "00 00 42"),
        (0x37, "original_trace_no", 999999, "99 99 99"),
        (0x87, "receipt_no", 7, "00 07"),
        (0x27, "result_code", 0x6C, "6C"),
    ]
    for tag, attr, value, raw in cases:
        c = codec(fields, tag)
        assert (c.attr, c.money) == (attr, True)
        assert c.decode(h(raw), "cp437") == (value, None)
        assert c.encode(value, "cp437") == h(raw)
    assert {0x27, 0x04, 0x49, 0x0B, 0x37, 0x87} == fields.MONEY_TAGS
    with pytest.raises(CodecError):
        codec(fields, 0x04).decode(h("00 00 00 00 1A 00"), "cp437")
    with pytest.raises(CodecError):
        codec(fields, 0x0B).encode(1000000, "cp437")


@pytest.mark.parametrize(("value", "ok"), [(0, True), (0xFF, True), (0x100, False), (-1, False)])
def test_single_byte_fields_take_0_to_255(fields: ModuleType, value: int, ok: bool) -> None:
    for tag in (0x27, 0x19, 0x8A, 0x8C, 0xA0):
        if ok:
            assert codec(fields, tag).encode(value, "cp437") == bytes([value])
        else:
            with pytest.raises(CodecError):
                codec(fields, tag).encode(value, "cp437")


# -- informational numbers and digit strings: lenient -----------------------------------------------------


def test_bcd_numbers_decode_leniently_and_encode_to_their_width(fields: ModuleType) -> None:
    turnover, card_seq = codec(fields, 0x88), codec(fields, 0x17)
    assert (turnover.attr, card_seq.attr, turnover.money) == ("turnover_no", "card_seq_no", False)
    assert turnover.decode(h("00 01 23"), "cp437") == (123, None)
    assert turnover.decode(h("00 0a 00"), "cp437") == (None, "not packed BCD: 00 0A 00")
    assert turnover.encode(123, "cp437") == h("00 01 23")
    assert card_seq.encode(1, "cp437") == h("00 01")


@pytest.mark.parametrize(
    ("tag", "attr", "raw", "text"),
    [
        (0x29, "terminal_id", "00 00 12 34", "00001234"),
        (0x0C, "time", "23 59 01", "235901"),
        (0x0D, "date", "12 31", "1231"),
        (0xAA, "date_ymd", "26 03 01", "260301"),
        (0x0E, "expiry", "28 12", "2812"),
    ],
)
def test_digit_strings_keep_leading_zeros_and_their_exact_width(
    fields: ModuleType, tag: int, attr: str, raw: str, text: str
) -> None:
    c = codec(fields, tag)
    assert c.attr == attr
    assert c.decode(h(raw), "cp437") == (text, None)
    assert c.encode(text, "cp437") == h(raw)
    bad = h(raw)[:-1] + b"\x0a"
    assert c.decode(bad, "cp437") == (None, f"not packed BCD: {bad.hex(' ').upper()}")
    for wrong in (text[:-1], text + "0", text[:-1] + "a", ""):
        with pytest.raises(CodecError):
            c.encode(wrong, "cp437")


# -- texts --------------------------------------------------------------------------------------------------


def test_aid_is_nul_padded_to_eight_bytes(fields: ModuleType) -> None:
    aid = codec(fields, 0x3B)
    assert aid.attr == "aid"
    assert aid.decode(h("41 42 00 00 00 00 00 00"), "cp437") == ("AB", None)
    assert aid.decode(h("FC 00 00 00 00 00 00 00"), "iso8859_1") == ("ü", None)  # in the message's charset
    assert aid.encode("AB", "cp437") == h("41 42 00 00 00 00 00 00")
    assert aid.encode("ü", "iso8859_1") == h("FC 00 00 00 00 00 00 00")
    assert aid.encode("ABCDEFGH", "cp437") == b"ABCDEFGH"  # exactly 8 bytes: no padding, no error
    with pytest.raises(CodecError):
        aid.encode("ABCDEFGHI", "cp437")


def test_card_name_ends_at_the_first_nul(fields: ModuleType) -> None:
    name = codec(fields, 0x8B)
    assert name.decode(h("47 49 52 4F 00 00"), "cp437") == ("GIRO", None)  # padding only: no warning
    assert name.decode(h("47 00 58 58"), "cp437") == ("G", "2 byte(s) after the NUL terminator dropped")
    assert name.decode(h("A5 00 41"), "iso8859_3") == ("\ufffd", "1 byte(s) not defined in iso8859_3")
    assert name.encode("GIRO", "cp437") == b"GIRO"


def test_texts_are_read_in_the_message_charset(fields: ModuleType) -> None:
    for tag in (0x2A, 0x3C):
        assert codec(fields, tag).decode(h("FC"), "iso8859_1") == ("ü", None)
        assert codec(fields, tag).decode(h("81"), "cp437") == ("ü", None)
        assert codec(fields, tag).encode("ü", "cp437") == h("81")


def test_individual_totals_are_kept_as_raw_bytes(fields: ModuleType) -> None:
    totals = codec(fields, 0x60)
    assert totals.decode(h("01 02"), "cp437") == (h("01 02"), None)
    assert totals.encode(h("01 02"), "cp437") == h("01 02")


# -- PAN ----------------------------------------------------------------------------------------------------


def test_pan_masks_pads_and_reports_odd_nibbles(fields: ModuleType) -> None:
    pan = codec(fields, 0x22)
    assert pan.decode(h("67 EE EE 12 3F"), "cp437") == ("67****123", None)
    assert pan.decode(h("12 A4 B5 A6"), "cp437") == ("12?4?5?6", "PAN has non-digit nibble(s) A, B")
    assert pan.encode("67****123", "cp437") == h("67 EE EE 12 3F")


def test_pan_data_after_a_track2_separator_is_never_kept(fields: ModuleType) -> None:
    pan = codec(fields, 0x22)
    value, warning = pan.decode(h("12 34 D2 51"), "cp437")
    assert value == "1234" and warning is not None and "track-2 separator" in warning
    assert pan.keep(h("12 34 D2 51")) == h("12 34")
    assert pan.keep(h("12 D3 4D")) == h("12")  # the first separator counts
    assert pan.keep(h("D1 23")) == b""
    assert pan.keep(h("12 34")) == h("12 34")  # no separator: all of it
    out = decode_fields([(0x22, h("12 34 D2 51 12"))])
    assert out.values["pan"] == "1234"
    assert out.raw == [(0x22, h("12 34"))]


def test_a_pan_that_cannot_be_written_back_keeps_its_bytes() -> None:
    out = decode_fields([(0x22, h("12 A4"))])
    assert out.values["pan"] == "12?4"
    assert out.raw == [(0x22, h("12 A4"))]
    assert out.warnings == ["BMP 22 (pan): PAN has non-digit nibble(s) A"]


# -- TLV container -----------------------------------------------------------------------------------------


def test_tlv_container_warnings_are_joined(fields: ModuleType) -> None:
    tlv = codec(fields, 0x06)
    items, warning = tlv.decode(h("1F 07 01 02"), "cp437")
    assert warning is None and [i.tag for i in items] == [0x1F07]
    items, warning = tlv.decode(h("E1 01 FF 1F"), "cp437")
    assert warning == (
        "TLV item E1 is marked constructed but its content is not TLV (TLV tag cut short): kept raw; "
        "TLV: TLV tag cut short; 1 bytes from byte 3 not read"
    )
    assert tlv.encode(items, "cp437") == h("E1 01 FF")


# -- decode_fields -----------------------------------------------------------------------------------------


def test_bmps_without_a_typed_field_go_to_extra_in_order() -> None:
    out = decode_fields([(0x01, h("05")), (0x27, h("00")), (0x03, h("01"))])
    assert out.extra == [(0x01, h("05")), (0x03, h("01"))]
    assert out.values == {"result_code": 0}
    assert out.raw == [] and out.warnings == [] and out.money_errors == []


def test_a_repeated_field_with_another_value() -> None:
    out = decode_fields([(0x29, h("12 34 56 78")), (0x29, h("87 65 43 21"))])
    assert out.values["terminal_id"] == "87654321"
    assert out.warnings == ["BMP 29 appears twice with different values (12 34 56 78 / 87 65 43 21): the last is kept"]
    same = decode_fields([(0x29, h("12 34 56 78")), (0x29, h("12 34 56 78"))])
    assert same.warnings == [] and same.money_errors == []
    money = decode_fields([(0x04, h("00 00 00 00 10 00")), (0x04, h("00 00 00 00 20 00"))])
    assert money.money_errors == [
        "BMP 04 appears twice with different values (00 00 00 00 10 00 / 00 00 00 00 20 00)"
    ]


def test_an_unreadable_money_field_is_a_money_error_not_a_value() -> None:
    out = decode_fields([(0x04, h("00 00 00 00 1A 00"))])
    assert "amount_cents" not in out.values
    assert out.money_errors == ["BMP 04 (amount_cents): not packed BCD: 00 00 00 00 1a 00"]


def test_encode_fields_writes_kept_bytes_and_skips_none(fields: ModuleType) -> None:
    assert fields.encode_fields({"amount_cents": 1000, "result_code": 0, "pan": None}) == [
        (0x27, h("00")),
        (0x04, h("00 00 00 00 10 00")),
    ]
    assert fields.encode_fields({"pan": "1234"}, raw=((0x22, h("12 34 D2")),)) == [(0x22, h("12 34 D2"))]
