"""The worker's handling of what only real hardware does: nfcpy losing a USB reader mid-poll, and cards
it senses but cannot activate. nfcpy's frontend is replaced by a scripted stand-in with the same
contract (connect() returns False after an I/O error, None when nothing was activated)."""

from __future__ import annotations

import errno
import threading
import time
from typing import Any, ClassVar

import nfc.clf
import pytest

from drivers.nfc import TagRead
from drivers.nfc import worker as worker_module
from drivers.nfc.worker import ReaderWorker

from .conftest import fast_settings


class ScriptedFrontend:
    """Each open takes the next step: an OSError to raise, or a list of connect() outcomes."""

    script: ClassVar[list[Any]] = []
    closed: ClassVar[int] = 0

    def __init__(self, path: str) -> None:
        step = ScriptedFrontend.script.pop(0) if ScriptedFrontend.script else []
        if isinstance(step, OSError):
            raise step
        self.outcomes: list[Any] = list(step)
        self.device = object()  # not nfcpy's UDP driver: no UDP probe

    def connect(self, rdwr: dict[str, Any], terminate: Any) -> Any:
        if terminate():
            return None
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, nfc.clf.RemoteTarget):  # sensed, activation failed
            rdwr["on-discover"](outcome)
            return None
        return outcome

    def close(self) -> None:
        ScriptedFrontend.closed += 1


def run_worker(script: list[Any], until: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[TagRead]]:
    ScriptedFrontend.script, ScriptedFrontend.closed = list(script), 0
    monkeypatch.setattr(worker_module.nfc, "ContactlessFrontend", ScriptedFrontend)
    states: list[Any] = []
    taps: list[TagRead] = []
    stop = threading.Event()
    worker = ReaderWorker(fast_settings("usb:054c:06c1"), taps.append, lambda up, err: states.append((up, err)), stop)
    thread = threading.Thread(target=worker.run, name="nfc-reader-test")
    thread.start()
    deadline = time.monotonic() + 5
    while not until(states, taps) and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    thread.join(timeout=2)
    assert not thread.is_alive()
    return states, taps


def test_reader_lost_mid_poll_is_down_then_reopened(monkeypatch: pytest.MonkeyPatch) -> None:
    unplugged = OSError(errno.ENODEV, "No such device")
    script = [[None, None, False], unplugged, unplugged, [None]]  # works, lost, absent twice, back
    states, _taps = run_worker(script, lambda states, taps: len(states) >= 5, monkeypatch)
    lost = "lost the reader on usb:054c:06c1 (I/O error or unsupported technology)"
    absent = "cannot open NFC reader usb:054c:06c1: no such reader (unplugged, wrong path, or no driver for it)"
    assert states[:5] == [(True, None), (False, lost), (False, absent), (False, absent), (True, None)]
    assert ScriptedFrontend.closed >= 1  # the lost device was closed before reopening


def test_busy_and_forbidden_readers_name_the_remedy(monkeypatch: pytest.MonkeyPatch) -> None:
    script = [OSError(errno.EBUSY, "Device or resource busy"), OSError(errno.EACCES, "Permission denied")]
    states, _taps = run_worker(script, lambda states, taps: len(states) >= 2, monkeypatch)
    assert "busy: pcscd or a kernel driver (pn533_usb, port100) holds it" in states[0][1]
    assert "permission denied (add a udev rule or the plugdev group" in states[1][1]


def test_card_sensed_but_not_activated_is_reported_by_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    phone = nfc.clf.RemoteTarget("106A", sdd_res=bytearray.fromhex("08A1B2C3"), sel_res=b"\x40", sens_res=b"\x04\x00")
    felica = nfc.clf.RemoteTarget("212F", sensf_res=bytearray.fromhex("01 0102030405060708 0000000000000000"))
    script = [[phone, phone, felica]]
    _states, taps = run_worker(script, lambda states, taps: len(taps) >= 2, monkeypatch)
    assert [(t.uid_hex, t.technology, t.tag_type, t.ndef_records) for t in taps] == [
        ("08A1B2C3", "106A", "", ()),  # the second sighting of the phone is the same tap
        ("0102030405060708", "212F", "", ()),
    ]
