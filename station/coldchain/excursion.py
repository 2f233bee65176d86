"""Excursion tracking: a limit exceeded continuously for longer than a delay becomes a breach.

Pure logic (no I/O, times are seconds on the service clock), so the rules are tested directly.

Rules (hardware.md §2.4):
- An unknown temperature (probe failed, controller silent) counts as beyond every limit.
- An excursion ends only when the temperature is back at least `RESET_HYSTERESIS_K` below the limit:
  probe noise around the limit must not restart the delay forever.
- A defrost or door opening seen during the excursion, or shortly before it began, extends the delay
  once by the zone's extra delay. The extension is bounded: a controller stuck in defrost or a door left
  open still ends in an alarm after delay + extras, so we never suppress indefinitely.
- With a tolerated brief rise (frozen: −18 °C limit, −15 °C ceiling) there are two bands: above the
  ceiling for longer than the delay, or above the limit for longer than `tolerated_max_s`.
- A breach is latched until the excursion ends.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .limits import Thresholds

RESET_HYSTERESIS_K = 0.5  # probes read to ±0.1-0.5 K; 0.5 K below the limit is clearly "back in range"


class Level(enum.StrEnum):
    OK = "ok"
    PENDING = "pending"  # beyond the limit, still within the delay
    BREACH = "breach"


@dataclass(frozen=True)
class Signal:
    """What a zone's controllers say now: the warmest product temperature, or None when unknown."""

    at: float
    celsius: float | None
    last_defrost_at: float | None = None  # last time any controller of the zone reported defrost
    last_door_at: float | None = None  # last time a door of the zone was reported open
    unknown_reason: str | None = None


@dataclass(frozen=True)
class Verdict:
    level: Level
    since: float | None  # start of the current excursion
    cause: str | None  # "temperature" | "unknown"
    allowed_s: float | None  # how long this excursion may last (delay plus extensions)
    celsius: float | None


class _Band:
    """One threshold with its own window; `since` is when the signal went beyond it."""

    def __init__(self, threshold: float, window_s: float) -> None:
        self.threshold = threshold
        self.window_s = window_s
        self.since: float | None = None

    def update(self, at: float, celsius: float | None, seed: float | None) -> None:
        beyond = celsius is None or celsius > self.threshold
        back = celsius is not None and celsius <= self.threshold - RESET_HYSTERESIS_K
        if self.since is None and beyond:
            self.since = at if seed is None else min(seed, at)
        elif self.since is not None and back:
            self.since = None


class ExcursionTracker:
    """Feed it every new `Signal`; it answers OK, PENDING or BREACH."""

    def __init__(self, thresholds: Thresholds, *, started_at: float | None = None) -> None:
        """`started_at`: the signal is known to have been beyond these limits since then (seeding a new tracker)."""
        self.thresholds = thresholds
        t = thresholds
        self._bands = [_Band(t.ceiling_c, t.delay_s)]
        if t.tolerated_c is not None:
            self._bands.append(_Band(t.limit_c, max(t.tolerated_max_s, t.delay_s)))
        self._seed = started_at
        self._breached = False
        self.last: Verdict = Verdict(Level.OK, None, None, None, None)

    @property
    def ceiling_since(self) -> float | None:
        """Since when the signal has been beyond the ceiling (the delay band), or None."""
        return self._bands[0].since

    @property
    def since(self) -> float | None:
        starts = [b.since for b in self._bands if b.since is not None]
        return min(starts) if starts else None

    def update(self, signal: Signal) -> Verdict:
        for band in self._bands:
            band.update(signal.at, signal.celsius, self._seed)
        self._seed = None
        since = self.since
        cause = None if since is None else ("unknown" if signal.celsius is None else "temperature")
        if since is None:
            self._breached = False
            self.last = Verdict(Level.OK, None, None, None, signal.celsius)
            return self.last
        allowed = None
        for band in self._bands:
            if band.since is None:
                continue
            band_allowed = band.window_s + self._extension(band.since, signal)
            allowed = band_allowed if allowed is None else min(allowed, band_allowed)
            if signal.at - band.since > band_allowed:
                self._breached = True
        level = Level.BREACH if self._breached else Level.PENDING
        self.last = Verdict(level, since, cause, allowed, signal.celsius)
        return self.last

    def _extension(self, since: float, signal: Signal) -> float:
        """Extra delay for a defrost or door opening during the excursion or within its extra delay before it."""
        t = self.thresholds
        extra = 0.0
        if signal.last_defrost_at is not None and signal.last_defrost_at >= since - t.defrost_extra_s:
            extra += t.defrost_extra_s
        if signal.last_door_at is not None and signal.last_door_at >= since - t.door_extra_s:
            extra += t.door_extra_s
        return extra
