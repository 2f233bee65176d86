"""Lock-board codecs at the edges of every address and length field (hardware.md §1.1, §1.2).

Frames are computed by hand from the documented layouts: SUM = low byte of the sum of the bytes
before it (written out next to each frame).
"""

from __future__ import annotations

import pytest

from drivers.locks import cu16, cu48
from drivers.locks.codec import FrameDecoder, FrameLayout, LockCodecError, bits_to_flags, checksum, flags_to_bits, seal


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# -- CU16: board 0-15 in the high nibble, lock 1-16 in the low nibble ---------------------------------


def test_cu16_board_15_is_the_last_board() -> None:
    assert cu16.encode_status_request(15) == h("02 F0 30 03 25")  # 02+F0+30+03 = 125
    assert cu16.encode_unlock(15, 1) == h("02 F0 31 03 26")  # 02+F0+31+03 = 126
    assert cu16.encode_unlock(15, 16) == h("02 FF 31 03 35")  # ADDR FF: board 15, lock 16
    assert cu16.encode_unlock_all(15) == h("02 F0 33 03 28")
    for encode in (cu16.encode_status_request, cu16.encode_unlock_all, lambda b: cu16.encode_unlock(b, 1)):
        with pytest.raises(ValueError):
            encode(16)
        with pytest.raises(ValueError):
            encode(-1)


def test_cu16_board_0_is_the_first_board() -> None:
    assert cu16.encode_unlock(0, 16) == h("02 0F 31 03 45")  # 02+0F+31+03 = 45
    assert cu16.encode_unlock_all(0) == h("02 00 33 03 38")


@pytest.mark.parametrize("lock", [0, 17, -1])
def test_cu16_lock_numbers_outside_1_to_16_are_refused(lock: int) -> None:
    with pytest.raises(ValueError):
        cu16.encode_unlock(3, lock)


def test_cu16_requests_decode_at_the_boundaries() -> None:
    assert cu16.parse_request(h("02 FF 31 03 35")) == cu16.Cu16Request(15, 16, "unlock", 0xFF)
    assert cu16.parse_request(h("02 F0 31 03 26")) == cu16.Cu16Request(15, 1, "unlock", 0xF0)
    assert cu16.parse_request(h("02 F0 30 03 25")) == cu16.Cu16Request(15, None, "status", 0xF0)
    assert cu16.parse_request(h("02 F0 33 03 28")) == cu16.Cu16Request(15, None, "unlock_all", 0xF0)
    assert cu16.parse_request(h("02 0F 31 03 45")) == cu16.Cu16Request(0, 16, "unlock", 0x0F)


def test_cu16_reply_of_board_15() -> None:
    frame = cu16.encode_status_reply(0xFF, h("01 80"), h("02 40"))
    assert frame == h("02 FF 35 01 80 02 40 03 FC")  # 02+FF+35+01+80+02+40+03 = 1FC
    reply = cu16.parse_status_reply(frame)
    assert (reply.board, reply.hooks, reply.items) == (15, h("01 80"), h("02 40"))
    assert cu16.encode_status_reply(0x00, h("00 00")) == h("02 00 35 00 00 00 00 03 3A")  # items default 00 00


@pytest.mark.parametrize("address", [0x100, -1])
def test_cu16_reply_address_must_be_one_byte(address: int) -> None:
    with pytest.raises(ValueError, match="CU16 ADDR must be one byte"):
        cu16.encode_status_reply(address, h("00 00"))


@pytest.mark.parametrize(("hooks", "items"), [(h("00"), h("00 00")), (h("00 00 00"), h("00 00")),
                                              (h("00 00"), h("00")), (h("00 00"), h("00 00 00"))])
def test_cu16_reply_carries_exactly_two_plus_two_bytes(hooks: bytes, items: bytes) -> None:
    with pytest.raises(ValueError):
        cu16.encode_status_reply(0, hooks, items)


def test_cu16_unconfirmed_commands_are_refused() -> None:
    for cmd in (0x32, 0x37, 0x39):
        frame = seal(bytes([0x02, 0x00, cmd]))
        with pytest.raises(LockCodecError, match=f"unknown command {cmd:02X}"):
            cu16.parse_request(frame)


# -- CU48: board 0-9, 0A broadcast (status only), LOCKNUM 00-2F, 30 = all locks -------------------------


def test_cu48_address_errors_say_what_is_allowed() -> None:
    with pytest.raises(ValueError, match=r"^CU48 board address must be 0-9 or 10 \(broadcast\), not 11$"):
        cu48.encode_status_request(11)
    with pytest.raises(ValueError, match=r"^CU48 board address must be 0-9, not 10$"):
        cu48.encode_unlock(10, 1)


def test_cu48_board_9_and_broadcast() -> None:
    assert cu48.encode_status_request(9) == h("02 09 00 50 03 5E")  # 02+09+50+03 = 5E
    assert cu48.encode_status_request(cu48.BROADCAST) == h("02 0A 00 50 03 5F")
    assert cu48.encode_unlock(9, 1) == h("02 09 00 51 03 5F")
    for bad in (11, -1):
        with pytest.raises(ValueError):
            cu48.encode_status_request(bad)
    for bad in (cu48.BROADCAST, 11, -1):  # an unlock is never broadcast
        with pytest.raises(ValueError):
            cu48.encode_unlock(bad, 1)


@pytest.mark.parametrize("lock", [0, 49, -1])
def test_cu48_lock_numbers_outside_1_to_48_are_refused(lock: int) -> None:
    with pytest.raises(ValueError):
        cu48.encode_unlock(0, lock)


def test_cu48_lock_48_is_locknum_2f() -> None:
    assert cu48.encode_unlock(0, 48) == h("02 00 2F 51 03 85")  # 02+2F+51+03 = 85
    assert cu48.parse_request(h("02 00 2F 51 03 85")) == cu48.Cu48Request(0, 48, "unlock")


def test_cu48_locknum_30_means_all_locks() -> None:
    # 02+00+30+51+03 = 86 and 02+00+30+50+03 = 85
    assert cu48.parse_request(h("02 00 30 51 03 86")) == cu48.Cu48Request(0, None, "unlock")
    assert cu48.parse_request(h("02 00 30 50 03 85")) == cu48.Cu48Request(0, None, "status")
    with pytest.raises(LockCodecError, match="LOCKNUM 31"):
        cu48.parse_request(h("02 00 31 51 03 87"))


def test_cu48_request_addresses_up_to_broadcast() -> None:
    assert cu48.parse_request(h("02 0A 00 50 03 5F")) == cu48.Cu48Request(cu48.BROADCAST, 1, "status")
    assert cu48.parse_request(h("02 09 00 51 03 5F")) == cu48.Cu48Request(9, 1, "unlock")
    with pytest.raises(LockCodecError, match="address 0B"):
        cu48.parse_request(h("02 0B 00 50 03 60"))


def test_cu48_alt_dialect_requests() -> None:
    assert cu48.parse_request(h("02 00 00 61 03 66"), cu48.ALT) == cu48.Cu48Request(0, 1, "unlock")
    assert cu48.parse_request(h("02 00 00 60 03 65"), cu48.ALT) == cu48.Cu48Request(0, 1, "status")
    assert cu48.ALT.request_layout.name == "cu48-alt request"
    assert cu48.STANDARD.reply_layout.name == "cu48-standard reply"


def test_cu48_reply_addresses_and_locknum() -> None:
    hooks = h("01 00 00 00 00 80")
    frame = cu48.encode_status_reply(9, hooks)
    assert frame == h("02 09 00 65 01 00 00 00 00 80 03 F4")  # 02+09+65+01+80+03 = F4
    assert cu48.parse_status_reply(frame) == cu48.Cu48StatusReply(9, hooks)
    # LOCKNUM is meaningless in a reply; a simulator may echo any value, kept to one byte
    assert cu48.encode_status_reply(0, bytes(6), locknum=0x130)[2] == 0x30
    with pytest.raises(ValueError):
        cu48.encode_status_reply(cu48.BROADCAST, hooks)  # a reply comes from one board
    with pytest.raises(LockCodecError, match="address 0A"):
        cu48.parse_status_reply(h("02 0A 00 65 00 00 00 00 00 00 03 74"))


@pytest.mark.parametrize("size", [5, 7])
def test_cu48_reply_carries_exactly_six_hook_bytes(size: int) -> None:
    with pytest.raises(ValueError):
        cu48.encode_status_reply(0, bytes(size))


# -- shared framing -----------------------------------------------------------------------------------


def test_checksum_keeps_the_low_byte() -> None:
    assert checksum(h("FF 02")) == 0x01
    assert checksum(b"") == 0
    assert seal(h("02 00 30")) == h("02 00 30 03 35")


def test_layout_limits_and_problems() -> None:
    layout = cu48.STANDARD.reply_layout
    assert (layout.min_length, layout.max_length) == (12, 12)
    assert (cu16.REQUEST_LAYOUT.min_length, cu16.REQUEST_LAYOUT.max_length) == (5, 5)
    mixed = FrameLayout("mixed", 1, {0x30: 5, 0x35: 9})
    assert (mixed.min_length, mixed.max_length) == (5, 9)
    assert layout.problem(h("02 00 00")) == "cu48-standard reply: frame of 3 bytes is too short"
    assert layout.problem(h("02 00 00 65")) == "cu48-standard reply: command 65 frame has 4 bytes, expected 12"
    frame = h("02 00 00 65 07 00 00 00 00 C0 03 31")
    assert layout.problem(frame) is None
    assert layout.problem(frame[:-2] + h("04 31")) == "cu48-standard reply: byte 10 is 04, not ETX 03"
    assert layout.problem(frame[:-1] + h("32")) == "cu48-standard reply: checksum 32, expected 31"
    assert layout.problem(h("05") + frame[1:]) == "cu48-standard reply: frame starts with 05, not STX 02"
    assert layout.problem(frame[:3] + h("66") + frame[4:]) == "cu48-standard reply: unknown command 66"


def test_decoder_needs_at_least_one_byte_and_counts_the_rest() -> None:
    decoder = FrameDecoder(cu16.REPLY_LAYOUT)
    assert decoder.needed() == 9
    decoder.feed(h("02 00"))
    assert decoder.needed() == 7
    decoder.feed(h("35"))  # command known: the reply is 9 bytes
    assert decoder.needed() == 6
    decoder.feed(h("FF FF 00 00 03"))
    assert decoder.needed() == 1
    assert decoder.feed(h("38")) == [h("02 00 35 FF FF 00 00 03 38")]
    assert decoder.needed() == 9 and decoder.pending == 0


def test_decoder_with_an_unknown_command_guesses_the_shortest_frame() -> None:
    decoder = FrameDecoder(FrameLayout("mixed", 2, {0x30: 5, 0x35: 9}))
    decoder._buf += h("02 00 99")  # held back without feed(): the rejection path is tested elsewhere
    assert decoder.needed() == 2


def test_decoder_rejects_an_unknown_command_and_resyncs_on_the_next_stx() -> None:
    decoder = FrameDecoder(cu16.REPLY_LAYOUT)
    out = decoder.feed(h("02 00 99 02 00 35 FF FF 00 00 03 38"))
    assert out == [h("02 00 35 FF FF 00 00 03 38")]
    assert (decoder.rejected, decoder.frames, decoder.skipped_bytes) == (1, 1, 2)
    assert decoder.last_error == "cu16 reply: unknown command 99"


def test_decoder_waits_for_the_command_byte() -> None:
    decoder = FrameDecoder(cu48.STANDARD.reply_layout)
    assert decoder.feed(h("02 00 00")) == []
    assert decoder.pending == 3 and decoder.rejected == 0 and decoder.skipped_bytes == 0


def test_decoder_reset_drops_held_bytes_and_keeps_counters() -> None:
    decoder = FrameDecoder(cu16.REPLY_LAYOUT)
    decoder.feed(h("41 02 00 35"))
    assert (decoder.pending, decoder.skipped_bytes) == (3, 1)
    decoder.reset()
    assert (decoder.pending, decoder.skipped_bytes) == (0, 1)
    assert decoder.feed(h("02 00 35 FF FF 00 00 03 38")) == [h("02 00 35 FF FF 00 00 03 38")]
    assert decoder.frames == 1


def test_bits_and_flags_at_the_last_lock() -> None:
    flags = [False] * 48
    flags[0] = flags[47] = True
    assert flags_to_bits(flags, 6) == h("01 00 00 00 00 80")
    assert bits_to_flags(h("01 00 00 00 00 80"), 48) == flags
    assert bits_to_flags(h("FF 01"), 9) == [True] * 9
    assert flags_to_bits([True] * 9, 2) == h("FF 01")
    assert flags_to_bits([], 2) == h("00 00")


def test_decoder_counters_from_a_fresh_start() -> None:
    decoder = FrameDecoder(cu16.REPLY_LAYOUT)
    assert (decoder.frames, decoder.rejected, decoder.skipped_bytes, decoder.last_error) == (0, 0, 0, None)
    good = h("02 00 35 FF FF 00 00 03 38")
    bad_sum = good[:-1] + h("39")
    assert decoder.feed(bad_sum + bad_sum + good + good) == [good, good]
    assert (decoder.frames, decoder.rejected) == (2, 2)
    assert decoder.last_error == "cu16 reply: checksum 39, expected 38"


def test_needed_uses_the_length_of_the_command_once_it_is_known() -> None:
    decoder = FrameDecoder(FrameLayout("mixed", 2, {0x30: 5, 0x35: 9}))
    decoder.feed(h("02 00"))
    assert decoder.needed() == 3  # the shortest frame until the command byte is in
    decoder.feed(h("35"))
    assert decoder.needed() == 6
    late = FrameDecoder(FrameLayout("late", 3, {0x10: 3}))  # a layout whose command comes after its shortest frame
    late.feed(h("02 00 00"))
    assert late.needed() == 1
