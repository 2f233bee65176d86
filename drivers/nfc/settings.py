"""Settings of one NFC reader (the daemon builds them from `[nfc]`, the CLI from its options)."""

from __future__ import annotations

from dataclasses import dataclass

# nfcpy bitrate/technology strings a reader can poll for
KNOWN_TARGETS = ("106A", "106B", "212F", "424F")
DEVICE_PREFIXES = ("usb", "tty", "com", "udp")


@dataclass(frozen=True)
class NfcReaderSettings:
    """How to reach and poll one reader.

    `device` is an nfcpy device path: `usb`, `usb:054c:06c1` (Sony RC-S380), `tty:USB0:pn532`,
    `udp:127.0.0.1:54321` (the simulator). `targets` are the technologies polled, in order; each
    technology that finds nothing costs nfcpy's UDP driver a 1 s timeout, so poll only `106A` there.
    A card counts as a new tap once it has been out of the field for `debounce_s`.
    """

    device: str
    poll_s: float = 0.25
    debounce_s: float = 1.0
    targets: tuple[str, ...] = ("106A", "106B", "212F")
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0

    def __post_init__(self) -> None:
        check_device_path(self.device)
        if self.poll_s <= 0:
            raise ValueError("poll_s must be positive")
        if self.debounce_s <= self.poll_s:
            raise ValueError("debounce_s must be longer than poll_s, else a card held still is reported again")
        if not self.targets or any(t not in KNOWN_TARGETS for t in self.targets):
            raise ValueError(f"targets must be a non-empty selection of {', '.join(KNOWN_TARGETS)}")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ValueError("need 0 < reconnect_min_s <= reconnect_max_s")


def check_device_path(path: str) -> str:
    """An nfcpy device path: usb[:vendor:product | :bus:device], tty:PORT[:DRIVER], com:…, udp[:host][:port]."""
    prefix = path.split(":", 1)[0]
    if prefix not in DEVICE_PREFIXES:
        raise ValueError(
            f"{path!r} is not an nfcpy device path: use usb[:vid:pid], tty:PORT:DRIVER "
            "(e.g. tty:USB0:pn532) or udp:HOST:PORT"
        )
    if prefix in ("tty", "com") and len(path.split(":")) < 2:
        raise ValueError(f"{path!r}: a serial reader needs a port (and best a driver), e.g. tty:USB0:pn532")
    return path
