"""Reading terminal messages at their edges: each message type whole (values, extra BMPs and warnings),
the ambiguous completion layouts, broken framing and character sets."""

from __future__ import annotations

import pytest

from payments.zvt.apdu import Apdu, encode_apdu
from payments.zvt.bmp import encode_bmp
from payments.zvt.errors import CodecError, UnreadableMessage
from payments.zvt.messages import (
    ENQUIRY_RECEIPT,
    Abort,
    Acknowledgement,
    Completion,
    IntermediateStatus,
    PrintLine,
    PrintTextBlock,
    StatusInformation,
    UnknownMessage,
    parse_message,
)
from payments.zvt.tlv import TlvItem, encode_tlv


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def msg(cls: int, ins: int, data: str | bytes = b"") -> bytes:
    return encode_apdu(cls, ins, h(data) if isinstance(data, str) else data)


def container(*items: TlvItem) -> bytes:
    return encode_bmp(0x06, encode_tlv(items))


# TLV content whose lenient reading gives two warnings (a constructed item that is not TLV, a cut tag)
TWO_WARNINGS_TLV = h("E1 01 FF 1F")
TWO_WARNINGS = (
    "TLV item E1 is marked constructed but its content is not TLV (TLV tag cut short): kept raw",
    "TLV: TLV tag cut short; 1 bytes from byte 3 not read",
)


# -- acknowledgements and unknown messages ------------------------------------------------------------------


def test_acknowledgements() -> None:
    assert parse_message(msg(0x80, 0x00)) == Acknowledgement()
    assert parse_message(Apdu(0x80, 0x00)) == Acknowledgement()  # an Apdu object is read as is
    assert parse_message(msg(0x84, 0x9C)) == Acknowledgement(0x9C, True, b"")
    assert parse_message(msg(0x84, 0x00, "AA")) == Acknowledgement(0, True, h("AA"))
    for raw in (msg(0x80, 0x01), msg(0x80, 0x00, "AA")):
        with pytest.raises(CodecError):
            parse_message(raw)


def test_an_unknown_message_is_kept_whole() -> None:
    assert parse_message(msg(0x06, 0x99, "AA")) == UnknownMessage(0x06, 0x99, h("AA"))


# -- status information -----------------------------------------------------------------------------------


def test_status_information_keeps_unknown_bmps_in_extra() -> None:
    status = parse_message(msg(0x04, 0x0F, "27 00 01 05"))
    assert status == StatusInformation(result_code=0, extra=((0x01, h("05")),))


def test_status_information_with_broken_framing_is_unreadable_but_keeps_what_was_read() -> None:
    with pytest.raises(UnreadableMessage) as caught:
        parse_message(msg(0x04, 0x0F, "27 00 04 00 00"))
    assert str(caught.value) == "framing broken: BMP 04 (amount) needs 6 bytes, 2 left"
    assert caught.value.partial == StatusInformation(result_code=0)


# -- intermediate status ----------------------------------------------------------------------------------


def test_intermediate_status_with_and_without_timeout_and_container() -> None:
    assert parse_message(msg(0x04, 0xFF, "0A")) == IntermediateStatus(0x0A)
    assert parse_message(msg(0x04, 0xFF, "0A 05")) == IntermediateStatus(0x0A, 5)
    item = TlvItem(0x24, (TlvItem(0x07, b"Karte"),))
    assert parse_message(msg(0x04, 0xFF, h("0A") + container(item))) == IntermediateStatus(0x0A, None, (item,))
    assert parse_message(msg(0x04, 0xFF, h("0A 05") + container(item))) == IntermediateStatus(0x0A, 5, (item,))
    with pytest.raises(CodecError):
        parse_message(msg(0x04, 0xFF))


def test_intermediate_status_whose_06_is_a_timeout() -> None:
    # 06 followed by no valid container: 06 is the timeout byte, the 01 after it is a broken BMP
    assert parse_message(msg(0x04, 0xFF, "0A 06 01")) == IntermediateStatus(
        0x0A, 6, (), ("intermediate status: BMP 01 (timeout) needs 1 bytes, 0 left",)
    )


def test_intermediate_status_ignores_other_bmps_but_reads_the_container_after_them() -> None:
    item = TlvItem(0x07, b"Bitte warten")
    message = parse_message(msg(0x04, 0xFF, h("0A 05 01 07") + container(item)))
    assert message == IntermediateStatus(0x0A, 5, (item,), ("intermediate status: unexpected BMP 01 ignored",))


# -- print text block -------------------------------------------------------------------------------------


def test_text_block_without_a_container() -> None:
    assert parse_message(msg(0x06, 0xD3)) == PrintTextBlock((), ("print text block without a TLV container",))


def test_text_block_lines_are_checked_in_the_named_charset() -> None:
    items = (TlvItem(0x14, h("03")), TlvItem(0x25, (TlvItem(0x07, h("41 A5")),)))
    block = parse_message(msg(0x06, 0xD3, container(*items)))
    assert block == PrintTextBlock(items, ("print text block: 1 byte(s) not defined in iso8859_3",))
    assert block.lines == ("A\ufffd",)


def test_text_block_with_an_unknown_charset_and_broken_tlv() -> None:
    items = (TlvItem(0x14, h("0C")), TlvItem(0x25, (TlvItem(0x07, h("81")),)))
    block = parse_message(msg(0x06, 0xD3, container(*items)))
    assert block == PrintTextBlock(items, ("unknown character set 0C in tag 14: texts read as CP437",))
    assert block.lines == ("ü",)
    broken = parse_message(msg(0x06, 0xD3, encode_bmp(0x06, TWO_WARNINGS_TLV)))
    assert isinstance(broken, PrintTextBlock)
    assert broken.warnings == tuple(f"print text block: {w}" for w in TWO_WARNINGS)
    framing = parse_message(msg(0x06, 0xD3, "06 05 01"))
    assert framing == PrintTextBlock((), (
        "print text block: BMP 06 (TLV container) needs 5 bytes, 1 left",
        "print text block without a TLV container",
    ))


# -- print line ---------------------------------------------------------------------------------------------


def test_print_line_without_an_attribute_byte() -> None:
    assert parse_message(msg(0x06, 0xD1)) == PrintLine("", 0, warnings=("print line 06 D1 without an attribute byte",))


def test_print_line_text_and_trailing_container() -> None:
    line = parse_message(msg(0x06, 0xD1, "80 41 42 06 04 1F 07 01 01"))
    assert line == PrintLine("AB", 0x80, (TlvItem(0x1F07, h("01")),))
    assert line.receipt_type == 1


def test_print_line_whose_text_contains_a_06_that_is_not_the_container() -> None:
    # the first 06 announces 0x41 bytes, which do not reach the end: it is text, the later 06 is the container
    line = parse_message(msg(0x06, 0xD1, "00 06 41 42 06 04 1F 07 01 01"))
    assert line == PrintLine(h("06 41 42").decode("cp437"), 0, (TlvItem(0x1F07, h("01")),))
    no_container = parse_message(msg(0x06, 0xD1, "00 41 06 09 42"))
    assert no_container == PrintLine("A\x06\tB", 0)


def test_print_line_text_in_the_charset_of_its_container() -> None:
    line = parse_message(msg(0x06, 0xD1, "00 41 A5 06 03 14 01 03"))
    warning = "print line: 1 byte(s) not defined in iso8859_3"
    assert line == PrintLine("A\ufffd", 0, (TlvItem(0x14, h("03")),), (warning,))
    latin = parse_message(msg(0x06, 0xD1, "00 FC 06 03 14 01 0C"))
    warning = "unknown character set 0C in tag 14: texts read as CP437"
    assert latin == PrintLine("ⁿ", 0, (TlvItem(0x14, h("0C")),), (warning,))


# -- completion -------------------------------------------------------------------------------------------


def test_completion_with_software_version_and_status() -> None:
    assert parse_message(msg(0x06, 0x0F, "F0 F0 F3 31 32 33 05")) == Completion(sw_version="123", terminal_status=5)
    assert parse_message(msg(0x06, 0x0F, "F0 F0 F0 05 19 01")) == Completion(
        sw_version="", terminal_status=5, status_byte=1
    )


def test_completion_version_without_a_status_byte_is_not_a_version() -> None:
    # "F0 F0 F2 31 32": a 2-byte version and no status byte after it; no reading fits, the status-byte one is kept
    completion = parse_message(msg(0x06, 0x0F, "F0 F0 F2 31 32"))
    assert completion == Completion(
        terminal_status=0xF0,
        extra=((0xF0, h("F2")),),
        warnings=("completion: unknown BMP tag 31 at byte 3; data F0 F0 F2 31 32",),
    )


def test_completion_first_byte_a_bmp_tag_prefers_the_bmp_reading() -> None:
    # both readings fit: 06 as a TLV container (03 bytes), or 06 as status with BMPs 03 and 01
    assert parse_message(msg(0x06, 0x0F, "06 03 19 01 01")) == Completion(tlv=(TlvItem(0x19, h("01")),))
    # first byte not a BMP the completion knows: the status-byte reading is preferred
    assert parse_message(msg(0x06, 0x0F, "0D 01 27")) == Completion(terminal_status=0x0D, extra=((0x01, h("27")),))
    assert parse_message(msg(0x06, 0x0F, "06")) == Completion(terminal_status=6)
    assert parse_message(msg(0x06, 0x0F)) == Completion()


def test_completion_where_nothing_fits_keeps_the_preferred_reading_with_a_warning() -> None:
    assert parse_message(msg(0x06, 0x0F, "06 05")) == Completion(
        warnings=("completion: BMP 06 (TLV container) needs 5 bytes, 0 left; data 06 05",)
    )


def test_completion_fields_and_their_problems() -> None:
    good = parse_message(msg(0x06, 0x0F, "19 01 29 12 34 56 78 49 09 78"))
    assert good == Completion(status_byte=1, terminal_id="12345678", currency=978)
    bad = parse_message(msg(0x06, 0x0F, h("29 12 34 56 7A 49 09 7A") + encode_bmp(0x06, TWO_WARNINGS_TLV) + h("27 00")))
    assert bad == Completion(
        tlv=(TlvItem(0xE1, h("FF")),),
        extra=((0x29, h("12 34 56 7A")), (0x49, h("09 7A")), (0x27, h("00"))),
        warnings=(
            "completion: BMP 29: not packed BCD: 12 34 56 7a",
            "completion: BMP 49: not packed BCD: 09 7a",
            "completion: BMP 06: " + "; ".join(TWO_WARNINGS),
        ),
    )
    clean_tlv = parse_message(msg(0x06, 0x0F, h("19 01") + container(TlvItem(0x1F07, h("01")))))
    assert clean_tlv == Completion(status_byte=1, tlv=(TlvItem(0x1F07, h("01")),))


# -- abort ----------------------------------------------------------------------------------------------------


def test_abort_without_a_result_code() -> None:
    assert parse_message(msg(0x06, 0x1E)) == Abort(
        0xFF, warnings=("abort 06 1E without a result code: read as FF (system error)",)
    )


def test_abort_receipt_numbers() -> None:
    assert parse_message(msg(0x06, 0x1E, "6C")) == Abort(0x6C)
    assert parse_message(msg(0x06, 0x1E, "B8 87 FF FF")) == Abort(0xB8, receipt_no=ENQUIRY_RECEIPT)
    assert parse_message(msg(0x06, 0x1E, "B8 87 00 42")) == Abort(0xB8, receipt_no=42)
    assert parse_message(msg(0x06, 0x1E, "B8 87 0A 42")) == Abort(
        0xB8, receipt_no=None, extra=((0x87, h("0A 42")),), warnings=("abort: receipt number 0A 42 is not BCD",)
    )


def test_abort_container_other_bmps_and_broken_framing() -> None:
    item = TlvItem(0x1F07, h("01"))
    assert parse_message(msg(0x06, 0x1E, h("6C") + container(item) + h("01 05"))) == Abort(
        0x6C, tlv=(item,), extra=((0x01, h("05")),)
    )
    assert parse_message(msg(0x06, 0x1E, h("6C") + encode_bmp(0x06, TWO_WARNINGS_TLV))) == Abort(
        0x6C, tlv=(TlvItem(0xE1, h("FF")),), warnings=tuple(f"abort: {w}" for w in TWO_WARNINGS)
    )
    assert parse_message(msg(0x06, 0x1E, "6C 04 00")) == Abort(
        0x6C, warnings=("abort: BMP 04 (amount) needs 6 bytes, 1 left; data 04 00",)
    )
