"""The stream decoder: resynchronisation, and fuzzed input that must never break it."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.locks import cu16, cu48
from drivers.locks.codec import FrameDecoder, FrameLayout, LockCodecError

# Golden frames from hardware.md §1.1 / §1.2, paired with the layout that carries them.
CU16_REPLY = bytes.fromhex("02 00 35 FF FF 00 00 03 38")
CU48_REPLY = bytes.fromhex("02 00 00 65 07 00 00 00 00 C0 03 31")
CU16_STATUS = bytes.fromhex("02 00 30 03 35")
CU48_STATUS = bytes.fromhex("02 00 00 50 03 55")
CASES: list[tuple[FrameLayout, bytes]] = [
    (cu16.REPLY_LAYOUT, CU16_REPLY),
    (cu48.STANDARD.reply_layout, CU48_REPLY),
    (cu16.REQUEST_LAYOUT, CU16_STATUS),
    (cu48.STANDARD.request_layout, CU48_STATUS),
]
PARSERS = {
    cu16.REPLY_LAYOUT.name: cu16.parse_status_reply,
    cu48.STANDARD.reply_layout.name: cu48.parse_status_reply,
    cu16.REQUEST_LAYOUT.name: cu16.parse_request,
    cu48.STANDARD.request_layout.name: cu48.parse_request,
}

FAST = settings(max_examples=300, derandomize=True, deadline=None)
SLOW = settings(max_examples=20_000, deadline=None)


def test_byte_by_byte() -> None:
    decoder = FrameDecoder(cu16.REPLY_LAYOUT)
    out = [frame for b in CU16_REPLY for frame in decoder.feed(bytes([b]))]
    assert out == [CU16_REPLY]
    assert (decoder.rejected, decoder.skipped_bytes, decoder.pending) == (0, 0, 0)


def test_resyncs_on_stx_inside_a_rejected_frame() -> None:
    # A truncated reply runs into a complete one: the first candidate (9 bytes from the first
    # STX) has no ETX at byte 7, so only its STX is dropped and the real frame is found.
    decoder = FrameDecoder(cu16.REPLY_LAYOUT)
    out = decoder.feed(CU16_REPLY[:4] + CU16_REPLY)
    assert out == [CU16_REPLY]
    assert decoder.rejected >= 1
    assert "not ETX" in (decoder.last_error or "")


def test_stray_bytes_are_skipped_and_counted() -> None:
    decoder = FrameDecoder(cu48.STANDARD.reply_layout)
    assert decoder.feed(b"\xff\x00\x55" + CU48_REPLY + b"\x99") == [CU48_REPLY]
    assert decoder.skipped_bytes == 4


def test_bad_checksum_rejected_then_next_frame_decoded() -> None:
    decoder = FrameDecoder(cu16.REPLY_LAYOUT)
    broken = CU16_REPLY[:-1] + b"\x39"
    assert decoder.feed(broken + CU16_REPLY) == [CU16_REPLY]
    assert decoder.rejected == 1


def test_needed_counts_missing_bytes() -> None:
    decoder = FrameDecoder(cu48.STANDARD.reply_layout)
    assert decoder.needed() == 12
    decoder.feed(CU48_REPLY[:5])
    assert decoder.needed() == 7


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _prop_random_bytes_never_raise(case: int, data: bytes, cuts: list[int]) -> None:
    layout, _ = CASES[case]
    decoder = FrameDecoder(layout)
    for chunk in _chunks(data, cuts):
        for frame in decoder.feed(chunk):
            layout.check(frame)  # anything it emits is a valid frame
            try:
                PARSERS[layout.name](frame)
            except LockCodecError:
                pass  # e.g. an address out of range: the codec's own error, nothing else
    assert decoder.pending < layout.max_length


def _prop_valid_frames_after_garbage(case: int, garbage: bytes, cuts: list[int]) -> None:
    layout, frame = CASES[case]
    decoder = FrameDecoder(layout)
    out: list[bytes] = []
    for chunk in _chunks(garbage + frame * 3, cuts):
        out += decoder.feed(chunk)
    # Garbage may (rarely) swallow the start of the first copy; it never swallows them all.
    assert out[-1] == frame
    assert out.count(frame) >= 2


def _prop_corrupted_frame_detected(case: int, position: int, xor: int, cut: int) -> None:
    layout, frame = CASES[case]
    corrupted = bytearray(frame)
    corrupted[position % len(frame)] ^= xor
    truncated = frame[: cut % len(frame)]
    decoder = FrameDecoder(layout)
    assert decoder.feed(bytes(corrupted)) == []  # one changed byte is always caught
    assert decoder.feed(truncated) == []
    assert decoder.feed(frame * 2)[-1] == frame  # and the stream recovers


CASE = st.integers(0, len(CASES) - 1)
CUTS = st.lists(st.integers(0, 400), max_size=12)
given_random = given(CASE, st.binary(max_size=300), CUTS)
given_garbage = given(CASE, st.binary(max_size=60), CUTS)
given_corrupt = given(CASE, st.integers(0, 11), st.integers(1, 255), st.integers(0, 11))

test_fuzz_random_bytes = FAST(given_random(_prop_random_bytes_never_raise))
test_fuzz_valid_after_garbage = FAST(given_garbage(_prop_valid_frames_after_garbage))
test_fuzz_corrupted_and_truncated = FAST(given_corrupt(_prop_corrupted_frame_detected))
test_fuzz_random_bytes_many = pytest.mark.slow(SLOW(given_random(_prop_random_bytes_never_raise)))
test_fuzz_valid_after_garbage_many = pytest.mark.slow(SLOW(given_garbage(_prop_valid_frames_after_garbage)))
test_fuzz_corrupted_many = pytest.mark.slow(SLOW(given_corrupt(_prop_corrupted_frame_detected)))


@FAST
@given(st.binary(max_size=40))
def test_fuzz_single_frame_parsers_raise_only_codec_error(data: bytes) -> None:
    for parse in PARSERS.values():
        try:
            parse(data)
        except LockCodecError:
            pass
