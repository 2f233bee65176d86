"""Property-based round trips of the ZVT codec, and fuzzing: malformed input gives only CodecError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.zvt.apdu import Apdu, decode_apdu, encode_apdu
from payments.zvt.bmp import BMP_FORMATS, LL, LLL, TLV, decode_bmps, encode_bmps
from payments.zvt.commands import decode_command
from payments.zvt.errors import CodecError
from payments.zvt.framing import FrameDecoder, FrameOk, decode_frame, encode_frame
from payments.zvt.messages import Abort, Completion, IntermediateStatus, PrintLine, StatusInformation, parse_message
from payments.zvt.tlv import TlvItem, decode_tlv, encode_tlv, is_constructed_tag

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

apdus = st.builds(Apdu, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=700))


@FAST
@given(apdus)
def test_apdu_round_trip(apdu):
    raw = apdu.encode()
    assert decode_apdu(raw) == apdu
    assert (raw[2] == 0xFF) == (len(apdu.data) >= 255)


@st.composite
def tlv_tags(draw):
    """Well-formed BER tag bytes: single byte, or multi-byte with continuation bits."""
    if draw(st.booleans()):
        first = draw(st.integers(0, 255).filter(lambda b: b & 0x1F != 0x1F))
        return bytes([first])
    first = draw(st.integers(0, 7)) << 5 | 0x1F
    middle = draw(st.lists(st.integers(0x80, 0xFF), max_size=1))
    last = draw(st.integers(1, 0x7F))
    return bytes([first, *middle, last])


CHARSET_TAG = b"\x14"  # names the text encoding: changes how texts decode, tested in test_zvt_real_vectors


def tlv_items(depth: int = 2, *, without_charset: bool = False):
    @st.composite
    def item(draw):
        tags = tlv_tags().filter(lambda t: t != CHARSET_TAG) if without_charset else tlv_tags()
        tag = draw(tags)
        if is_constructed_tag(tag):
            child = tlv_items(depth - 1, without_charset=without_charset)
            children = draw(st.lists(child, max_size=3)) if depth > 0 else []
            value: bytes | tuple = tuple(children)
        else:
            value = draw(st.binary(max_size=300))
        return TlvItem(int.from_bytes(tag, "big"), value)

    return item()


@FAST
@given(st.lists(tlv_items(), max_size=4))
def test_tlv_round_trip(items):
    assert decode_tlv(encode_tlv(items)) == tuple(items)


@st.composite
def bmp_fields(draw):
    tag = draw(st.sampled_from(sorted(BMP_FORMATS)))
    size = BMP_FORMATS[tag].size
    if size > 0:
        value = draw(st.binary(min_size=size, max_size=size))
    elif size == LL:
        value = draw(st.binary(max_size=99))
    elif size == LLL:
        value = draw(st.binary(max_size=400))
    else:
        assert size == TLV
        value = encode_tlv(draw(st.lists(tlv_items(1), max_size=2)))
    return tag, value


@FAST
@given(st.lists(bmp_fields(), max_size=6))
def test_bmp_round_trip(fields):
    assert decode_bmps(encode_bmps(fields)) == fields


def digits(n: int):
    return st.text("0123456789", min_size=n, max_size=n)


def text(min_size: int = 0, max_size: int = 99):
    return st.binary(min_size=min_size, max_size=max_size).map(lambda b: b.decode("cp437"))


def name(max_size: int = 99):
    """A card name or AID: a NUL ends it on the wire, so it holds none."""
    return st.binary(max_size=max_size).map(lambda b: b.replace(b"\x00", b"").decode("cp437"))


def opt(strategy):
    return st.none() | strategy


status_infos = st.builds(
    StatusInformation,
    result_code=opt(st.integers(0, 255)),
    amount_cents=opt(st.integers(0, 10**12 - 1)),
    currency=opt(st.integers(0, 9999)),
    trace_no=opt(st.integers(0, 999_999)),
    original_trace_no=opt(st.integers(0, 999_999)),
    receipt_no=opt(st.integers(0, 9999)),
    turnover_no=opt(st.integers(0, 999_999)),
    terminal_id=opt(digits(8)),
    vu_number=opt(text(15, 15)),
    time=opt(digits(6)),
    date=opt(digits(4)),
    date_ymd=opt(digits(6)),
    expiry=opt(digits(4)),
    card_seq_no=opt(st.integers(0, 9999)),
    payment_type=opt(st.integers(0, 255)),
    pan=opt(st.text("0123456789*", max_size=19)),
    card_type=opt(st.integers(0, 255)),
    card_name=opt(name()),
    card_type_network=opt(st.integers(0, 255)),
    aid=opt(name(8)),
    host_result_code=opt(st.integers(0, 255)),
    additional_text=opt(text(0, 300)),
    individual_totals=opt(st.binary(max_size=60)),
    tlv=opt(st.lists(tlv_items(1, without_charset=True), max_size=2).map(tuple)),
)


@FAST
@given(status_infos)
def test_status_information_round_trip(status):
    assert parse_message(status.encode()) == status


@FAST
@given(
    st.one_of(
        st.builds(IntermediateStatus, st.integers(0, 255), opt(st.integers(1, 255))),
        # a byte 06 in a print line could start a trailing TLV container (see parsing.py)
        st.builds(PrintLine, text().filter(lambda t: "\u2660" not in t), st.integers(0, 255)),
        st.builds(Abort, st.integers(0, 255)),
        st.builds(
            Completion,
            sw_version=opt(text(0, 40)),
            terminal_status=opt(st.integers(0, 255).filter(lambda b: b not in (0x06, 0x19, 0x29, 0x49))),
            terminal_id=opt(digits(8)),
            currency=opt(st.integers(0, 9999)),
        ).filter(lambda c: c.sw_version is None or c.terminal_status is not None),
    )
)
def test_other_messages_round_trip(message):
    assert parse_message(message.encode()) == message


@FAST
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=4), st.integers(1, 17))
def test_frames_round_trip_through_the_stream_decoder(payloads, chunk):
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder()
    tokens = []
    for start in range(0, len(stream), chunk):
        tokens += decoder.feed(stream[start : start + chunk])
    assert tokens == [FrameOk(p) for p in payloads]
    for payload in payloads:
        assert decode_frame(encode_frame(payload)) == payload


def _only_codec_errors(raw: bytes) -> None:
    for decode in (decode_apdu, parse_message, decode_command, decode_frame, decode_bmps, decode_tlv):
        try:
            decode(raw)
        except CodecError:
            pass
    FrameDecoder().feed(raw)  # the stream decoder reports problems as tokens, never raises


@FAST
@given(st.binary(max_size=400))
def test_random_bytes_give_only_codec_errors(raw):
    _only_codec_errors(raw)


@FAST
@given(
    st.sampled_from(
        [
            b"\x04\x0f",
            b"\x04\xff",
            b"\x06\x0f",
            b"\x06\x1e",
            b"\x06\xd1",
            b"\x06\xd3",
            b"\x06\x00",
            b"\x06\x01",
            b"\x06\x23",
            b"\x05\x01",
            b"\x84\x9d",
        ]
    ),
    st.binary(max_size=300),
)
def test_fuzzed_apdus_give_only_codec_errors(header, data):
    _only_codec_errors(encode_apdu(header[0], header[1], data))


@FAST
@given(status_infos, st.data())
def test_mutated_frames_give_only_codec_errors(status, data):
    frame = bytearray(encode_frame(status.encode()))
    for _ in range(data.draw(st.integers(1, 4))):
        frame[data.draw(st.integers(0, len(frame) - 1))] = data.draw(st.integers(0, 255))
    _only_codec_errors(bytes(frame))
    for token in FrameDecoder().feed(bytes(frame)):
        if isinstance(token, FrameOk):
            _only_codec_errors(token.apdu)


@pytest.mark.slow
@MANY
@given(st.binary(max_size=600))
def test_random_bytes_give_only_codec_errors_many(raw):
    _only_codec_errors(raw)


@pytest.mark.slow
@MANY
@given(status_infos)
def test_status_information_round_trip_many(status):
    assert parse_message(status.encode()) == status
