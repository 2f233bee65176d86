"""Runtime state of the supervised fridges and zones, and the per-zone decisions (no I/O).

A zone's signal is the warmest product-probe temperature of its controllers; it is unknown when any
of them is silent or its product probe has failed (unknown is not OK). A zone tracker raises the
zone's own alarm; each compartment holding perishable goods gets a tracker with its own, possibly
stricter, thresholds and is blocked when that tracker breaches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drivers.fridge import FridgeController, FridgeReading, PollFailure

from ..config.fridge import FridgeConfig, ZoneConfig
from .excursion import ExcursionTracker, Level, Signal, Verdict
from .limits import Thresholds, compartment_thresholds, zone_thresholds
from .transitions import Stocked

Result = FridgeReading | PollFailure


@dataclass
class FridgeState:
    name: str
    config: FridgeConfig
    controller: FridgeController
    result: Result | None = None
    last_reading: FridgeReading | None = None
    sample_slot: int | None = None

    @property
    def product_celsius(self) -> float | None:
        if isinstance(self.result, FridgeReading):
            return self.result.product_celsius
        return None

    def unknown_reason(self) -> str | None:
        """Why this controller gives no product temperature now, or None when it does."""
        result = self.result
        if isinstance(result, PollFailure):
            return f"fridge {self.name}: no answer ({result.message})"
        if isinstance(result, FridgeReading) and result.product_celsius is None:
            probe = result.product
            return f"fridge {self.name}: probe {probe.name} failed ({probe.fault})"
        return None


@dataclass(frozen=True)
class BlockDecision:
    compartment: int
    thresholds: Thresholds
    verdict: Verdict


@dataclass(frozen=True)
class ZoneDecision:
    """What an evaluation found: a zone alarm to raise or clear, compartments to block."""

    zone_alarm: bool = False
    zone_recovered: bool = False
    blocks: tuple[BlockDecision, ...] = ()

    @property
    def changes(self) -> bool:
        return self.zone_alarm or self.zone_recovered or bool(self.blocks)


@dataclass
class ZoneState:
    name: str
    config: ZoneConfig
    fridges: list[FridgeState]
    thresholds: Thresholds | None = None
    tracker: ExcursionTracker | None = None
    alarmed: bool = False
    signal: Signal | None = None
    last_defrost_at: float | None = None
    last_door_at: float | None = None
    compartments: dict[int, ExcursionTracker] = field(default_factory=dict)
    saved_starts: dict[str, float] = field(default_factory=dict)  # as last persisted
    _seeds: dict[str, float] = field(default_factory=dict)  # compartment trackers not yet re-created

    def __post_init__(self) -> None:
        self.thresholds = zone_thresholds(self.name, self.config)
        self.tracker = ExcursionTracker(self.thresholds) if self.thresholds else None

    def resume(self, starts: dict[str, float]) -> None:
        """Carry over the excursions the previous run had seen begin: their delay goes on, it does not restart.

        A tracker seeded so takes the stored start only if the signal is still beyond its limit at the first
        evaluation; the temperature in between is unknown, so assuming it stayed beyond is the safe side.
        """
        self.saved_starts = dict(starts)
        self._seeds = {k: v for k, v in starts.items() if k != "zone"}
        if self.thresholds is not None and "zone" in starts:
            self.tracker = ExcursionTracker(self.thresholds, started_at=starts["zone"])

    def excursion_starts(self) -> dict[str, float]:
        """Start of every excursion in progress: "zone" and compartment ids (as text, JSON keys)."""
        starts = {str(c): t.since for c, t in self.compartments.items() if t.since is not None}
        if self.tracker is not None and self.tracker.since is not None:
            starts["zone"] = self.tracker.since
        return starts

    def note(self, fridge: FridgeState) -> None:
        """Remember defrost and door activity reported by one of the zone's controllers."""
        reading = fridge.result
        if not isinstance(reading, FridgeReading):
            return
        if reading.defrost_active:
            self.last_defrost_at = reading.at
        if reading.flags.get("door_open"):
            self.last_door_at = reading.at

    def make_signal(self, at: float) -> Signal | None:
        """The zone's signal now; None until every controller of the zone has been polled once."""
        if any(f.result is None for f in self.fridges):
            return None
        reasons = [r for f in self.fridges if (r := f.unknown_reason()) is not None]
        if not self.fridges:
            reasons = [f"zone {self.name}: no temperature controller configured"]
        temps = [f.product_celsius for f in self.fridges if f.product_celsius is not None]
        celsius = None if reasons else max(temps)
        return Signal(at, celsius, self.last_defrost_at, self.last_door_at, "; ".join(reasons) or None)

    def evaluate(self, signal: Signal, stocked: Iterable[Stocked], blocked: set[int]) -> ZoneDecision:
        """Feed the signal to the zone tracker and to a tracker per stocked, not yet blocked compartment."""
        self.signal = signal
        zone_alarm = zone_recovered = False
        if self.tracker is not None:
            verdict = self.tracker.update(signal)
            zone_alarm = verdict.level is Level.BREACH and not self.alarmed
            zone_recovered = verdict.level is Level.OK and self.alarmed
        blocks = []
        seen = set()
        for item in stocked:
            if item.compartment in blocked:
                continue
            thresholds = compartment_thresholds(self.name, self.config, set(item.classes))
            if thresholds is None:
                continue
            seen.add(item.compartment)
            tracker = self.compartments.get(item.compartment)
            if tracker is None or tracker.thresholds != thresholds:
                seeds = [self._seed_for(thresholds), self._seeds.pop(str(item.compartment), None)]
                seed = min((s for s in seeds if s is not None), default=None)
                tracker = ExcursionTracker(thresholds, started_at=seed)
                self.compartments[item.compartment] = tracker
            verdict = tracker.update(signal)
            if verdict.level is Level.BREACH:
                blocks.append(BlockDecision(item.compartment, thresholds, verdict))
        for gone in set(self.compartments) - seen:
            del self.compartments[gone]
        return ZoneDecision(zone_alarm, zone_recovered, tuple(blocks))

    def _seed_for(self, thresholds: Thresholds) -> float | None:
        """A new compartment tracker starts where the zone's excursion started, if its ceiling is no higher.

        (The zone's signal has then been beyond the compartment's limits at least that long: goods loaded
        into a fridge that is already in alarm are blocked at once, not after another delay.)
        """
        if self.tracker is None or self.thresholds is None or thresholds.ceiling_c > self.thresholds.ceiling_c:
            return None
        return self.tracker.ceiling_since

    def forget(self, compartment: int) -> None:
        self.compartments.pop(compartment, None)


def verdict_details(verdict: Verdict, thresholds: Thresholds | None) -> dict[str, Any]:
    """The alarm and block details: why, since when, against which limit."""
    return {
        "cause": verdict.cause,
        "since": datetime.fromtimestamp(verdict.since, UTC).isoformat() if verdict.since is not None else None,
        "allowed_s": verdict.allowed_s,
        "limit_c": thresholds.limit_c if thresholds else None,
        "ceiling_c": thresholds.ceiling_c if thresholds else None,
        "limit_source": thresholds.source if thresholds else None,
    }
