"""The DLE EOT status codec: every documented byte, invalid bytes, and how a round is judged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.printer import Fault, InvalidStatusByte, assess, decode, is_valid
from drivers.printer.status import ErrorCause, OfflineCause, PaperState, PrinterState


def test_validity_is_exactly_the_fixed_bits() -> None:
    valid = [b for b in range(256) if is_valid(b)]
    assert len(valid) == 16  # 4 free bits (2, 3, 5, 6)
    assert all(b & 0x12 == 0x12 and b & 0x81 == 0 for b in valid)
    assert 0x12 in valid and 0x7E in valid and 0x00 not in valid and 0xFF not in valid


@pytest.mark.parametrize(
    ("n", "byte", "expected"),
    [
        (1, 0x12, PrinterState(offline=False, drawer_pin3_high=False, waiting_for_recovery=False,
                               feed_button_pressed=False)),
        (1, 0x1A, PrinterState(offline=True, drawer_pin3_high=False, waiting_for_recovery=False,
                               feed_button_pressed=False)),
        (1, 0x16, PrinterState(offline=False, drawer_pin3_high=True, waiting_for_recovery=False,
                               feed_button_pressed=False)),
        (1, 0x32, PrinterState(offline=False, drawer_pin3_high=False, waiting_for_recovery=True,
                               feed_button_pressed=False)),
        (1, 0x52, PrinterState(offline=False, drawer_pin3_high=False, waiting_for_recovery=False,
                               feed_button_pressed=True)),
        (2, 0x12, OfflineCause(cover_open=False, feed_button=False, stopped_by_paper_end=False, error=False)),
        (2, 0x16, OfflineCause(cover_open=True, feed_button=False, stopped_by_paper_end=False, error=False)),
        (2, 0x1A, OfflineCause(cover_open=False, feed_button=True, stopped_by_paper_end=False, error=False)),
        (2, 0x32, OfflineCause(cover_open=False, feed_button=False, stopped_by_paper_end=True, error=False)),
        (2, 0x52, OfflineCause(cover_open=False, feed_button=False, stopped_by_paper_end=False, error=True)),
        (3, 0x12, ErrorCause(recoverable=False, cutter=False, unrecoverable=False, auto_recoverable=False)),
        (3, 0x16, ErrorCause(recoverable=True, cutter=False, unrecoverable=False, auto_recoverable=False)),
        (3, 0x1A, ErrorCause(recoverable=False, cutter=True, unrecoverable=False, auto_recoverable=False)),
        (3, 0x32, ErrorCause(recoverable=False, cutter=False, unrecoverable=True, auto_recoverable=False)),
        (3, 0x52, ErrorCause(recoverable=False, cutter=False, unrecoverable=False, auto_recoverable=True)),
        (4, 0x12, PaperState(near_end=False, out=False)),
        (4, 0x1E, PaperState(near_end=True, out=False)),
        (4, 0x72, PaperState(near_end=False, out=True)),
        (4, 0x7E, PaperState(near_end=True, out=True)),
    ],
)  # fmt: skip
def test_documented_bytes_decode(n: int, byte: int, expected: object) -> None:
    assert decode(n, byte) == expected


@pytest.mark.parametrize(
    ("n", "byte", "fault"),
    [
        (1, 0x1A, Fault.OFFLINE),
        (2, 0x16, Fault.COVER_OPEN),
        (2, 0x32, Fault.PAPER_OUT),
        (3, 0x1A, Fault.CUTTER_ERROR),
        (3, 0x32, Fault.UNRECOVERABLE_ERROR),
        (3, 0x16, Fault.RECOVERABLE_ERROR),
        (4, 0x72, Fault.PAPER_OUT),
        (4, 0x7E, Fault.PAPER_OUT),
    ],
)
def test_each_fault_byte_names_its_fault(n: int, byte: int, fault: Fault) -> None:
    status = assess({n: byte})
    assert not status.ok and status.fault is fault


def test_healthy_round_is_ok_and_near_end_is_only_a_warning() -> None:
    healthy = assess({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12})
    assert healthy.ok and healthy.fault is None and healthy.online is True and not healthy.paper_near_end
    near_end = assess({1: 0x12, 2: 0x12, 4: 0x1E})
    assert near_end.ok and near_end.paper_near_end


def test_the_specific_cause_wins_over_offline() -> None:
    """A printer without paper also reports offline (n1 = 1A); the fault to name is paper_out."""
    assert assess({1: 0x1A, 2: 0x32, 4: 0x72}).faults == (Fault.PAPER_OUT,)
    assert assess({1: 0x1A, 2: 0x16, 4: 0x12}).faults == (Fault.COVER_OPEN,)
    everything = assess({1: 0x1A, 2: 0x56, 3: 0x1A, 4: 0x72})
    assert everything.faults == (Fault.PAPER_OUT, Fault.COVER_OPEN, Fault.CUTTER_ERROR)
    assert assess({1: 0x1A, 2: 0x12, 4: 0x12}).faults == (Fault.OFFLINE,)


@pytest.mark.parametrize("byte", [0x00, 0x02, 0x10, 0x13, 0x92, 0xFF, 0x80, 0x7F])
def test_invalid_bytes_raise_and_are_never_ok(byte: int) -> None:
    with pytest.raises(InvalidStatusByte):
        decode(4, byte)
    status = assess({1: 0x12, 2: 0x12, 4: byte})
    assert not status.ok and status.fault is Fault.INVALID_REPLY and status.paper is None


def test_no_reply_is_a_fault_never_plenty_of_paper() -> None:
    status = assess({4: None})
    assert not status.ok and status.fault is Fault.NO_ANSWER
    assert status.paper is None and status.paper_near_end is False and status.online is None
    assert status.as_dict()["replies"] == {"4": None}


@given(st.dictionaries(st.sampled_from([1, 2, 3, 4]), st.one_of(st.none(), st.integers(0, 255)), min_size=1))
def test_a_round_is_ok_only_when_every_byte_is_a_healthy_status(replies: dict[int, int | None]) -> None:
    status = assess(replies)
    every_valid = all(b is not None and is_valid(b) for b in replies.values())
    if not every_valid:
        assert not status.ok
    # Bits that are a fault per query (hardware.md §4): n1 offline; n2 cover open, stopped by paper end,
    # error; n3 every error cause; n4 paper end. Drawer, feed button and paper near end are not faults.
    fault_bits = {1: 0x08, 2: 0x64, 3: 0x6C, 4: 0x60}
    healthy = every_valid and all(b is not None and not b & fault_bits[n] for n, b in replies.items())
    assert status.ok == healthy
