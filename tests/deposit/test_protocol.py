"""Interface v1 codec: golden register blocks, round trips, word order, refusal of malformed blocks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deposit.protocol import (
    REGISTER_COUNT,
    Command,
    CommandResult,
    ContainerEvent,
    ContainerKind,
    Counters,
    Fault,
    MachineStatus,
    MachineSummary,
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

# The worked example of docs/deposit-machine.md, written out register by register (not produced by the codec):
# session 87 open, events 1042 and 1043 pending, the oldest a single-use bottle with GTIN 9520000010010 (0.25 €).
GOLDEN_MAP = [
    1,  # HR 0 proto_version
    1,  # HR 1 state: session open
    0,  # HR 2 fault bits
    87,  # HR 3 session_id
    2,  # HR 4 evt_pending
    1042,  # HR 5 evt_seq
    87,  # HR 6 evt_session
    0x0000, 0x08A8, 0x8C38, 0x071A,  # HR 7-10 GTIN 9520000010010 = 0x0000_08A8_8C38_071A, high word first
    1,  # HR 11 kind: single-use
    25,  # HR 12 deposit cents
    1041,  # HR 13 last ack
    32,  # HR 14 FIFO capacity
    3,  # HR 15 boot count
    5, 1,  # HR 16-17 session accepted, rejected
    0x0000, 98,  # HR 18-19 session deposit 0.98 €
    1, 212, 212, 0,  # HR 20-23 cmd open, cmd_seq 212, done 212, result done
    2,  # HR 24 last reject: no deposit mark
    0,  # HR 25 reserved
    0x0001, 0x1170,  # HR 26-27 accepted_total 70000
    0x0012, 0xD687,  # HR 28-29 deposit_total_cents 1234567
    0x0000, 0x10E1,  # HR 30-31 rejected_total 4321
]
GOLDEN_EVENT = ContainerEvent(
    seq=1042, session_id=87, gtin=9520000010010, kind=ContainerKind.SINGLE_USE, deposit_cents=25
)
GOLDEN_STATUS = MachineStatus(
    proto_version=1,
    state=State.SESSION,
    faults=Fault(0),
    session_id=87,
    evt_pending=2,
    fifo_capacity=32,
    boot_count=3,
    last_ack=1041,
    cmd=1,
    cmd_seq=212,
    cmd_done_seq=212,
    cmd_result=CommandResult.DONE,
    last_reject_reason=RejectReason.NO_DEPOSIT_MARK,
    counters=Counters(5, 1, 98, 70000, 1234567, 4321),
    head=GOLDEN_EVENT,
)


def test_golden_map_decodes_and_encodes_back() -> None:
    assert len(GOLDEN_MAP) == REGISTER_COUNT
    assert decode_status(GOLDEN_MAP) == GOLDEN_STATUS
    assert encode_status(GOLDEN_STATUS) == GOLDEN_MAP
    assert GOLDEN_STATUS.session_open and not GOLDEN_STATUS.command_pending and not GOLDEN_STATUS.fifo_full


def test_golden_fifo_block() -> None:
    block = GOLDEN_MAP[4:13]
    assert decode_event(block) == GOLDEN_EVENT
    assert encode_event(2, GOLDEN_EVENT) == block
    assert GOLDEN_EVENT.gtin_text == "9520000010010" and GOLDEN_EVENT.gtin_valid and GOLDEN_EVENT.key == (87, 1042)


def test_golden_summary_block() -> None:
    summary = decode_summary(GOLDEN_MAP[:13])
    assert summary == MachineSummary(State.SESSION, Fault(0), 87, 2, GOLDEN_EVENT) and summary.session_open
    with pytest.raises(ProtocolError, match="interface version 2"):
        decode_summary([2, *GOLDEN_MAP[1:13]])


def test_empty_fifo_is_no_event() -> None:
    assert decode_event([0] * 9) is None
    assert encode_event(0, None) == [0] * 9


def test_faults_and_states_decode() -> None:
    block = list(GOLDEN_MAP)
    block[1], block[2] = 4, 0b100110  # fault: jam, door open, events lost
    status = decode_status(block)
    assert status.state is State.FAULT and not status.session_open
    assert status.faults == Fault.JAM | Fault.DOOR_OPEN | Fault.EVENTS_LOST
    assert status.fault_names() == ["jam", "door_open", "events_lost"]


def test_word_order_is_high_word_first() -> None:
    assert split_words(0x0001_1170, 2) == [0x0001, 0x1170]
    assert split_words(9520000010010, 4) == [0x0000, 0x08A8, 0x8C38, 0x071A]
    assert join_words([0x0012, 0xD687]) == 1234567
    with pytest.raises(ValueError):
        split_words(1 << 32, 2)


def test_sequence_numbers_wrap_past_zero() -> None:
    assert next_seq(0) == 1 and next_seq(1041) == 1042
    assert next_seq(65534) == 65535 and next_seq(65535) == 1


def test_command_encoding() -> None:
    assert encode_command(Command.OPEN_SESSION, 213) == [1, 213]
    assert encode_command(Command.RESET_FAULTS, 65535) == [4, 65535]
    with pytest.raises(ValueError):
        encode_command(Command.CLOSE_SESSION, 0)
    assert decode_command_block([2, 214, 213, 0]) == (2, 214, 213, CommandResult.DONE)


@pytest.mark.parametrize(
    ("register", "value", "message"),
    [
        (0, 2, "interface version 2"),
        (1, 9, "9 is not a valid State"),
        (2, 0x0040, "undefined fault bits 0x0040"),
        (11, 4, "4 is not a valid ContainerKind"),
        (23, 7, "7 is not a valid CommandResult"),
        (24, 5, "5 is not a valid RejectReason"),
        (5, 0, "2 events pending but the oldest has sequence number 0"),
        (7, 0x0FFF, "has more than 14 digits"),
    ],
)
def test_malformed_map_is_a_protocol_error(register: int, value: int, message: str) -> None:
    block = list(GOLDEN_MAP)
    block[register] = value
    with pytest.raises(ProtocolError, match=message):
        decode_status(block)


def test_wrong_block_length_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="expected 32 registers, got 31"):
        decode_status(GOLDEN_MAP[:-1])
    with pytest.raises(ProtocolError, match="expected 9 registers"):
        decode_event(GOLDEN_MAP[4:12])


seqs = st.integers(1, 0xFFFF)
events = st.builds(
    ContainerEvent,
    seq=seqs,
    session_id=st.integers(0, 0xFFFF),
    gtin=st.integers(0, 10**14 - 1),
    kind=st.sampled_from(ContainerKind),
    deposit_cents=st.integers(0, 0xFFFF),
)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)


@st.composite
def statuses(draw: st.DrawFn) -> MachineStatus:
    head = draw(st.none() | events)
    return MachineStatus(
        proto_version=1,
        state=draw(st.sampled_from(State)),
        faults=Fault(draw(st.integers(0, 0b111111))),
        session_id=draw(u16),
        evt_pending=draw(st.integers(1, 0xFFFF)) if head else 0,
        fifo_capacity=draw(u16),
        boot_count=draw(u16),
        last_ack=draw(u16),
        cmd=draw(u16),
        cmd_seq=draw(u16),
        cmd_done_seq=draw(u16),
        cmd_result=draw(st.sampled_from(CommandResult)),
        last_reject_reason=draw(st.sampled_from(RejectReason)),
        counters=Counters(draw(u16), draw(u16), draw(u32), draw(u32), draw(u32), draw(u32)),
        head=head,
    )


@given(statuses())
def test_status_round_trip(status: MachineStatus) -> None:
    registers = encode_status(status)
    assert len(registers) == REGISTER_COUNT and all(0 <= r <= 0xFFFF for r in registers)
    assert decode_status(registers) == status


@given(events, st.integers(1, 0xFFFF))
def test_event_round_trip(event: ContainerEvent, pending: int) -> None:
    assert decode_event(encode_event(pending, event)) == event
