"""A whole status round as the station reports it: every part decoded, the detail text, the JSON view,
single bits of each paper-sensor pair, and a missing byte among present ones."""

from __future__ import annotations

import pytest

from drivers.printer import Fault, InvalidStatusByte, assess, decode
from drivers.printer.status import (
    ErrorCause,
    OfflineCause,
    PaperState,
    PrinterState,
    PrinterStatus,
    StatusKind,
    status_request,
    unreachable,
)

HEALTHY_PRINTER = PrinterState(offline=False, drawer_pin3_high=False, waiting_for_recovery=False,
                               feed_button_pressed=False)
NO_CAUSE = OfflineCause(cover_open=False, feed_button=False, stopped_by_paper_end=False, error=False)
NO_ERROR = ErrorCause(recoverable=False, cutter=False, unrecoverable=False, auto_recoverable=False)


def test_status_requests() -> None:
    assert status_request(StatusKind.PAPER) == b"\x10\x04\x04"
    assert status_request(1) == b"\x10\x04\x01"
    with pytest.raises(ValueError):
        status_request(5)


@pytest.mark.parametrize(("byte", "near_end", "out"), [(0x16, True, False), (0x1A, True, False),
                                                        (0x32, False, True), (0x52, False, True)])
def test_either_bit_of_a_paper_sensor_pair_counts(byte: int, near_end: bool, out: bool) -> None:
    assert decode(4, byte) == PaperState(near_end=near_end, out=out)


def test_a_whole_healthy_round() -> None:
    status = assess({1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12})
    assert status == PrinterStatus(
        replies={1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},
        printer=HEALTHY_PRINTER,
        offline_cause=NO_CAUSE,
        error_cause=NO_ERROR,
        paper=PaperState(near_end=False, out=False),
        faults=(),
        detail=None,
    )
    assert status.as_dict() == {
        "ok": True,
        "fault": None,
        "faults": [],
        "online": True,
        "paper_near_end": False,
        "replies": {"1": "12", "2": "12", "3": "12", "4": "12"},
        "detail": None,
    }


def test_a_round_with_a_missing_byte_keeps_reading_the_others() -> None:
    status = assess({4: 0x1E, 1: None, 2: 0x52, 3: 0x32}, detail="port /dev/ttyUSB0")
    assert status.printer is None and status.online is None
    assert status.offline_cause == OfflineCause(cover_open=False, feed_button=False, stopped_by_paper_end=False,
                                                error=True)
    assert status.error_cause == ErrorCause(recoverable=False, cutter=False, unrecoverable=True,
                                            auto_recoverable=False)
    assert status.paper == PaperState(near_end=True, out=False) and status.paper_near_end
    assert status.faults == (Fault.NO_ANSWER, Fault.UNRECOVERABLE_ERROR)  # offline gives way to the named error
    assert status.detail == "port /dev/ttyUSB0; no reply to DLE EOT 1"
    assert status.as_dict() == {
        "ok": False,
        "fault": "no_answer",
        "faults": ["no_answer", "unrecoverable_error"],
        "online": None,
        "paper_near_end": True,
        "replies": {"1": None, "2": "52", "3": "32", "4": "1E"},
        "detail": "port /dev/ttyUSB0; no reply to DLE EOT 1",
    }


def test_an_offline_cause_error_alone_is_offline() -> None:
    assert assess({2: 0x52}).faults == (Fault.OFFLINE,)
    assert assess({1: 0x1A}).faults == (Fault.OFFLINE,)
    assert assess({3: 0x52}).faults == (Fault.RECOVERABLE_ERROR,)  # auto-recoverable
    assert assess({2: 0x1A}).faults == ()  # only the feed button: not a fault


def test_invalid_bytes_are_named_in_the_detail() -> None:
    status = assess({1: 0x00, 4: 0xFF})
    assert status.faults == (Fault.INVALID_REPLY,)
    assert status.detail == "DLE EOT 1: 0x00 is not a status byte; DLE EOT 4: 0xFF is not a status byte"
    assert status.printer is None and status.paper is None
    with pytest.raises(InvalidStatusByte) as caught:
        decode(StatusKind.PAPER, 0x13)
    assert (caught.value.kind, caught.value.byte) == (StatusKind.PAPER, 0x13)
    assert str(caught.value) == "DLE EOT 4: 0x13 is not a status byte"


def test_no_answer_and_invalid_together_are_both_named_in_order() -> None:
    status = assess({2: 0x00, 1: None})
    assert status.faults == (Fault.NO_ANSWER, Fault.INVALID_REPLY)
    assert status.detail == "no reply to DLE EOT 1; DLE EOT 2: 0x00 is not a status byte"


def test_paper_near_end_is_not_reported_when_the_paper_is_out() -> None:
    status = assess({4: 0x7E})
    assert status.paper == PaperState(near_end=True, out=True) and not status.paper_near_end
    assert status.as_dict()["fault"] == "paper_out"


def test_an_unreachable_printer() -> None:
    status = unreachable(Fault.PORT_UNAVAILABLE, "[Errno 2] no such device", queried=[1, 4])
    assert status == PrinterStatus(replies={1: None, 4: None}, faults=(Fault.PORT_UNAVAILABLE,),
                                   detail="[Errno 2] no such device")
    assert status.as_dict()["replies"] == {"1": None, "4": None}
    assert unreachable(Fault.NO_ANSWER, "silent").replies == {}
