"""Reader settings, the [nfc] config section, the debouncer, and the UDP liveness probe."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from drivers.nfc import NfcReaderSettings
from drivers.nfc.udp import UdpPeerProbe
from drivers.nfc.worker import Debouncer
from simulators.nfc import NfcTagSimulator
from station.config.nfc import NfcConfig


def test_debouncer_counts_a_held_card_once_and_a_return_after_the_hold_as_new() -> None:
    debounce = Debouncer(1.0)
    assert debounce.is_new_tap("A", 10.0)
    assert not debounce.is_new_tap("A", 10.5)  # held: seen every poll
    assert not debounce.is_new_tap("A", 11.4)  # 0.9 s since the last sighting
    assert debounce.is_new_tap("B", 11.5)  # another card
    assert debounce.is_new_tap("A", 12.5)  # 1.1 s away: a new tap
    assert debounce._last_seen.keys() == {"A", "B"}
    debounce.is_new_tap("A", 20.0)
    assert debounce._last_seen.keys() == {"A"}  # forgotten once out of the hold window


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"device": "COM3"}, "not an nfcpy device path"),
        ({"device": "tty"}, "needs a port"),
        ({"poll_s": 0}, "poll_s must be positive"),
        ({"debounce_s": 0.2}, "debounce_s must be longer than poll_s"),
        ({"targets": ()}, "targets must be"),
        ({"targets": ("106A", "999X")}, "targets must be"),
        ({"reconnect_min_s": 5.0, "reconnect_max_s": 1.0}, "reconnect_min_s <= reconnect_max_s"),
    ],
)
def test_settings_reject_what_cannot_work(overrides: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"device": "usb:054c:06c1", "poll_s": 0.25}
    values.update(overrides)
    with pytest.raises(ValueError, match=message):
        NfcReaderSettings(**values)  # type: ignore[arg-type]


def test_config_section_builds_the_driver_settings() -> None:
    config = NfcConfig.model_validate({"device": "tty:USB0:pn532", "poll_s": 0.2, "debounce_s": 1.5})
    assert config.to_settings() == NfcReaderSettings(
        device="tty:USB0:pn532", poll_s=0.2, debounce_s=1.5, targets=("106A", "106B", "212F")
    )
    assert NfcReaderSettings(**config.model_dump()) == config.to_settings()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"device": "usb", "debounce_s": 0.1}, "debounce_s must be longer than poll_s"),
        ({"device": "/dev/ttyUSB0"}, "not an nfcpy device path"),
        ({"device": "usb", "targets": ["106C"]}, "106A"),
        ({"device": "usb", "port": "/dev/ttyUSB0"}, "Extra inputs are not permitted"),
        ({}, "device"),
    ],
)
def test_config_section_rejects(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NfcConfig.model_validate(values)


def test_udp_probe_tells_a_listening_port_from_a_closed_one() -> None:
    sim = NfcTagSimulator()
    port = sim.start("127.0.0.1", 0)
    probe = UdpPeerProbe(("127.0.0.1", port))
    try:
        assert probe.check(wait_s=0.2) is None
        sim.close()
        # the refusal of this datagram, or of the next one, tells that the port is closed
        assert probe.check(wait_s=0.2) or probe.check(wait_s=0.2)
    finally:
        probe.close()
        sim.close()
