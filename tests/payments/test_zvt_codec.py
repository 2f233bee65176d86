"""ZVT codec against the reference vectors of zvt.md (bytes typed in from the reference, never generated)."""

from __future__ import annotations

import pytest

from payments.zvt import commands
from payments.zvt.apdu import Apdu, decode_apdu, encode_apdu
from payments.zvt.bcd import bcd_digits, decode_amount, decode_bcd, encode_amount, encode_bcd
from payments.zvt.bmp import decode_bmps, encode_bmp, encode_var_length, scan_bmps
from payments.zvt.commands import GOODS_ISSUED, GOODS_NOT_ISSUED, PLEASE_WAIT, decode_command, partial_issue
from payments.zvt.errors import CodecError
from payments.zvt.framing import FrameBad, FrameDecoder, FrameOk, crc16_kermit, decode_frame, encode_frame
from payments.zvt.messages import (
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
from payments.zvt.tables import intermediate_text, result_text
from payments.zvt.tlv import TlvItem, decode_tlv, encode_tlv
from payments.zvt.totals import IndividualTotals, decode_totals, encode_totals


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# zvt.md §10.1: APDU -> serial frame, each recomputed by two independent implementations there.
SERIAL_VECTORS = [
    ("80 00 00", "10 02 80 00 00 10 03 F5 1F"),
    ("06 00 08 12 34 56 BA 09 78 03 01", "10 02 06 00 08 12 34 56 BA 09 78 03 01 10 03 7C 1A"),
    ("06 01 07 04 00 00 00 00 10 00", "10 02 06 01 07 04 00 00 00 00 10 10 00 10 03 62 91"),
    ("06 22 07 04 00 00 00 00 50 00", "10 02 06 22 07 04 00 00 00 00 50 00 10 03 C8 4F"),
    ("06 24 0A 87 00 42 04 00 00 00 00 03 20", "10 02 06 24 0A 87 00 42 04 00 00 00 00 03 20 10 03 58 02"),
    ("06 50 03 12 34 56", "10 02 06 50 03 12 34 56 10 03 C4 AF"),
]


def test_crc16_kermit_check_value():
    assert crc16_kermit(b"123456789") == 0x2189


@pytest.mark.parametrize(("apdu", "frame"), SERIAL_VECTORS)
def test_serial_frame_encoding_is_byte_exact(apdu, frame):
    assert encode_frame(h(apdu)) == h(frame)


@pytest.mark.parametrize(("apdu", "frame"), SERIAL_VECTORS)
def test_serial_frame_decoding(apdu, frame):
    assert decode_frame(h(frame)) == h(apdu)


def test_frame_decoder_splits_a_stream_into_tokens():
    stream = h("06") + h(SERIAL_VECTORS[2][1]) + h("15 42") + h(SERIAL_VECTORS[0][1])
    decoder = FrameDecoder()
    tokens = []
    for byte in stream:  # one byte at a time, like a slow line
        tokens += decoder.feed(bytes([byte]))
    assert [type(t).__name__ for t in tokens] == ["Control", "FrameOk", "Control", "FrameOk"]
    assert tokens[1] == FrameOk(h("06 01 07 04 00 00 00 00 10 00"))
    assert decoder.noise == 1


def test_frame_decoder_reports_bad_crc_and_bad_dle():
    bad_crc = h("10 02 80 00 00 10 03 F5 1E")
    assert isinstance(FrameDecoder().feed(bad_crc)[0], FrameBad)
    bad_dle = h("10 02 80 10 41 00")
    token = FrameDecoder().feed(bad_dle)[0]
    assert isinstance(token, FrameBad) and "DLE followed by 41" in token.reason
    with pytest.raises(CodecError, match="CRC mismatch"):
        decode_frame(bad_crc)


def test_frame_decoder_min_pending_never_reads_past_the_frame():
    frame = h(SERIAL_VECTORS[2][1])
    decoder = FrameDecoder()
    pos = 0
    while pos < len(frame):
        need = decoder.min_pending()
        assert pos + need <= len(frame)
        tokens = decoder.feed(frame[pos : pos + need])
        pos += need
    assert tokens == [FrameOk(h(SERIAL_VECTORS[2][0]))]
    assert decoder.min_pending() == 1


# --- APDU / BMP / BCD ---------------------------------------------------------------------


def test_command_encoders_match_reference_apdus():
    assert commands.authorisation(1000) == h("06 01 07 04 00 00 00 00 10 00")
    assert commands.pre_authorisation(5000) == h("06 22 07 04 00 00 00 00 50 00")
    assert commands.book_total(42, 320) == h("06 24 0A 87 00 42 04 00 00 00 00 03 20")
    assert commands.end_of_day("123456") == h("06 50 03 12 34 56")
    assert commands.registration("123456", 0xBA, 978, service_byte=0x01) == h("06 00 08 12 34 56 BA 09 78 03 01")
    assert commands.enquire_open_preauths() == h("06 23 03 87 FF FF")


def test_vending_answers():
    assert GOODS_ISSUED.encode() == h("80 00 00")
    assert PLEASE_WAIT.encode() == h("84 9C 00")
    assert GOODS_NOT_ISSUED.encode() == h("84 66 00")
    assert partial_issue(320).encode() == h("84 9D 07 04 00 00 00 00 03 20")


def test_vending_authorisation_carries_max_status_infos():
    assert commands.authorisation(1000, max_status_infos=10) == h("06 01 09 04 00 00 00 00 10 00 02 0A")


def test_other_commands():
    assert commands.reversal("123456", 42) == h("06 30 06 12 34 56 87 00 42")
    assert commands.refund("123456", 320) == h("06 31 0A 12 34 56 04 00 00 00 00 03 20")
    assert commands.partial_reversal(42, 100) == h("06 23 0A 87 00 42 04 00 00 00 00 01 00")
    assert commands.pre_auth_reversal(42) == h("06 25 03 87 00 42")
    assert commands.status_enquiry("123456") == h("05 01 03 12 34 56")
    assert commands.status_enquiry() == h("05 01 00")
    assert commands.abort() == h("06 B0 00")
    assert commands.log_off() == h("06 02 00")
    with pytest.raises(CodecError, match="FFFF"):
        commands.partial_reversal(0xFFFF, 100)


def test_amounts_are_six_bcd_bytes():
    assert encode_amount(1000) == h("00 00 00 00 10 00")
    assert encode_amount(320) == h("00 00 00 00 03 20")
    assert decode_amount(h("00 00 00 00 03 20")) == 320
    assert encode_bmp(0x49, encode_bcd(978, 2)) == h("49 09 78")
    with pytest.raises(CodecError):
        encode_amount(-1)
    with pytest.raises(CodecError):
        encode_amount(10**12)


def test_bcd_rejects_non_decimal_nibbles_and_masks_pans():
    with pytest.raises(CodecError, match="not packed BCD"):
        decode_bcd(h("1A"))
    assert bcd_digits(h("67 25 59 EE EE EE 47 11")) == "672559******4711"
    assert bcd_digits(h("12 3F")) == "123"


def test_extended_length():
    data = bytes(300)
    raw = encode_apdu(0x06, 0xD3, data)
    assert raw[:5] == h("06 D3 FF 2C 01")
    assert decode_apdu(raw) == Apdu(0x06, 0xD3, data)
    assert encode_apdu(0x04, 0x0F, bytes(254))[2] == 0xFE
    assert encode_apdu(0x04, 0x0F, bytes(255))[2:5] == h("FF FF 00")


def test_apdu_length_mismatch_is_a_codec_error():
    with pytest.raises(CodecError, match="announces 7 data bytes but carries 6"):
        decode_apdu(h("06 01 07 04 00 00 00 10 00"))
    with pytest.raises(CodecError, match="too short"):
        decode_apdu(h("06 01"))


def test_llvar_and_lllvar_lengths():
    assert encode_var_length(16, 2) == h("F1 F6")
    assert encode_var_length(25, 3) == h("F0 F2 F5")
    pan = h("67 25 59 EE EE EE 47 11")
    assert encode_bmp(0x22, pan) == h("22 F0 F8") + pan
    text = b"x" * 25
    assert decode_bmps(h("3C F0 F2 F5") + text) == [(0x3C, text)]


def test_unknown_bmp_tag_is_a_clear_codec_error():
    with pytest.raises(CodecError, match="unknown BMP tag 99"):
        decode_bmps(h("27 00 99 01"))
    assert scan_bmps(h("27 00 99 01")) == ([(0x27, h("00"))], "unknown BMP tag 99 at byte 2")


def test_tlv_lengths_and_multibyte_tags():
    value = bytes(range(0x9A))
    container = encode_tlv([TlvItem(0x1F16, value)])
    assert container[:4] == h("1F 16 81 9A")
    assert encode_bmp(0x06, container)[:3] == h("06 81 9E")
    assert decode_tlv(container) == (TlvItem(0x1F16, value),)
    long = encode_tlv([TlvItem(0x07, bytes(300))])
    assert long[:4] == h("07 82 01 2C")
    nested = h("25 06 07 02 41 42 07 00")
    assert decode_tlv(nested) == (TlvItem(0x25, (TlvItem(0x07, b"AB"), TlvItem(0x07, b""))),)
    with pytest.raises(CodecError):
        decode_tlv(h("1F 16 05 00"))


def test_feig_ff_tags_are_primitive():
    assert decode_tlv(h("FF 01 02 30 31")) == (TlvItem(0xFF01, b"01"),)


# --- messages from the terminal --------------------------------------------------------------


def test_minimal_payment_dialogue_messages():
    # zvt.md §7: 80 00 00, 04 0F 02 27 00, 06 0F 00
    assert parse_message(h("80 00 00")) == Acknowledgement()
    status = parse_message(h("04 0F 02 27 00"))
    assert isinstance(status, StatusInformation) and status.approved
    assert parse_message(h("06 0F 00")) == Completion()


def test_negative_acknowledgements():
    nack = parse_message(h("84 6B 00"))
    assert nack == Acknowledgement(0x6B, True) and not nack.positive
    assert parse_message(h("84 00 00")).positive  # some PTs acknowledge positively this way
    partial = parse_message(h("84 9D 07 04 00 00 00 00 03 20"))
    assert partial.code == 0x9D and partial.data == h("04 00 00 00 00 03 20")


def test_status_information_fields():
    raw = h(
        "04 0F 34 27 00 04 00 00 00 00 12 50 0B 00 00 07 87 00 42 29 52 50 00 38 0C 14 30 05 0D 11 22"
        " 22 F0 F8 67 25 59 EE EE EE 47 11 8A 05 8B F0 F8 67 69 72 6F 63 61 72 64"
    )
    status = parse_message(raw)
    assert isinstance(status, StatusInformation)
    assert (status.result_code, status.amount_cents, status.trace_no, status.receipt_no) == (0, 1250, 7, 42)
    assert (status.terminal_id, status.time, status.date) == ("52500038", "143005", "1122")
    assert (status.pan, status.card_type, status.card_name) == ("672559******4711", 5, "girocard")
    assert status.encode() == raw


def test_status_information_with_bad_bcd_in_a_money_field_names_the_field():
    with pytest.raises(CodecError, match="BMP 0B"):
        parse_message(h("04 0F 04 0B 00 0A 00"))


def test_intermediate_status_with_and_without_timeout():
    assert parse_message(h("04 FF 01 0A")) == IntermediateStatus(0x0A)
    assert parse_message(h("04 FF 02 0A 3C")) == IntermediateStatus(0x0A, 60)
    assert parse_message(h("04 FF 02 17 06")) == IntermediateStatus(0x17, 6)
    with_tlv = parse_message(h("04 FF 06 0A 3C 06 02 07 00"))
    assert with_tlv == IntermediateStatus(0x0A, 60, (TlvItem(0x07, b""),))
    assert parse_message(h("04 FF 01 0A")).text == "insert card"


def test_abort_print_line_text_block_and_unknown():
    abort = parse_message(h("06 1E 01 6C"))
    assert abort == Abort(0x6C) and abort.text == "aborted by timeout or abort key"
    assert parse_message(h("06 D1 04 00 41 42 43")) == PrintLine("ABC", 0)
    block = PrintTextBlock.from_lines(["Zeile 1", "Zeile 2"], receipt_type=1)
    assert parse_message(block.encode()).lines == ("Zeile 1", "Zeile 2")
    assert parse_message(h("06 D8 01 00")) == UnknownMessage(0x06, 0xD8, h("00"))


def test_completion_of_a_status_enquiry():
    raw = h("06 0F 08 F0 F0 F4 31 2E 30 30 00")  # sw version "1.00" (LLL), terminal status 00
    assert parse_message(raw) == Completion(sw_version="1.00", terminal_status=0)
    assert parse_message(h("06 0F 08 29 52 50 00 38 49 09 78")) == Completion(terminal_id="52500038", currency=978)


def test_result_and_status_tables():
    assert result_text(0x6C) == "aborted by timeout or abort key"
    assert result_text(0x51).startswith("declined by the authorisation host")
    assert result_text(0x9B) == "unknown result code 9B"
    assert intermediate_text(0x0A) == "insert card"
    assert intermediate_text(0x4B) == "please remove card, please remove card"
    assert intermediate_text(0x5C) == "approved, please take goods, please remove card"


def test_decode_command_reference_registration():
    cmd = decode_command(h("06 00 08 12 34 56 BA 09 78 03 01"))
    assert (cmd.name, cmd.password, cmd.config_byte, cmd.currency) == ("registration", "123456", 0xBA, 978)
    assert cmd.byte(0x03) == 0x01
    book = decode_command(h("06 24 0A 87 00 42 04 00 00 00 00 03 20"))
    assert (book.receipt_no, book.amount_cents) == (42, 320)
    assert decode_command(h("06 23 03 87 FF FF")).receipt_no == 0xFFFF


def test_individual_totals_round_trip():
    totals = IndividualTotals(1, 9, {"girocard": (2, 2500), "Visa": (1, 499)})
    raw = encode_totals(totals)
    assert len(raw) == 53 and raw[:4] == h("00 01 00 09")
    decoded = decode_totals(raw)
    assert decoded.by_card["girocard"] == (2, 2500) and decoded.count == 3 and decoded.total_cents == 2999
