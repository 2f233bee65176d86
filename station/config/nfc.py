"""Configuration of the NFC reader (badge log-in, collecting orders with a card)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from drivers.nfc.settings import NfcReaderSettings

from .base import Section

Technology = Literal["106A", "106B", "212F", "424F"]


class NfcConfig(Section):
    """One nfcpy reader; `NfcReaderSettings(**cfg.model_dump())` (or `to_settings()`) builds the driver's settings."""

    device: str = Field(
        description="nfcpy device path: usb:054c:06c1 (Sony RC-S380), tty:USB0:pn532, udp:127.0.0.1:54321 (simulator)"
    )
    poll_s: float = Field(default=0.25, gt=0, le=5, description="pause between polls")
    debounce_s: float = Field(
        default=1.0, gt=0, le=60, description="a card is a new tap once it has been out of the field this long"
    )
    targets: tuple[Technology, ...] = Field(
        default=("106A", "106B", "212F"),
        min_length=1,
        description="technologies polled: 106A (ISO 14443-A: NTAG, MIFARE), 106B, 212F (FeliCa); "
        "with the UDP simulator use only 106A (every silent technology costs a 1 s timeout there)",
    )
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60, description="first reopen delay when the reader is lost")
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600, description="reopen delay cap")

    @model_validator(mode="after")
    def _valid_for_the_driver(self) -> NfcConfig:
        self.to_settings()  # one set of rules: the driver's (device path form, debounce longer than a poll, …)
        return self

    def to_settings(self) -> NfcReaderSettings:
        return NfcReaderSettings(**self.model_dump())
