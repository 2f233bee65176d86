"""Fixtures: an NTAG213 simulator on a free UDP port, and the cards the tests hold to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import ndef
import pytest

from drivers.nfc import NfcReaderSettings
from simulators.nfc import NfcTagSimulator, Ntag213

BADGE_UID = "04A1B2C3D4E5F6"
BADGE_RECORDS = [ndef.UriRecord("https://dorfladen.example/badge/17"), ndef.TextRecord("Helferin Anna", "de")]
CARD_UID = "04112233445566"


@pytest.fixture
def sim() -> Iterator[NfcTagSimulator]:
    simulator = NfcTagSimulator(BADGE_UID, BADGE_RECORDS)
    simulator.start("127.0.0.1", 0)
    yield simulator
    simulator.close()


@pytest.fixture
def other_card() -> Ntag213:
    return Ntag213.create(CARD_UID, [ndef.TextRecord("Kundenkarte", "de")])


def fast_settings(device: str, **overrides: Any) -> NfcReaderSettings:
    """Short poll and reopen delays; only Type A, since every silent technology costs the UDP driver 1 s."""
    values: dict[str, Any] = {
        "device": device,
        "poll_s": 0.05,
        "debounce_s": 0.3,
        "targets": ("106A",),
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
    }
    values.update(overrides)
    return NfcReaderSettings(**values)


def polls(sim: NfcTagSimulator, since: float, answered: bool) -> int:
    """SENS_REQs (one per poll) the simulator received since `since`, answered by a card or not."""
    return sum(
        1 for e in list(sim.exchanges) if e.at >= since and e.frame == b"\x26" and (e.reply is not None) == answered
    )


async def wait_until(check: Callable[[], Any], within: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + within
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.01)
    return result
