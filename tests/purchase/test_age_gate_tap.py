"""The age-check screen's question "was a card held to the reader?": true until the purchase uses the tap."""

from __future__ import annotations

from types import SimpleNamespace

from station.purchase.age import AgeGate


def test_a_tap_waits_until_used_and_not_longer_than_it_is_valid() -> None:
    gate = AgeGate(None, tap_valid_s=60)
    assert not gate.has_tap()
    gate.on_tap(SimpleNamespace(uid_hex="04AABBCCDD"))
    assert gate.has_tap()
    assert gate.take_tap_uid() == "04AABBCCDD"  # the purchase (or a registration) uses it once
    assert not gate.has_tap()
    stale = AgeGate(None, tap_valid_s=-1)  # already too old when read
    stale.on_tap(SimpleNamespace(uid_hex="04AABBCCDD"))
    assert not stale.has_tap()
