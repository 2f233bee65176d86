"""Every ZVT length field at its limits: APDU LEN (1 byte / FF + 2 bytes), LLVAR, LLLVAR, BER-TLV."""

from __future__ import annotations

import pytest

from payments.zvt.apdu import (
    EXTENDED,
    MAX_DATA,
    Apdu,
    decode_apdu,
    encode_apdu,
    encode_length,
    parse_length,
)
from payments.zvt.bmp import (
    BMP_FORMATS,
    LL,
    LLL,
    TLV,
    decode_bmps,
    decode_var_length,
    encode_bmp,
    encode_var_length,
    scan_bmps,
)
from payments.zvt.errors import CodecError
from payments.zvt.tlv import decode_ber_length, encode_ber_length
from tests.core.fresh_import import fresh_module


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# -- APDU length: one byte up to 254, then FF + 2 bytes little-endian --------------------------------


def test_apdu_length_switches_to_extended_at_255() -> None:
    assert encode_length(0) == h("00")
    assert encode_length(254) == h("FE")
    assert encode_length(255) == h("FF FF 00")
    assert encode_length(300) == h("FF 2C 01")
    assert encode_length(MAX_DATA) == h("FF FF FF")
    for size in (MAX_DATA + 1, -1):
        with pytest.raises(CodecError):
            encode_length(size)


def test_parse_length_needs_enough_bytes() -> None:
    assert parse_length(h("06 01")) is None
    assert parse_length(h("06 01 FE")) == (3, 254)
    assert parse_length(h("06 01 FF")) is None
    assert parse_length(h("06 01 FF 00")) is None
    assert parse_length(h("06 01 FF FF 00")) == (5, 255)
    assert parse_length(h("06 01 FF 00 01 99")) == (5, 256)


def test_apdus_at_the_length_limits_round_trip() -> None:
    for size in (0, 254, 255, MAX_DATA):
        data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        raw = encode_apdu(0x06, 0xD3, data)
        assert len(raw) == (3 if size < EXTENDED else 5) + size
        assert decode_apdu(raw) == Apdu(0x06, 0xD3, data)


def test_apdus_with_a_wrong_length_are_refused() -> None:
    for raw in (h("06 01"), h("06 01 02 00"), h("06 01 01 00 00"), h("06 01 FF 02 00 00"), h("06 01 FF")):
        with pytest.raises(CodecError):
            decode_apdu(raw)


def test_apdu_class_and_instruction_are_single_bytes() -> None:
    assert encode_apdu(0xFF, 0xFF) == h("FF FF 00")
    assert encode_apdu(0, 0) == h("00 00 00")
    for cls, ins in ((0x100, 0), (0, 0x100), (-1, 0), (0, -1)):
        with pytest.raises(CodecError):
            encode_apdu(cls, ins)


def test_apdu_code_and_text() -> None:
    apdu = Apdu(0x06, 0x0F, h("27 00"))
    assert apdu.code == (0x06, 0x0F)
    assert apdu.encode() == h("06 0F 02 27 00")
    assert str(apdu) == "06 0F 02 27 00"


# -- LLVAR / LLLVAR: one decimal digit per byte, high nibble F -----------------------------------------


def test_var_length_digits_and_limits() -> None:
    assert encode_var_length(0, 2) == h("F0 F0")
    assert encode_var_length(99, 2) == h("F9 F9")
    assert encode_var_length(999, 3) == h("F9 F9 F9")
    assert encode_var_length(16, 3) == h("F0 F1 F6")
    for size, digits in ((100, 2), (1000, 3), (-1, 2)):
        with pytest.raises(CodecError):
            encode_var_length(size, digits)


def test_var_length_decoding_refuses_anything_but_f_digit_bytes() -> None:
    assert decode_var_length(h("F9 F9"), 0, 2) == (99, 2)
    assert decode_var_length(h("00 F1 F2 F3"), 1, 3) == (123, 4)
    for raw in (h("F1 FA"), h("01 F5"), h("E1 F5"), h("F1 1F")):
        with pytest.raises(CodecError):
            decode_var_length(raw, 0, 2)
    with pytest.raises(CodecError, match="cut short"):
        decode_var_length(h("F1"), 0, 2)


def test_llvar_bmp_holds_99_bytes_not_100() -> None:
    assert BMP_FORMATS[0x22].size == LL
    value = bytes(range(99))
    bmp = encode_bmp(0x22, value)
    assert bmp[:3] == h("22 F9 F9") and len(bmp) == 3 + 99
    assert decode_bmps(bmp) == [(0x22, value)]
    with pytest.raises(CodecError):
        encode_bmp(0x22, bytes(100))


def test_lllvar_bmp_holds_999_bytes_not_1000() -> None:
    assert BMP_FORMATS[0x3C].size == LLL
    value = bytes(999)
    bmp = encode_bmp(0x3C, value)
    assert bmp[:4] == h("3C F9 F9 F9") and len(bmp) == 4 + 999
    assert decode_bmps(bmp) == [(0x3C, value)]
    with pytest.raises(CodecError):
        encode_bmp(0x3C, bytes(1000))


def test_fixed_size_bmps_take_exactly_their_size() -> None:
    assert encode_bmp(0x04, bytes(6)) == h("04 00 00 00 00 00 00")
    for size in (5, 7):
        with pytest.raises(CodecError):
            encode_bmp(0x04, bytes(size))
    with pytest.raises(CodecError):
        encode_bmp(0x07, b"")  # not a known tag


def test_tlv_container_bmp_uses_ber_lengths() -> None:
    assert BMP_FORMATS[0x06].size == TLV
    assert encode_bmp(0x06, bytes(0x7F))[:2] == h("06 7F")
    assert encode_bmp(0x06, bytes(0x80))[:3] == h("06 81 80")
    assert encode_bmp(0x06, bytes(0x100))[:4] == h("06 82 01 00")
    assert decode_bmps(encode_bmp(0x06, bytes(0x80))) == [(0x06, bytes(0x80))]


def test_scan_stops_where_the_framing_breaks_and_says_why() -> None:
    amount = h("04 00 00 00 00 10 00")
    assert scan_bmps(amount + h("04 00 00")) == ([(0x04, amount[1:])], "BMP 04 (amount) needs 6 bytes, 2 left")
    assert scan_bmps(amount + h("07 01")) == ([(0x04, amount[1:])], "unknown BMP tag 07 at byte 7")
    assert scan_bmps(h("22 F1")) == ([], "BMP 22 (PAN): LLVAR/LLLVAR length cut short")
    assert scan_bmps(h("22 F0 F2 12")) == ([], "BMP 22 (PAN) needs 2 bytes, 1 left")
    assert scan_bmps(h("06 83 00 00 00")) == ([], "BMP 06 (TLV container): unsupported TLV length form 83")
    assert scan_bmps(h("00 00") + amount, 2) == ([(0x04, amount[1:])], None)
    with pytest.raises(CodecError):
        decode_bmps(amount + h("07 01"))


# -- BER-TLV lengths ---------------------------------------------------------------------------------------


def test_ber_length_forms_at_their_limits() -> None:
    assert encode_ber_length(0x7F) == h("7F")
    assert encode_ber_length(0x80) == h("81 80")
    assert encode_ber_length(0xFF) == h("81 FF")
    assert encode_ber_length(0x100) == h("82 01 00")
    assert encode_ber_length(0xFFFF) == h("82 FF FF")
    with pytest.raises(CodecError):
        encode_ber_length(0x10000)
    assert decode_ber_length(h("7F"), 0) == (0x7F, 1)
    assert decode_ber_length(h("00 81 80"), 1) == (0x80, 3)
    assert decode_ber_length(h("82 FF FF"), 0) == (0xFFFF, 3)
    for raw in (h("80"), h("83 00 00 00"), h("81"), h("82 01"), b""):
        with pytest.raises(CodecError):
            decode_ber_length(raw, 0)


def test_the_bmp_format_table_built_at_import() -> None:
    bmp = fresh_module("payments.zvt.bmp")  # BMP_FORMATS is built while the module is imported
    table = {tag: (fmt.name, fmt.size) for tag, fmt in bmp.BMP_FORMATS.items()}
    assert table[0x04] == ("amount", 6)
    assert table[0x22] == ("PAN", LL)
    assert table[0x3C] == ("additional data", LLL)
    assert table[0x06] == ("TLV container", TLV)
    assert table[0xE1] == ("text line 1", LL) and table[0xE8] == ("text line 8", LL)
    assert table[0xF8] == ("display line 8", LL)
    assert table[0xFD] == ("display device", 1)
    assert bmp.encode_bmp(0x87, h("00 07")) == h("87 00 07")
