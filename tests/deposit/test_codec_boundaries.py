"""The deposit machine's register codec, GS1 check digits and voucher codes at the edges of every field
(docs/deposit-machine.md, hardware.md §3.4)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from deposit.gs1 import check_digit, gtin_text, has_valid_check_digit, is_valid_gtin
from deposit.protocol import (
    Command,
    CommandResult,
    ContainerEvent,
    ContainerKind,
    Counters,
    Fault,
    MachineStatus,
    ProtocolError,
    RejectReason,
    State,
    decode_command_block,
    decode_event,
    decode_status,
    decode_summary,
    encode_command,
    encode_event,
    encode_status,
    join_words,
    next_seq,
    split_words,
)
from deposit.voucher import MAX_SERIAL, Voucher, VoucherCodeError, build_code, parse_code, random_serial

GTIN = 9520000010010  # the worked example of docs/deposit-machine.md
EVENT = ContainerEvent(1042, 87, GTIN, ContainerKind.SINGLE_USE, 25)


# -- words and sequence numbers -----------------------------------------------------------------------


def test_split_words_at_the_register_limits() -> None:
    assert split_words(0xFFFF, 1) == [0xFFFF]
    assert split_words(0x10000, 2) == [1, 0]
    assert split_words(2**32 - 1, 2) == [0xFFFF, 0xFFFF]
    assert split_words(GTIN, 4) == [0, 0x08A8, 0x8C38, 0x071A]
    for value, words in ((0x10000, 1), (2**32, 2), (-1, 2)):
        with pytest.raises(ValueError):
            split_words(value, words)


def test_join_words_is_the_inverse_and_checks_each_register() -> None:
    assert join_words([1, 0]) == 0x10000
    assert join_words([0xFFFF, 0xFFFF]) == 2**32 - 1
    assert join_words([0, 0x08A8, 0x8C38, 0x071A]) == GTIN
    assert join_words([]) == 0
    for bad in ([0x10000], [0, -1]):
        with pytest.raises(ValueError):
            join_words(bad)


def test_sequence_numbers_wrap_to_1_never_0() -> None:
    assert next_seq(0) == 1
    assert next_seq(1) == 2
    assert next_seq(0xFFFE) == 0xFFFF
    assert next_seq(0xFFFF) == 1


# -- the FIFO head -------------------------------------------------------------------------------------


def test_event_block_round_trip_at_the_limits() -> None:
    block = encode_event(2, EVENT)
    assert block == [2, 1042, 87, 0, 0x08A8, 0x8C38, 0x071A, 1, 25]
    assert decode_event(block) == EVENT
    widest = ContainerEvent(0xFFFF, 0xFFFF, 10**14 - 1, ContainerKind.CRATE, 0xFFFF)
    assert decode_event(encode_event(0xFFFF, widest)) == widest
    assert encode_event(0, None) == [0] * 9
    assert decode_event([0] * 9) is None
    assert decode_event([0, 5, 5, 0, 0, 0, 1, 1, 1]) is None  # nothing pending: the rest is stale


def test_event_block_refusals() -> None:
    for bad in (
        [1, 0, 87, 0, 0, 0, 1, 1, 25],  # pending but sequence number 0
        [1, 1, 87, 0, 0x5AF3, 0x107A, 0x4000, 1, 25],  # GTIN 10**14: 15 digits
        [1, 1, 87, 0, 0, 0, 1, 4, 25],  # container kind 4
        [1, 1, 87, 0, 0, 0, 1, 1],  # 8 registers
        [1, 1, 87, 0, 0, 0, 1, 1, 25, 0],  # 10 registers
        [1, 1, 0x10000, 0, 0, 0, 1, 1, 25],  # not a register value
    ):
        with pytest.raises(ProtocolError):
            decode_event(bad)
    assert join_words([0, 0x5AF3, 0x107A, 0x4000]) == 10**14
    assert decode_event([1, 1, 87, 0, 0x5AF3, 0x107A, 0x3FFF, 1, 25]).gtin == 10**14 - 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("decode", "registers", "message"),
    [
        (decode_event, [1, 1, 87, 0, 0, 0, 1, 1], "FIFO block HR 4..12: expected 9 registers, got 8"),
        (decode_event, [1, 1, 87, 0, 0, 0, 1, 9, 25], "HR 11: 9 is not a valid ContainerKind"),
        (decode_event, [1, 1, 87, 0, 0x5AF3, 0x107A, 0x4000, 1, 25],
         "HR 7..10: 100000000000000 has more than 14 digits"),
        (decode_event, [2, 0, 87, 0, 0, 0, 1, 1, 25], "HR 5: 2 events pending but the oldest has sequence number 0"),
        (decode_summary, [1] * 12, "summary HR 0..12: expected 13 registers, got 12"),
        (decode_summary, [1, 9, 0, 87, *[0] * 9], "HR 1: 9 is not a valid State"),
        (decode_summary, [3, 1, 0, 87, *[0] * 9], "HR 0: interface version 3, this host speaks 1"),
        (decode_summary, [1, 1, 0x0141, 87, *[0] * 9], "HR 2: undefined fault bits 0x0140"),
        (decode_status, [1] * 31, "register map HR 0..31: expected 32 registers, got 31"),
        (decode_command_block, [2, 9, 9], "command block HR 20..23: expected 4 registers, got 3"),
        (decode_command_block, [2, 9, 9, 7], "HR 23: 7 is not a valid CommandResult"),
    ],
)
def test_protocol_errors_name_the_register(decode, registers: list[int], message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode(registers)
    assert str(caught.value) == message


def test_status_errors_name_the_register() -> None:
    registers = encode_status(full_status())
    for address, value, message in (
        (1, 6, "HR 1: 6 is not a valid State"),
        (23, 5, "HR 23: 5 is not a valid CommandResult"),
        (24, 5, "HR 24: 5 is not a valid RejectReason"),
        (5, 0x10000, "register map HR 0..31: 65536 is not a 16-bit register value"),
    ):
        broken = list(registers)
        broken[address] = value
        with pytest.raises(ProtocolError) as caught:
            decode_status(broken)
        assert str(caught.value) == message


def test_event_encoding_refusals() -> None:
    with pytest.raises(ValueError):
        encode_event(1, None)
    for pending, seq in ((0, 1), (1, 0), (1, 0x10000)):
        with pytest.raises(ValueError):
            encode_event(pending, replace(EVENT, seq=seq))
    assert encode_event(1, replace(EVENT, seq=0xFFFF))[1] == 0xFFFF


def test_event_views() -> None:
    assert EVENT.key == (87, 1042)
    assert EVENT.gtin_text == "9520000010010" and EVENT.gtin_valid
    assert not replace(EVENT, gtin=GTIN + 1).gtin_valid
    assert EVENT.to_dict() == {
        "seq": 1042, "session_id": 87, "gtin": "9520000010010", "kind": "single_use", "deposit_cents": 25,
    }


# -- summary and whole map -----------------------------------------------------------------------------


def summary_block(**overrides: int) -> list[int]:
    registers = [1, int(State.SESSION), 0, 87, *encode_event(2, EVENT)]
    for index, value in overrides.items():
        registers[int(index.removeprefix("hr"))] = value
    return registers


def test_summary_decodes_state_faults_and_head() -> None:
    summary = decode_summary(summary_block(hr2=0x3F))
    assert (summary.state, summary.faults) == (State.SESSION, Fault(0x3F))
    assert (summary.session_id, summary.evt_pending) == (87, 2)
    assert summary.head == EVENT and summary.session_open
    assert decode_summary(summary_block(hr1=int(State.BUSY))).session_open
    for state in (State.READY, State.BIN_FULL, State.FAULT, State.OUT_OF_ORDER):
        assert not decode_summary(summary_block(hr1=int(state))).session_open


@pytest.mark.parametrize(
    "overrides",
    [{"hr0": 2}, {"hr0": 0}, {"hr2": 0x40}, {"hr2": 0x8000}, {"hr1": 6}],
    ids=["version 2", "version 0", "fault bit 6", "fault bit 15", "state 6"],
)
def test_summary_refuses_a_foreign_version_unknown_faults_and_states(overrides: dict[str, int]) -> None:
    with pytest.raises(ProtocolError):
        decode_summary(summary_block(**overrides))


def test_summary_needs_exactly_13_registers() -> None:
    with pytest.raises(ProtocolError):
        decode_summary(summary_block()[:12])
    with pytest.raises(ProtocolError):
        decode_summary([*summary_block(), 0])


def full_status(**changes: object) -> MachineStatus:
    status = MachineStatus(
        proto_version=1,
        state=State.SESSION,
        faults=Fault.JAM | Fault.EVENTS_LOST,
        session_id=87,
        evt_pending=16,
        fifo_capacity=16,
        boot_count=0xFFFF,
        last_ack=1041,
        cmd=int(Command.OPEN_SESSION),
        cmd_seq=7,
        cmd_done_seq=6,
        cmd_result=CommandResult.FIFO_NOT_EMPTY,
        last_reject_reason=RejectReason.NOT_TAKEN_BACK,
        counters=Counters(3, 1, 0x1_0019, 2**32 - 1, 0x2_0000, 65536),
        head=EVENT,
    )
    return replace(status, **changes)  # type: ignore[arg-type]


def test_the_whole_map_round_trips_with_wide_counters() -> None:
    status = full_status()
    registers = encode_status(status)
    assert len(registers) == 32
    assert registers[16:20] == [3, 1, 1, 0x0019]
    assert registers[26:32] == [0xFFFF, 0xFFFF, 2, 0, 1, 0]
    assert registers[13:16] == [1041, 16, 0xFFFF] and registers[20:25] == [1, 7, 6, 3, 4]
    assert decode_status(registers) == status


def test_status_views() -> None:
    status = full_status()
    assert status.session_open and status.command_pending and status.fifo_full
    assert status.fault_names() == ["jam", "events_lost"]
    assert not full_status(evt_pending=15).fifo_full
    assert not full_status(cmd_done_seq=7).command_pending
    assert not full_status(state=State.READY).session_open and full_status(state=State.BUSY).session_open
    assert full_status().to_dict() == {
        "proto_version": 1,
        "state": "session",
        "session_open": True,
        "faults": ["jam", "events_lost"],
        "session_id": 87,
        "fifo": {"pending": 16, "capacity": 16, "head": EVENT.to_dict()},
        "boot_count": 0xFFFF,
        "last_ack": 1041,
        "command": {"cmd": 1, "seq": 7, "done_seq": 6, "result": "fifo_not_empty"},
        "last_reject_reason": "not_taken_back",
        "counters": {
            "session_accepted": 3,
            "session_rejected": 1,
            "session_deposit_cents": 0x1_0019,
            "accepted_total": 2**32 - 1,
            "deposit_total_cents": 0x2_0000,
            "rejected_total": 65536,
        },
    }
    assert full_status(evt_pending=0, head=None).to_dict()["fifo"]["head"] is None


def test_status_refusals() -> None:
    registers = encode_status(full_status())
    for address, value in ((0, 2), (2, 0x40), (23, 5), (24, 5), (1, 6)):
        broken = list(registers)
        broken[address] = value
        with pytest.raises(ProtocolError):
            decode_status(broken)
    with pytest.raises(ProtocolError):
        decode_status(registers[:31])
    with pytest.raises(ValueError):
        encode_status(full_status(boot_count=0x10000))
    with pytest.raises(ValueError):
        encode_status(full_status(counters=Counters(0, 0, 2**32, 0, 0, 0)))


def test_command_block_and_command_encoding() -> None:
    assert decode_command_block([2, 9, 9, 0]) == (2, 9, 9, CommandResult.DONE)
    for bad in ([2, 9, 9, 5], [2, 9, 9], [2, 9, 9, 0, 0]):
        with pytest.raises(ProtocolError):
            decode_command_block(bad)
    assert encode_command(Command.CLOSE_SESSION, 1) == [2, 1]
    assert encode_command(Command.BACK_IN_SERVICE, 0xFFFF) == [6, 0xFFFF]
    for seq in (0, 0x10000):
        with pytest.raises(ValueError):
            encode_command(Command.OPEN_SESSION, seq)


# -- GS1 check digits ------------------------------------------------------------------------------------


def test_check_digits_of_known_codes() -> None:
    assert check_digit("400638133393") == 1  # EAN-13 4006381333931
    assert check_digit("9520000010010"[:-1]) == 0
    assert check_digit("9638507") == 4  # GTIN-8 96385074
    assert check_digit("0") == 0 and check_digit("1") == 7
    for bad in ("12a", "１２", "٣"):
        with pytest.raises(ValueError):
            check_digit(bad)


def test_has_valid_check_digit() -> None:
    assert has_valid_check_digit("4006381333931")
    assert has_valid_check_digit("96385074")
    assert has_valid_check_digit("17")  # the shortest code: one data digit and its check digit
    assert not has_valid_check_digit("4006381333932")
    for bad in ("", "1", "12a3", "١٧"):
        assert not has_valid_check_digit(bad)


def test_gtin_text_and_validity_at_13_and_14_digits() -> None:
    assert gtin_text(96385074) == "0000096385074"
    assert gtin_text(10**13 - 1) == "9999999999999"
    assert gtin_text(10**13) == "10000000000000"
    assert gtin_text(0) == "0000000000000"
    for bad in (10**14, -1):
        with pytest.raises(ValueError):
            gtin_text(bad)
    assert is_valid_gtin(96385074) and is_valid_gtin(GTIN)
    assert is_valid_gtin(10000000000007)  # 14 digits
    assert not is_valid_gtin(0) and not is_valid_gtin(10**14) and not is_valid_gtin(GTIN + 1)
    assert has_valid_check_digit("100000000000009")  # 15 digits with a right check digit: still no GTIN
    assert not is_valid_gtin(100000000000009)


# -- voucher codes ----------------------------------------------------------------------------------------


def test_voucher_example_and_limits() -> None:
    assert build_code(29, 4711, 175) == "2900471101757"  # hardware.md §3.4
    assert Voucher(29, 4711, 175).code == "2900471101757"
    assert build_code(20, 0, 1)[:12] == "200000000001"
    assert build_code(29, MAX_SERIAL, 9999)[:12] == "299999999999"
    refused = ((19, 1, 1), (30, 1, 1), (29, -1, 1), (29, MAX_SERIAL + 1, 1), (29, 1, 0), (29, 1, 10000))
    for prefix, serial, cents in refused:
        with pytest.raises(VoucherCodeError):
            build_code(prefix, serial, cents)


def test_voucher_parsing() -> None:
    assert parse_code(" 2900471101757\n", 29) == Voucher(29, 4711, 175)
    assert parse_code(build_code(20, 0, 1), 20) == Voucher(20, 0, 1)
    assert parse_code(build_code(29, MAX_SERIAL, 9999), 29) == Voucher(29, MAX_SERIAL, 9999)
    zero = "290047110000"
    for code, prefix in (
        ("2900471101758", 29),  # wrong check digit
        ("2900471101757", 28),  # another station's prefix
        ("290047110175", 29),  # 12 digits
        ("29004711017570", 29),  # 14 digits
        ("29004711017a7", 29),
        (zero + str(check_digit(zero)), 29),  # 0.00 €
        ("2900471101757", 30),  # not a restricted prefix
    ):
        with pytest.raises(VoucherCodeError):
            parse_code(code, prefix)


def test_random_serials_skip_taken_ones_and_give_up_when_all_are_taken() -> None:
    rng = random.Random(7)
    first = random_serial(random.Random(7))
    taken = {first}
    second = random_serial(rng, lambda serial: serial in taken)
    assert second != first and 1 <= second <= MAX_SERIAL
    draws = [random_serial(random.Random(seed)) for seed in range(200)]
    assert all(1 <= s <= MAX_SERIAL for s in draws) and len(set(draws)) > 190
    with pytest.raises(RuntimeError):
        random_serial(random.Random(1), lambda _serial: True)
    calls = []

    def taken_until_the_1000th(serial: int) -> bool:
        calls.append(serial)
        return len(calls) < 1000

    assert random_serial(random.Random(1), taken_until_the_1000th) == calls[-1]
    assert len(calls) == 1000
