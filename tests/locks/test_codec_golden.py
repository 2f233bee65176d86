"""Golden frames from hardware.md §1.1 (CU48, Kerong V2.1) and §1.2 (CU16), both directions."""

from __future__ import annotations

import pytest

from drivers.locks import cu16, cu48
from drivers.locks.codec import LockCodecError, checksum
from drivers.locks.status import BoardSpec, decode_board_status


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Reference vectors (hardware.md), copied as printed there.
CU48_STATUS_BOARD0 = h("02 00 00 50 03 55")
CU48_REPLY_EXAMPLE = h("02 00 00 65 07 00 00 00 00 C0 03 31")  # locks 1, 2, 3, 47, 48 locked
CU48_UNLOCK_BOARD0_LOCK1 = h("02 00 00 51 03 56")
CU16_STATUS_BOARD0 = h("02 00 30 03 35")
CU16_UNLOCK_BOARD0_LOCK1 = h("02 00 31 03 36")
CU16_REPLY_ALL_LOCKED = h("02 00 35 FF FF 00 00 03 38")

GOLDEN = [
    CU48_STATUS_BOARD0,
    CU48_REPLY_EXAMPLE,
    CU48_UNLOCK_BOARD0_LOCK1,
    CU16_STATUS_BOARD0,
    CU16_UNLOCK_BOARD0_LOCK1,
    CU16_REPLY_ALL_LOCKED,
]


@pytest.mark.parametrize("frame", GOLDEN, ids=lambda f: f.hex(" "))
def test_reference_checksums(frame: bytes) -> None:
    assert checksum(frame[:-1]) == frame[-1]


def test_cu48_encode_matches_reference() -> None:
    assert cu48.encode_status_request(0) == CU48_STATUS_BOARD0
    assert cu48.encode_unlock(0, 1) == CU48_UNLOCK_BOARD0_LOCK1
    hooks = CU48_REPLY_EXAMPLE[4:10]
    assert cu48.encode_status_reply(0, hooks) == CU48_REPLY_EXAMPLE


def test_cu48_parse_reference() -> None:
    assert cu48.parse_request(CU48_STATUS_BOARD0) == cu48.Cu48Request(0, 1, "status")
    assert cu48.parse_request(CU48_UNLOCK_BOARD0_LOCK1) == cu48.Cu48Request(0, 1, "unlock")
    reply = cu48.parse_status_reply(CU48_REPLY_EXAMPLE)
    assert reply.address == 0
    assert reply.hooks == h("07 00 00 00 00 C0")


def test_cu48_reference_example_decodes_to_documented_locks() -> None:
    reply = cu48.parse_status_reply(CU48_REPLY_EXAMPLE)
    status = decode_board_status(BoardSpec(0), 48, reply.hooks)
    assert status.locked() == [1, 2, 3, 47, 48]
    assert len(status.unlocked()) == 43
    inverted = decode_board_status(BoardSpec(0, hook_locked_bit=0), 48, reply.hooks)
    assert inverted.unlocked() == [1, 2, 3, 47, 48]


def test_cu16_encode_matches_reference() -> None:
    assert cu16.encode_status_request(0) == CU16_STATUS_BOARD0
    assert cu16.encode_unlock(0, 1) == CU16_UNLOCK_BOARD0_LOCK1
    assert cu16.encode_status_reply(0x00, h("FF FF"), h("00 00")) == CU16_REPLY_ALL_LOCKED


def test_cu16_parse_reference() -> None:
    assert cu16.parse_request(CU16_STATUS_BOARD0) == cu16.Cu16Request(0, None, "status", 0x00)
    assert cu16.parse_request(CU16_UNLOCK_BOARD0_LOCK1) == cu16.Cu16Request(0, 1, "unlock", 0x00)
    reply = cu16.parse_status_reply(CU16_REPLY_ALL_LOCKED)
    assert (reply.board, reply.hooks, reply.items) == (0, h("FF FF"), h("00 00"))
    status = decode_board_status(BoardSpec(0), 16, reply.hooks, reply.items)
    assert status.locked() == list(range(1, 17))
    assert all(s.item_present is None for s in status.locks)  # no sensors configured


# Frames below are computed by hand from the documented layouts (not printed in the reference):
# SUM = low byte of the sum of the bytes before it.
HAND = [
    # CU16: ADDR high nibble = board 3, low nibble F = lock 16; 02+3F+31+03 = 75
    (lambda: cu16.encode_unlock(3, 16), "02 3F 31 03 75"),
    # CU16 unlock-all board 1: 02+10+33+03 = 48
    (lambda: cu16.encode_unlock_all(1), "02 10 33 03 48"),
    # CU48 board 9, lock 48 = LOCKNUM 2F: 02+09+2F+51+03 = 8E
    (lambda: cu48.encode_unlock(9, 48), "02 09 2F 51 03 8E"),
    # CU48 broadcast status (ADDR 0A): 02+0A+00+50+03 = 5F
    (lambda: cu48.encode_status_request(cu48.BROADCAST), "02 0A 00 50 03 5F"),
    # CU48 "alt" dialect (60/61): 02+60+03 = 65; 02+61+03 = 66
    (lambda: cu48.encode_status_request(0, cu48.ALT), "02 00 00 60 03 65"),
    (lambda: cu48.encode_unlock(0, 1, cu48.ALT), "02 00 00 61 03 66"),
]


@pytest.mark.parametrize(("encode", "expected"), HAND, ids=[e for _, e in HAND])
def test_hand_computed_frames(encode, expected: str) -> None:
    assert encode() == h(expected)


def test_cu16_reply_matches_on_board_nibble() -> None:
    # Reply to "unlock lock 3 of board 1" echoes ADDR 12: 02+12+35+FB+FF+00+00+03 = 0x246 -> 46
    reply = cu16.parse_status_reply(h("02 12 35 FB FF 00 00 03 46"))
    assert reply.board == 1
    status = decode_board_status(BoardSpec(1), 16, reply.hooks, reply.items)
    assert status.unlocked() == [3]


def test_cu16_item_sensors() -> None:
    # D3 = 05: items in compartments 1 and 3; 02+00+35+FF+FF+05+00+03 = 0x23D -> 3D
    reply = cu16.parse_status_reply(h("02 00 35 FF FF 05 00 03 3D"))
    status = decode_board_status(BoardSpec(0, item_sensors=True), 16, reply.hooks, reply.items)
    assert [n for n in range(1, 17) if status.lock(n).item_present] == [1, 3]


def test_cu48_alt_dialect_reply() -> None:
    # The documented example with the alt reply command 75: checksum 31 + 10 = 41
    frame = h("02 00 00 75 07 00 00 00 00 C0 03 41")
    assert cu48.parse_status_reply(frame, cu48.ALT).hooks == h("07 00 00 00 00 C0")
    with pytest.raises(LockCodecError, match="unknown command 75"):
        cu48.parse_status_reply(frame)
    with pytest.raises(LockCodecError, match="unknown command 65"):
        cu48.parse_status_reply(CU48_REPLY_EXAMPLE, cu48.ALT)


BAD = [
    (cu48.parse_status_reply, h("02 00 00 65 07 00 00 00 00 C0 03 32"), "checksum 32, expected 31"),
    (cu48.parse_status_reply, h("02 00 00 65 07 00 00 00 00 C0 03"), "has 11 bytes, expected 12"),
    (cu48.parse_status_reply, h("02 00 00 65 07 00 00 00 00 C0 04 32"), "not ETX"),
    (cu48.parse_status_reply, h("03 00 00 65 07 00 00 00 00 C0 03 32"), "not STX"),
    (cu48.parse_status_reply, h("02 0B 00 65 07 00 00 00 00 C0 03 3C"), "address 0B"),
    (cu48.parse_request, h("02 00 00 52 03 57"), "unknown command 52"),
    (cu48.parse_request, h("02 00 31 51 03 87"), "LOCKNUM 31"),
    (cu16.parse_status_reply, h("02 00 35 FF FF 00 00 03 39"), "checksum 39, expected 38"),
    (cu16.parse_status_reply, h("02 00 30 03 35"), "unknown command 30"),
    (cu16.parse_request, h("02 00 30 03"), "too short|has 4 bytes"),
    (cu16.parse_request, h(""), "too short"),
]


@pytest.mark.parametrize(("parse", "frame", "message"), BAD, ids=[m for _, _, m in BAD])
def test_parsers_reject_with_codec_error(parse, frame: bytes, message: str) -> None:
    with pytest.raises(LockCodecError, match=message):
        parse(frame)


def test_encoders_refuse_wrong_numbers() -> None:
    with pytest.raises(ValueError, match="0-9"):
        cu48.encode_unlock(cu48.BROADCAST, 1)  # never broadcast an unlock
    with pytest.raises(ValueError, match="1-48"):
        cu48.encode_unlock(0, 0)
    with pytest.raises(ValueError, match="1-16"):
        cu16.encode_unlock(0, 17)
    with pytest.raises(ValueError, match="0-15"):
        cu16.encode_status_request(16)
