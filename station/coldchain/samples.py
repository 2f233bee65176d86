"""What a poll result becomes in the HACCP log and in the temperature telemetry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from drivers.fridge import FridgeReading, PollFailure

from .haccp import Entry, to_dc
from .zones import FridgeState, ZoneState

NO_ANSWER = "no_answer"


def reading_flags(reading: FridgeReading) -> list[str]:
    """Short status words for the log: defrost, door, compressor state, controller alarms."""
    flags = []
    if reading.defrost_active:
        flags.append("defrost")
    if reading.flags.get("door_open"):
        flags.append("door")
    flags.extend(f"alarm:{name}" for name in sorted(reading.alarms))
    return flags


def sample_entries(fridge: FridgeState, at: datetime) -> list[Entry]:
    """One `sample` row per fitted probe of one controller (no value, with the reason, when unknown)."""
    result = fridge.result
    probes = fridge.controller.probes
    if isinstance(result, PollFailure) or result is None:
        return [Entry(at=at, kind="sample", fridge=fridge.name, probe=p, status=NO_ANSWER) for p in probes]
    common = reading_flags(result)
    entries = []
    for name in probes:
        probe = result.probes.get(name)
        flags = list(common)
        if probe is None or probe.fault is not None:
            flags.insert(0, "fault")
        value = None if probe is None else to_dc(probe.celsius)
        status = ",".join(flags)[:200] or None
        entries.append(Entry(at=at, kind="sample", fridge=fridge.name, probe=name, value_dc=value, status=status))
    return entries


def zone_samples(zone: ZoneState, at: datetime) -> list[Entry]:
    """Samples of every controller of a zone, written with each alarm transition."""
    return [e for f in zone.fridges if f.result is not None for e in sample_entries(f, at)]


def telemetry_payload(fridges: Iterable[FridgeState], zones: Iterable[ZoneState], at: datetime) -> dict[str, Any]:
    """One compact snapshot of every controller and zone for the platform."""
    out: dict[str, Any] = {"at": at.isoformat(), "fridges": {}, "zones": {}}
    for fridge in fridges:
        snap = fridge.controller.snapshot()
        entry: dict[str, Any] = {"available": snap.available}
        if isinstance(fridge.result, FridgeReading):
            reading = fridge.result
            entry.update(
                product_c=reading.product_celsius,
                probes={name: p.celsius for name, p in reading.probes.items()},
                setpoint_c=reading.setpoint_c,
                defrost=reading.defrost_active,
                alarms=sorted(reading.alarms),
            )
        out["fridges"][fridge.name] = entry
    for zone in zones:
        verdict = zone.tracker.last if zone.tracker else None
        out["zones"][zone.name] = {
            "level": verdict.level.value if verdict else "unsupervised",
            "celsius": zone.signal.celsius if zone.signal else None,
            "alarm": zone.alarmed,
        }
    return out
