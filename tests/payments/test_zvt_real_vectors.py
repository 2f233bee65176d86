"""The codec against real terminal messages from other implementations' test suites (zvt_vectors.py).

Money fields must come out exactly; informational oddities must come out as warnings, never as a
refused message.
"""

from __future__ import annotations

import pytest

from payments.zvt import commands
from payments.zvt.apdu import decode_apdu
from payments.zvt.commands import PLEASE_WAIT
from payments.zvt.errors import CodecError, UnreadableMessage
from payments.zvt.framing import decode_frame, encode_frame
from payments.zvt.messages import (
    ENQUIRY_RECEIPT,
    Abort,
    Completion,
    IntermediateStatus,
    PrintLine,
    PrintTextBlock,
    StatusInformation,
    parse_message,
)
from payments.zvt.tlv import TlvItem

from . import zvt_vectors as v
from .zvt_vectors import h


def status(raw: bytes) -> StatusInformation:
    message = parse_message(raw)
    assert isinstance(message, StatusInformation)
    return message


# --- wirelane/ecrterm ---------------------------------------------------------------------------


def test_ecrterm_approval_with_track2_separator_in_the_pan_is_an_approval():
    assert decode_frame(v.ECRTERM_APPROVAL_FRAME) == v.ECRTERM_APPROVAL  # the CRC of the real frame holds
    s = status(v.ECRTERM_APPROVAL)
    assert s.approved
    assert (s.amount_cents, s.currency, s.receipt_no, s.trace_no) == (4000, 978, 175, 613995)
    assert (s.terminal_id, s.time, s.date, s.expiry, s.card_seq_no) == ("60099914", "093848", "0425", "0512", 1)
    assert (s.payment_type, s.card_type) == (0x40, 2)
    assert s.pan == "5966666666"
    assert s.warnings == ("BMP 22 (pan): PAN carries a track-2 separator: the data after it is dropped, never kept",)
    # the raw PAN is kept only up to the separator: expiry and service code (D2 00 21 ...) are not stored
    assert s.raw == ((0x22, h("59 66 66 66 66")),)
    assert b"\xd2" not in s.encode()


def test_ecrterm_print_line_and_version_completion():
    line = parse_message(decode_frame(v.ECRTERM_PRINT_LINE_FRAME))
    assert line == PrintLine("         Kassenschnitt", 0)
    completion = parse_message(decode_frame(v.ECRTERM_VERSION_COMPLETION_FRAME))
    assert completion == Completion(sw_version="2.14.15", terminal_status=0)
    assert encode_frame(completion.encode()) == v.ECRTERM_VERSION_COMPLETION_FRAME


def test_ecrterm_ecr_frames_match_our_encoders():
    assert encode_frame(commands.registration("123456", 0xBA, 978)) == v.ECRTERM_REGISTRATION_FRAME
    assert encode_frame(commands.authorisation(11000, currency=978)) == v.ECRTERM_AUTHORISATION_110_EUR_FRAME
    assert encode_frame(commands.status_enquiry("123456")) == v.ECRTERM_STATUS_ENQUIRY_FRAME
    assert encode_frame(PLEASE_WAIT.encode()) == v.ECRTERM_PLEASE_WAIT_FRAME
    assert encode_frame(PrintLine("Gesamt      0       0,00").encode()) == v.ECRTERM_PRINT_LINE_GESAMT_FRAME


# --- Portalum/Portalum.Zvt ----------------------------------------------------------------------


def test_portalum_abort_by_key_and_system_error_status_informations():
    by_key = status(v.PORTALUM_ABORT_BY_KEY)
    assert (by_key.result_code, by_key.additional_text, by_key.terminal_id) == (0x6C, "Abbruch durch Kunde", "28004869")
    assert by_key.warnings == () and by_key.encode() == v.PORTALUM_ABORT_BY_KEY
    error = status(v.PORTALUM_SYSTEM_ERROR)
    assert (error.result_code, error.additional_text) == (0xFF, "Betrag falsch")


def test_portalum_good_payment_strips_nuls_from_card_name_and_aid():
    s = status(v.PORTALUM_PAYMENT_GOOD)
    assert s.approved
    assert (s.amount_cents, s.currency, s.receipt_no, s.trace_no, s.turnover_no) == (2040, 978, 470, 470, 470)
    assert (s.card_name, s.aid, s.card_type) == ("Debit Mastercard", "611804", 0x2E)
    assert (s.pan, s.expiry, s.time, s.date, s.card_seq_no) == ("************4771", "2512", "223953", "1006", 1)
    assert (s.vu_number, s.additional_text) == ("100461763      ", "GEN.NR.:611804")
    assert s.warnings == ()
    # the NUL-ended card name is kept and written back (the AID's NUL padding is its fixed size)
    assert s.raw == ((0x8B, b"Debit Mastercard\x00"),)
    assert sorted(s.encode()) == sorted(v.PORTALUM_PAYMENT_GOOD)  # same bytes, our field order


def test_portalum_tlv_infos_keep_constructed_containers():
    s = status(v.PORTALUM_TLV_INFOS)
    assert s.approved and (s.receipt_no, s.trace_no, s.terminal_id) == (8, 0, "00000006")
    assert (s.card_name, s.host_result_code, s.expiry) == ("MASTERCARD", 0x01, "9999")
    assert s.tlv is not None
    payment_type, application, trace = s.tlv
    assert payment_type == TlvItem(0x2F, (TlvItem(0x1F12, h("02")), TlvItem(0x1F10, h("00"))))
    assert application.find(0x44) == TlvItem(0x44, b"Debit Mastercard")
    assert trace == TlvItem(0x1F2B, h("10 01 50 08"))
    assert s.warnings == ()


def test_portalum_rejected_card_is_a_readable_decline():
    s = status(v.PORTALUM_CARD_REJECTED)
    assert (s.result_code, s.additional_text, s.card_type, s.terminal_id) == (0x05, "Abgelehnt", 6, "29000274")
    assert s.tlv == (TlvItem(0x24, (TlvItem(0x07, b"Abgelehnt"),)),)
    assert sorted(s.encode()) == sorted(v.PORTALUM_CARD_REJECTED)


def test_portalum_aborts_including_one_without_a_result_code():
    assert parse_message(v.PORTALUM_ABORT_CARD_NOT_READABLE) == Abort(0x64)
    missing = parse_message(v.PORTALUM_ABORT_WITHOUT_CODE)
    assert isinstance(missing, Abort) and missing.result_code == 0xFF
    assert missing.warnings == ("abort 06 1E without a result code: read as FF (system error)",)


def test_portalum_print_lines_carry_a_receipt_type_tlv_outside_the_text():
    title = parse_message(v.PORTALUM_LINE_MERCHANT_TITLE)
    assert isinstance(title, PrintLine)
    assert (title.text, title.attribute, title.receipt_type) == ("** H\u2500NDLERBELEG **", 0x40, 1)
    assert title.tlv == (TlvItem(0x1F07, h("01")),) and title.encode() == v.PORTALUM_LINE_MERCHANT_TITLE
    customer = parse_message(v.PORTALUM_LINE_CUSTOMER_TERMINAL_ID)
    assert isinstance(customer, PrintLine)
    assert (customer.text, customer.attribute, customer.receipt_type) == ("Terminal-ID:    28004869", 0, 2)
    empty = parse_message(v.PORTALUM_LINE_EMPTY_WITH_TLV)
    assert isinstance(empty, PrintLine) and (empty.text, empty.receipt_type) == ("", 1)
    assert parse_message(v.PORTALUM_LINE_END) == PrintLine("", 0x81)


@pytest.mark.parametrize("raw", [v.PORTALUM_LINE_LENGTH_TOO_SMALL, v.PORTALUM_LINE_LENGTH_TOO_LARGE])
def test_portalum_print_lines_with_a_wrong_apdu_length_are_refused(raw):
    with pytest.raises(CodecError, match="announces"):
        parse_message(raw)


def test_portalum_completion_with_a_result_code_bmp():
    assert parse_message(v.PORTALUM_COMPLETION_WITH_RESULT) == Completion(extra=((0x27, h("E0")),))


def test_portalum_text_blocks_in_cp437():
    admin = parse_message(v.PORTALUM_ADMIN_RECEIPT)
    assert isinstance(admin, PrintTextBlock) and admin.receipt_type == 3
    assert "Abschluss - keine TX" in admin.lines and admin.warnings == ()
    receipt = parse_message(v.PORTALUM_CARDHOLDER_RECEIPT)
    assert isinstance(receipt, PrintTextBlock) and receipt.receipt_type == 2
    assert receipt.lines[:2] == ("  Leihstellung von hobex", "     für PORTALUM GmbH")
    assert "        KUNDENBELEG" in receipt.lines
    assert receipt.encode() == v.PORTALUM_CARDHOLDER_RECEIPT


def test_portalum_intermediate_status_with_display_texts():
    message = parse_message(v.PORTALUM_INTERMEDIATE_WITH_TEXTS)
    assert isinstance(message, IntermediateStatus) and (message.code, message.timeout_s) == (0xFF, 0x10)
    assert message.tlv == (TlvItem(0x24, (TlvItem(0x07, b"EUR 1.23"), TlvItem(0x07, b"Bitte warten"))),)


def test_portalum_extended_length_apdus():
    # ReceiveHandlerTest.GetApduInfo_ExtendedLengthField1 / CorruptLength
    assert decode_apdu(h("04 0F FF 01 00 6C")).data == h("6C")
    with pytest.raises(CodecError):
        decode_apdu(h("04 0F 06 00 01 02 03"))


# --- EVerest/zvt (Feig cVEND) ---------------------------------------------------------------------


def test_everest_status_informations_with_application_lists_are_byte_exact():
    four = status(v.EVEREST_STATUS_FOUR_APPLICATIONS)
    assert four.approved and four.tlv is not None
    assert [item.tag for item in four.tlv].count(0x60) == 4 and four.warnings == ()
    assert four.encode() == v.EVEREST_STATUS_FOUR_APPLICATIONS
    card = status(v.EVEREST_STATUS_CARD_READ)
    assert card.approved and card.tlv is not None and card.tlv[0] == TlvItem(0x4C, h("00 00 00 04 63 C8 B2 AE 4F 80"))
    assert card.encode() == v.EVEREST_STATUS_CARD_READ


def test_everest_intermediate_and_completion():
    assert parse_message(v.EVEREST_INTERMEDIATE) == IntermediateStatus(0x17, 0)
    assert parse_message(v.EVEREST_COMPLETION) == Completion(status_byte=0x10, terminal_id="52523535", currency=978)


# --- shapes from the issue ------------------------------------------------------------------------


def test_open_preauth_enquiry_answers_carry_bmp_87_after_the_result_code():
    none_open = parse_message(v.EVEREST_NO_OPEN_PREAUTH)
    assert none_open == Abort(0xB8, receipt_no=ENQUIRY_RECEIPT) and none_open.encode() == v.EVEREST_NO_OPEN_PREAUTH
    one_open = parse_message(v.OPEN_PREAUTH_0123)
    assert one_open == Abort(0xB8, receipt_no=123) and one_open.encode() == v.OPEN_PREAUTH_0123


def test_completion_whose_only_byte_is_status_06_is_a_status_byte():
    assert parse_message(v.COMPLETION_STATUS_06) == Completion(terminal_status=0x06)


# --- what is still refused, and what is kept when it is ---------------------------------------------


def test_broken_framing_after_the_money_fields_keeps_them():
    # result 05, amount 12.50, then BMP 99 whose length nobody knows
    with pytest.raises(UnreadableMessage) as caught:
        parse_message(h("04 0F 0C 27 05 04 00 00 00 00 12 50 99 01 02"))
    partial = caught.value.partial
    assert isinstance(partial, StatusInformation)
    assert (partial.result_code, partial.amount_cents) == (0x05, 1250)
    assert "unknown BMP tag 99" in str(caught.value)


def test_unreadable_money_field_refuses_the_message():
    with pytest.raises(UnreadableMessage, match=r"BMP 87 \(receipt_no\)") as caught:
        parse_message(h("04 0F 05 27 00 87 0A 01"))
    assert isinstance(caught.value.partial, StatusInformation) and caught.value.partial.result_code == 0


def test_two_different_result_codes_are_unreadable():
    with pytest.raises(UnreadableMessage, match="BMP 27 appears twice"):
        parse_message(h("04 0F 04 27 00 27 05"))


# --- character set (TLV tag 14) --------------------------------------------------------------------


def test_charset_tag_changes_how_texts_are_read():
    # card name bytes A4 E9: CP437 "ñΘ", ISO 8859-15 "€é"; tag 14 = 0F names ISO 8859-15 [U value]
    raw = h("04 0F 0C 27 00 8B F0 F2 A4 E9 06 03 14 01 0F")
    s = status(raw)
    assert s.card_name == "€é" and s.warnings == () and s.text_encoding == "iso8859_15"
    assert s.encode() == raw
    assert status(h("04 0F 07 27 00 8B F0 F2 A4 E9")).card_name == "ñΘ"  # no tag 14: CP437


def test_unknown_charset_keeps_cp437_and_warns():
    s = status(h("04 0F 0C 27 00 8B F0 F2 A4 E9 06 03 14 01 C7"))
    assert s.approved and s.card_name == "ñΘ"
    assert s.warnings == ("unknown character set C7 in tag 14: texts read as CP437",)


def test_charset_applies_to_print_lines_and_text_blocks():
    line = parse_message(h("06 D1 09 00 A4 31 30 06 03 14 01 0F"))
    assert isinstance(line, PrintLine) and line.text == "€10"
    block = PrintTextBlock((TlvItem(0x14, h("01")), TlvItem(0x25, (TlvItem(0x07, h("C4 72 67 65 72")),))))
    assert parse_message(block.encode()).lines == ("Ärger",)  # ISO 8859-1


def test_supported_charset_list_does_not_switch_the_encoding():
    # tag 27 lists what the terminal can do (here 8859-1); it does not say which one this message uses
    s = status(h("04 0F 0E 27 00 8B F0 F2 A4 E9 06 05 27 03 14 01 01"))
    assert s.card_name == "ñΘ"
