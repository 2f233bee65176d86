"""What the simulator says through the message classes, byte-exact, and their JSON view (CLI and logs)."""

from __future__ import annotations

import pytest

from payments.zvt.errors import CodecError
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
from payments.zvt.tlv import TlvItem


def h(text: str) -> bytes:
    return bytes.fromhex(text)


RECEIPT = TlvItem(0x1F07, h("01"))


def test_acknowledgements_encode() -> None:
    assert Acknowledgement().encode() == h("80 00 00")
    assert Acknowledgement(0x9C, True).encode() == h("84 9C 00")
    assert Acknowledgement(0x00, True, h("AA")).encode() == h("84 00 01 AA")
    for bad in (Acknowledgement(0x9C), Acknowledgement(0, False, h("AA"))):
        with pytest.raises(CodecError):
            bad.encode()
    assert Acknowledgement(0x00, True).positive and not Acknowledgement(0x9C, True).positive


def test_intermediate_status_encodes_timeout_and_container() -> None:
    assert IntermediateStatus(0x0A).encode() == h("04 FF 01 0A")
    assert IntermediateStatus(0x0A, 5).encode() == h("04 FF 02 0A 05")
    assert IntermediateStatus(0x0A, 5, (RECEIPT,)).encode() == h("04 FF 08 0A 05 06 04 1F 07 01 01")
    assert IntermediateStatus(0x0A, None, (RECEIPT,)).encode() == h("04 FF 07 0A 06 04 1F 07 01 01")


def test_completion_encodes_every_part_in_order() -> None:
    full = Completion(
        sw_version="12",
        terminal_status=5,
        status_byte=1,
        terminal_id="12345678",
        currency=978,
        tlv=(RECEIPT,),
        extra=((0x27, h("00")),),
    )
    raw = h("06 0F 18 F0 F0 F2 31 32 05 19 01 29 12 34 56 78 49 09 78 06 04 1F 07 01 01 27 00")
    assert full.encode() == raw
    assert parse_message(raw) == full
    assert Completion(terminal_status=5).encode() == h("06 0F 01 05")
    assert Completion(status_byte=0).encode() == h("06 0F 02 19 00")
    assert Completion().encode() == h("06 0F 00")
    with pytest.raises(CodecError):
        Completion(sw_version="12").encode()


def test_abort_encodes_receipt_container_and_extra() -> None:
    assert Abort(0xB8, receipt_no=ENQUIRY_RECEIPT).encode() == h("06 1E 04 B8 87 FF FF")
    assert Abort(0xB8, receipt_no=42).encode() == h("06 1E 04 B8 87 00 42")
    assert Abort(0x6C, tlv=(RECEIPT,), extra=((0x01, h("05")),)).encode() == h("06 1E 09 6C 06 04 1F 07 01 01 01 05")
    assert Abort(0x6C).encode() == h("06 1E 01 6C")


def test_print_line_encodes_in_the_charset_of_its_container() -> None:
    assert PrintLine("ü", 0x80).encode() == h("06 D1 02 80 81")  # CP437 by default
    latin = PrintLine("ü", 0, (TlvItem(0x14, h("01")),))
    assert latin.encode() == h("06 D1 07 00 FC 06 03 14 01 01")
    assert parse_message(latin.encode()) == latin


def test_text_block_from_lines() -> None:
    block = PrintTextBlock.from_lines(["Summe", "ü"], receipt_type=2)
    assert block.tlv == (TlvItem(0x1F07, h("02")), TlvItem(0x25, (TlvItem(0x07, b"Summe"), TlvItem(0x07, h("81")))))
    assert block.lines == ("Summe", "ü") and block.receipt_type == 2
    plain = PrintTextBlock.from_lines(["A"])
    assert plain.tlv == (TlvItem(0x25, (TlvItem(0x07, b"A"),)),) and plain.receipt_type is None
    latin = PrintTextBlock.from_lines(["ü"], encoding="iso8859_1")
    assert latin.tlv[0].children() == (TlvItem(0x07, h("FC")),)
    assert block.encode() == h("06 D3 12 06 10 1F 07 01 02 25 0A 07 05") + b"Summe" + h("07 01 81")


def test_receipt_type_needs_a_primitive_non_empty_item() -> None:
    assert PrintLine("x").receipt_type is None
    assert PrintLine("x", 0, (TlvItem(0x1F07, b""),)).receipt_type is None
    assert PrintLine("x", 0, (TlvItem(0x1F07, (TlvItem(1, h("05")),)),)).receipt_type is None
    assert PrintLine("x", 0, (TlvItem(0x25, ()), TlvItem(0x1F07, h("03")))).receipt_type == 3


def test_unknown_message_encodes_back() -> None:
    assert UnknownMessage(0x06, 0x99, h("AA")).encode() == h("06 99 01 AA")
    assert UnknownMessage(0x06, 0x99).encode() == h("06 99 00")


def test_status_information_json_view() -> None:
    status = StatusInformation(
        result_code=0,
        amount_cents=1000,
        individual_totals=h("01 0a"),
        tlv=(RECEIPT,),
        extra=((0x01, h("05 0a")),),
        raw=((0x22, h("12 a4")),),
        warnings=("w1",),
    )
    view = status.to_dict()
    assert view["type"] == "StatusInformation"
    assert view["result_code"] == 0 and view["amount_cents"] == 1000 and view["pan"] is None
    assert view["individual_totals"] == "01 0A"
    assert view["tlv"] == "1F 07 01 01"
    assert view["extra"] == {"01": "05 0A"}
    assert view["raw"] == {"22": "12 A4"}
    assert view["warnings"] == ["w1"]
    assert view["text"] == status.text
    assert list(view)[:3] == ["type", "result_code", "amount_cents"]


def test_json_view_omits_empty_warnings_and_raw_and_keeps_other_empties() -> None:
    view = StatusInformation(result_code=5).to_dict()
    assert "warnings" not in view and "raw" not in view
    assert view["extra"] == {} and view["tlv"] is None
    assert view["text"] == StatusInformation(result_code=5).text
    block = PrintTextBlock.from_lines(["A"]).to_dict()
    assert block == {"type": "PrintTextBlock", "tlv": "25 03 07 01 41"}
    empty_block = PrintTextBlock(()).to_dict()
    assert empty_block == {"type": "PrintTextBlock", "tlv": []}
    line = PrintLine("Summe", 1, warnings=("w",)).to_dict()
    assert line == {"type": "PrintLine", "text": "Summe", "attribute": 1, "tlv": None, "warnings": ["w"]}
    intermediate = IntermediateStatus(0x0A).to_dict()
    assert intermediate["text"] == IntermediateStatus(0x0A).text and intermediate["tlv"] == []
    ack = Acknowledgement(0x9C, True, h("aa")).to_dict()
    assert ack == {"type": "Acknowledgement", "code": 0x9C, "negative": True, "data": "AA"}
