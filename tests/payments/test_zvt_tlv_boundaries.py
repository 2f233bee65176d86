"""BER-TLV of the ZVT BMP 06 container at its limits: tag length, nesting depth, lenient reading."""

from __future__ import annotations

import pytest

from payments.zvt.errors import CodecError
from payments.zvt.tlv import (
    TlvItem,
    decode_tlv,
    decode_tlv_lenient,
    encode_tlv,
    is_constructed_tag,
    iter_tag,
    tag_to_bytes,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def nested(levels: int) -> bytes:
    """A primitive item `01 01 AA` inside `levels` constructed E1 items."""
    data = h("01 01 AA")
    for _ in range(levels):
        data = bytes([0xE1, len(data)]) + data
    return data


def depth_of(items: tuple[TlvItem, ...]) -> int:
    levels = 0
    while items and items[0].constructed:
        levels += 1
        items = items[0].children()
    return levels


# -- tags ---------------------------------------------------------------------------------------------


def test_tags_of_one_to_four_bytes_decode_and_five_are_refused() -> None:
    for tag in ("01", "1F 07", "1F 81 02", "1F 81 82 03"):
        raw = h(tag) + h("01 AA")
        assert decode_tlv(raw) == (TlvItem(int.from_bytes(h(tag), "big"), h("AA")),)
    with pytest.raises(CodecError, match="longer than 4 bytes"):
        decode_tlv(h("1F 81 82 83 04 01 AA"))
    with pytest.raises(CodecError, match="cut short"):
        decode_tlv(h("1F 81"))
    items, warnings = decode_tlv_lenient(h("01 01 AA 1F 81 82 83 04 01 AA"))
    assert items == (TlvItem(1, h("AA")),)
    assert warnings == ("TLV: TLV tag longer than 4 bytes; 7 bytes from byte 3 not read",)


def test_tag_to_bytes_checks_the_continuation_bits() -> None:
    assert tag_to_bytes(0x01) == h("01")
    assert tag_to_bytes(0x00) == h("00")
    assert tag_to_bytes(0x1F07) == h("1F 07")
    assert tag_to_bytes(0x1F8102) == h("1F 81 02")
    assert tag_to_bytes(0xFF01) == h("FF 01")
    for bad in (
        0x1F,  # announces further bytes, none follow
        0x0102,  # two bytes, the first does not announce a second
        0x0281,  # ten bits: two bytes, the first does not announce a second
        0x010203,
        0x1F81,  # the last byte announces yet another
        0x1F0102,  # a middle byte does not announce the next
        -1,
    ):
        with pytest.raises(CodecError):
            tag_to_bytes(bad)


def test_constructed_bit_and_the_ff_quirk() -> None:
    assert is_constructed_tag(h("E1"))
    assert is_constructed_tag(h("BF 0C"))  # two bytes, constructed, not FFxx
    assert is_constructed_tag(h("FF"))  # one byte FF is constructed: the quirk is for FF00-FFFF only
    assert not is_constructed_tag(h("FF 01"))
    assert not is_constructed_tag(h("1F 07"))
    assert not is_constructed_tag(h("01"))


# -- nesting -----------------------------------------------------------------------------------------------


def test_nine_levels_decode_and_ten_are_refused() -> None:
    assert depth_of(decode_tlv(nested(8))) == 8  # the primitive sits at depth 8
    with pytest.raises(CodecError, match="nested too deeply"):
        decode_tlv(nested(9))
    assert depth_of(decode_tlv(nested(7), 1)) == 7
    with pytest.raises(CodecError, match="nested too deeply"):
        decode_tlv(nested(8), 1)


def test_lenient_reading_has_the_same_depth_limit_and_keeps_deeper_items_raw() -> None:
    items, warnings = decode_tlv_lenient(nested(8))
    assert depth_of(items) == 8 and warnings == ()
    items, warnings = decode_tlv_lenient(nested(9))
    assert items == (TlvItem(0xE1, nested(8)),)
    assert warnings == (
        "TLV item E1 is marked constructed but its content is not TLV (TLV nested too deeply): kept raw",
    )


# -- lenient reading ---------------------------------------------------------------------------------------


def test_lenient_reading_stops_at_an_item_longer_than_the_container() -> None:
    items, warnings = decode_tlv_lenient(h("01 01 AA 1f07 05 01 02"))
    assert items == (TlvItem(1, h("AA")),)
    assert warnings == ("TLV item 1F07 announces 5 bytes, 2 left; not read",)
    items, warnings = decode_tlv_lenient(h("01 01 AA 02 02 BB CC"))  # exactly to the end: read
    assert items == (TlvItem(1, h("AA")), TlvItem(2, h("BB CC"))) and warnings == ()


def test_lenient_reading_stops_at_a_cut_length() -> None:
    items, warnings = decode_tlv_lenient(h("01 01 AA 02 82 01"))
    assert items == (TlvItem(1, h("AA")),)
    assert warnings == ("TLV: TLV length bytes cut short; 3 bytes from byte 3 not read",)
    assert decode_tlv_lenient(b"") == ((), ())


def test_strict_reading_refuses_an_item_longer_than_the_container() -> None:
    with pytest.raises(CodecError):
        decode_tlv(h("01 02 AA"))


# -- finding and writing -----------------------------------------------------------------------------------


def test_find_and_iter_tag_depth_first() -> None:
    items = decode_tlv(h("E1 08 01 01 AA E2 03 01 01 BB 01 01 CC"))
    outer = items[0]
    assert outer.find(0x01) == TlvItem(1, h("AA"))
    assert outer.find(0xE2) == TlvItem(0xE2, (TlvItem(1, h("BB")),))
    assert outer.find(0x07) is None
    assert TlvItem(1, h("AA")).find(1) is None  # a primitive has no children
    assert [i.value for i in iter_tag(items, 0x01)] == [h("AA"), h("BB"), h("CC")]


def test_encode_round_trips_and_refuses_items_under_a_primitive_tag() -> None:
    raw = h("E1 08 01 01 AA E2 03 01 01 BB 1F 07 01 02")
    assert encode_tlv(decode_tlv(raw)) == raw
    assert encode_tlv([TlvItem(0xE1, h("FF"))]) == h("E1 01 FF")  # raw bytes kept under a constructed tag
    assert encode_tlv([TlvItem(0x01, bytes(0x80))])[:3] == h("01 81 80")
    with pytest.raises(CodecError):
        encode_tlv([TlvItem(0x01, (TlvItem(1, h("AA")),))])
