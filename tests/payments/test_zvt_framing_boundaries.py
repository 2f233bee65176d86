"""ZVT serial framing at its edges: resync after line noise, restarts, the longest frame, min_pending per state."""

from __future__ import annotations

import pytest

from payments.zvt.apdu import MAX_DATA
from payments.zvt.errors import CodecError
from payments.zvt.framing import (
    ACK,
    MAX_APDU,
    NAK,
    Control,
    FrameBad,
    FrameDecoder,
    FrameOk,
    crc16_kermit,
    decode_frame,
    encode_frame,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


GOODS_ISSUED = h("80 00 00")
GOODS_ISSUED_FRAME = h("10 02 80 00 00 10 03 F5 1F")  # zvt.md §10.1


def feed_bytewise(decoder: FrameDecoder, data: bytes) -> list:
    tokens = []
    for byte in data:
        tokens += decoder.feed(bytes([byte]))
    return tokens


@pytest.mark.parametrize("control", [ACK, NAK])
def test_an_ack_right_after_a_stray_dle_is_not_dropped(control: int) -> None:
    # line noise put a DLE on the wire just before the terminal's ACK: the DLE is noise, the ACK counts
    decoder = FrameDecoder()
    assert decoder.feed(bytes([0x10, control])) == [Control(control)]
    assert decoder.noise == 1
    assert decoder.idle


def test_a_frame_right_after_a_stray_dle_and_byte_is_found() -> None:
    decoder = FrameDecoder()
    tokens = feed_bytewise(decoder, h("10 41") + GOODS_ISSUED_FRAME)
    assert tokens == [FrameOk(GOODS_ISSUED)]
    assert decoder.noise == 2  # the DLE and the byte after it


def test_noise_is_counted_byte_for_byte() -> None:
    decoder = FrameDecoder()
    decoder.feed(h("41 42 43"))
    assert decoder.noise == 3
    decoder.feed(h("10 41 10 42"))  # DLE + non-STX twice: 2 bytes of noise each
    assert decoder.noise == 7


def test_a_doubled_dle_outside_a_frame_is_a_stuffed_data_byte_not_a_frame_start() -> None:
    # joining a frame late: "10 10 02" is a stuffed DLE followed by data 02, not DLE STX
    decoder = FrameDecoder()
    assert decoder.feed(h("10 10 02 80")) == []
    assert decoder.idle and decoder.noise == 3  # the pair is one (stuffed) byte of noise, then 02 and 80
    assert decoder.feed(GOODS_ISSUED_FRAME) == [FrameOk(GOODS_ISSUED)]


def test_dle_stx_inside_a_frame_restarts_it() -> None:
    decoder = FrameDecoder()
    tokens = feed_bytewise(decoder, h("10 02 06 01") + GOODS_ISSUED_FRAME)
    assert tokens == [FrameBad("frame restarted (DLE STX inside a frame)"), FrameOk(GOODS_ISSUED)]
    assert decoder.noise == 0


def test_dle_stx_inside_a_frame_restarts_it_with_an_empty_buffer_in_one_chunk() -> None:
    decoder = FrameDecoder()
    tokens = decoder.feed(h("10 02 06 01 10 02") + GOODS_ISSUED_FRAME[2:])
    assert tokens == [FrameBad("frame restarted (DLE STX inside a frame)"), FrameOk(GOODS_ISSUED)]


def test_the_longest_apdu_fits_and_one_byte_more_is_refused() -> None:
    longest = h("06 D3 FF FF FF") + bytes(MAX_DATA)  # header with extended length + 65535 data bytes
    assert len(longest) == MAX_APDU
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(longest)) == [FrameOk(longest)]
    assert decoder.feed(encode_frame(longest + b"\x00")) == [FrameBad(f"frame longer than {MAX_APDU} bytes")]
    assert decoder.idle  # dropped at once, not kept until the end of the frame
    assert decoder.feed(GOODS_ISSUED_FRAME) == [FrameOk(GOODS_ISSUED)]


def test_a_bad_crc_names_both_values() -> None:
    token = FrameDecoder().feed(h("10 02 80 00 00 10 03 F5 1E"))[0]
    assert token == FrameBad("CRC mismatch: frame says 1EF5, computed 1FF5")


def test_decode_frame_refuses_noise_before_the_frame() -> None:
    with pytest.raises(CodecError):
        decode_frame(h("41") + GOODS_ISSUED_FRAME)
    with pytest.raises(CodecError):
        decode_frame(GOODS_ISSUED_FRAME + h("06"))
    with pytest.raises(CodecError):
        decode_frame(GOODS_ISSUED_FRAME[:-1])
    with pytest.raises(CodecError):
        decode_frame(h("06"))
    assert decode_frame(GOODS_ISSUED_FRAME) == GOODS_ISSUED


def test_min_pending_in_every_state() -> None:
    """The fewest bytes that certainly belong to the frame, byte by byte through a frame with an
    extended length (serial_link reads exactly this many, so too many would block on the line)."""
    apdu = h("06 D3 FF 03 00 10 20 30")  # extended length 3, data with a DLE (stuffed)
    frame = encode_frame(apdu)
    assert frame[:12] == h("10 02 06 D3 FF 03 00 10 10 20 30 10")
    expected = [
        1,  # idle
        1,  # after DLE: waiting for STX
        3,  # in the frame, no APDU byte yet: CLASS INS LEN
        2,
        1,
        2,  # LEN is FF: two more length bytes
        1,
        3 + 4,  # 3 data bytes, then DLE ETX CRC CRC
        3,  # a DLE inside the data: the stuffed DLE, DLE ETX, two CRC bytes at least
        2 + 4,
        1 + 4,
        0 + 4,  # all data read: DLE ETX CRC CRC remain
        3,  # DLE of DLE ETX
        2,  # CRC low and high
        1,  # CRC high
    ]
    decoder = FrameDecoder()
    seen = []
    for byte in frame:
        seen.append(decoder.min_pending())
        decoder.feed(bytes([byte]))
    assert seen == expected
    assert decoder.min_pending() == 1 and decoder.idle


def test_min_pending_with_a_short_length() -> None:
    decoder = FrameDecoder()
    decoder.feed(h("10 02 06 01 07"))
    assert decoder.min_pending() == 7 + 4
    decoder.feed(h("04 00 00 00 00 10 10"))
    assert decoder.min_pending() == 1 + 4


def test_min_pending_when_the_sender_sends_more_than_it_announced() -> None:
    decoder = FrameDecoder()
    decoder.feed(h("10 02 80 00 00 41 42"))  # announces no data, carries two bytes
    assert decoder.min_pending() == 4  # the end of the frame at least, never a negative count
    computed = crc16_kermit(h("80 00 00 41 42 03"))
    assert decoder.feed(h("10 03 00 00")) == [FrameBad(f"CRC mismatch: frame says 0000, computed {computed:04X}")]


def test_reset_forgets_a_half_received_frame() -> None:
    decoder = FrameDecoder()
    decoder.feed(h("10 02 80 00"))
    assert decoder.in_frame and not decoder.idle
    decoder.reset()
    assert decoder.idle and not decoder.in_frame
    assert decoder.feed(GOODS_ISSUED_FRAME) == [FrameOk(GOODS_ISSUED)]
