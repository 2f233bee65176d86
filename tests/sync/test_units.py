"""Pure pieces of sync: topic rules, ack ranges, the ack tracker, paho's read buffer."""

from __future__ import annotations

import pytest

from central.store import to_ranges
from sync.contract import Topics, check_station_id, type_to_topic
from sync.mqtttypes import ReadBuffer
from sync.outboxio import Pending
from sync.relay import AckTracker, _ranges


@pytest.mark.parametrize("bad", ["a/b", "a+b", "a#", "st.1", "", " st", "-x", "x" * 65])
def test_station_ids_must_be_one_portable_topic_level(bad):
    with pytest.raises(ValueError):
        check_station_id(bad)


def test_topics_of_one_station():
    t = Topics("station", "st-a")
    assert (t.state, t.ack, t.cmd_resp, t.cmd_filter) == (
        "station/st-a/state",
        "station/st-a/ack",
        "station/st-a/cmd-resp",
        "station/st-a/cmd/+",
    )
    assert t.stream_topic("main", "alarm.raised") == "station/st-a/evt/alarm/raised"
    assert t.stream_topic("telemetry", "summary") == "station/st-a/tele/summary"
    assert t.parse("station/st-b/evt/sale/captured") == ("st-b", "evt", "sale/captured")
    assert t.parse("other/st-b/evt") is None
    with pytest.raises(ValueError):
        type_to_topic("Sale/Captured")


def test_sequence_runs():
    assert to_ranges([]) == []
    assert to_ranges([1, 2, 3, 7, 9, 10]) == [[1, 3], [7, 7], [9, 10]]
    assert to_ranges([4, 4, 5]) == [[4, 5]]


def test_ack_ranges_from_the_wire_are_validated():
    assert _ranges([[1, 3], [5, 5]]) == [(1, 3), (5, 5)]
    assert _ranges([[3, 1], [0, 2], [1], [1, 2, 3], ["1", 2], [True, 2], "x", None]) == []
    assert _ranges("nonsense") == []


def _event(seq: int, stream: str = "main") -> Pending:
    return Pending(0, stream, seq, f"id-{stream}-{seq}", "t", b"{}", None)


def test_ack_tracker_settles_cumulative_ranges_and_ids():
    tracker = AckTracker()
    for seq in range(1, 11):
        tracker.add(_event(seq))
    tracker.add(_event(1, "telemetry"))
    tracker.add(_event(5))  # sent twice: tracked once
    assert len(tracker) == 11
    assert tracker.ack(3, [], []) == 3
    assert tracker.ack(None, [(7, 8), (20, 30)], ["id-telemetry-1"]) == 3
    assert tracker.ack(None, [], ["id-main-10"]) == 1
    assert tracker.ack(9, [], []) == 4  # 4, 5, 6 and 9 remained; 7 and 8 were settled by their range
    assert len(tracker) == 0
    assert tracker.ack(10, [], []) == 0  # 10 was settled by id; its heap entry is skipped


class _Socket:
    def __init__(self, chunks: list[bytes | Exception]) -> None:
        self.chunks, self.calls = chunks, 0

    def recv(self, size: int) -> bytes:
        self.calls += 1
        item = self.chunks.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def test_read_buffer_serves_small_reads_from_one_recv():
    sock = _Socket([b"\x40\x02\x00\x01\x40\x02\x00\x02", BlockingIOError(), b""])
    buf = ReadBuffer(sock.recv)
    assert [buf.recv(1), buf.recv(1), buf.recv(2)] == [b"\x40", b"\x02", b"\x00\x01"]
    assert buf.pending()
    assert [buf.recv(1), buf.recv(1), buf.recv(5)] == [b"\x40", b"\x02", b"\x00\x02"]
    assert sock.calls == 1 and not buf.pending()
    with pytest.raises(BlockingIOError):
        buf.recv(1)
    assert buf.recv(1) == b""  # end of stream reaches paho unchanged


def test_device_status_accepts_strings_or_objects():
    from sync.presence import device_status

    devices, temps = device_status(
        {
            "devices": {
                "database": "up",
                "lockwall": "down",
                "fridge-1": {"available": False, "last_error": "timeout"},
            },
            "temperatures": {"chiller": 4, "bad": "x", "nan": float("nan"), "flag": True},
        }
    )
    assert devices == {
        "database": {"status": "up", "available": True},
        "lockwall": {"status": "down", "available": False},
        "fridge-1": {"available": False, "last_error": "timeout"},
    }
    assert temps == {"chiller": 4.0}
    assert device_status({"devices": "nonsense"}) == ({}, {})
