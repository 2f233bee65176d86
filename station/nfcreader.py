"""The NFC reader as a daemon component: badge log-in and (later) customer cards subscribe to its taps.

The driver (`drivers.nfc.NfcReader`) polls in its own worker thread and reopens a lost reader with
backoff; this component only starts and stops it and reports it in /api/health. A reader that is
missing is a state (`down`), never a failed start.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from drivers.nfc import NfcReader, TagRead

from .components import ComponentHealth, Status
from .config.nfc import NfcConfig

TapListener = Callable[[TagRead], Awaitable[None] | None]


class NfcComponent:
    name = "nfc"

    def __init__(self, config: NfcConfig, *, reader: NfcReader | None = None) -> None:
        self.config = config
        self.reader = reader or NfcReader(config.to_settings(), name="station")

    def subscribe(self, listener: TapListener) -> Callable[[], None]:
        """listener(tap) for every tap, in the event loop; returns a function that unsubscribes."""
        return self.reader.subscribe(listener)

    async def start(self) -> None:
        self.reader.start()

    async def stop(self) -> None:
        await self.reader.stop()

    def health(self) -> ComponentHealth:
        snap = self.reader.snapshot()
        status = Status.UP if snap.available else (Status.DOWN if snap.available is False else Status.DEGRADED)
        detail = {"device": self.config.device, "available": snap.available, "since": snap.since,
                  "error": snap.last_error, "taps": self.reader.taps_seen}  # fmt: skip
        return ComponentHealth(status, detail)

    def progress(self) -> float | None:
        return None  # the worker thread polls on its own; a stuck reader shows as down, not as a hung loop
