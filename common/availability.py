"""Device availability as data: log the transition to down and back up once each."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class AvailabilitySnapshot:
    """Immutable view for the API, the UI and telemetry."""

    name: str
    available: bool | None
    since: float | None
    last_error: str | None
    failures: int


class Availability:
    """Tracks whether one device answers; repeated identical errors are logged at debug only."""

    def __init__(self, name: str, logger: logging.Logger) -> None:
        self.name = name
        self._log = logger
        self.available: bool | None = None  # None = not yet known
        self.since: float | None = None
        self.last_error: str | None = None
        self.failures = 0

    def mark_up(self) -> bool:
        """Record a success; returns True when this is a recovery (or the first success)."""
        self.failures = 0
        if self.available is True:
            return False
        recovered = self.available is False
        self.available, self.since, self.last_error = True, time.time(), None
        if recovered:
            self._log.info("%s is back", self.name)
        else:
            self._log.info("%s is up", self.name)
        return True

    def mark_down(self, error: str) -> bool:
        """Record a failure; returns True when the device just went down."""
        self.failures += 1
        if self.available is False:
            if error != self.last_error:
                self._log.debug("%s still down: %s", self.name, error)
                self.last_error = error
            return False
        self.available, self.since, self.last_error = False, time.time(), error
        self._log.warning("%s is down: %s", self.name, error)
        return True

    def snapshot(self) -> AvailabilitySnapshot:
        return AvailabilitySnapshot(self.name, self.available, self.since, self.last_error, self.failures)
