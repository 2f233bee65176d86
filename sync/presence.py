"""Presence and telemetry payloads: birth, offline (Last Will), heartbeat, offline summaries."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .contract import HEARTBEAT, STATE, now_iso

ONLINE, OFFLINE = "online", "offline"


def birth(
    station_id: str,
    session: int,
    *,
    software_version: str,
    config_version: str | None,
    config_hash: str | None,
    overlay_sha256: str | None,
    db_epoch: str | None,
    compartments: dict[str, Any],
    outbox_pending: int,
    protocol: str,
) -> dict[str, Any]:
    """The retained `state` message published on every connect."""
    return {
        "schema": STATE,
        "station_id": station_id,
        "state": ONLINE,
        "session": session,
        "at": now_iso(),
        "software_version": software_version,
        "config_version": config_version,
        "config_hash": config_hash,
        "config_overlay_sha256": overlay_sha256,
        "db_epoch": db_epoch,
        "mqtt_protocol": protocol,
        "compartments": compartments,
        "outbox": {"pending": outbox_pending},
    }


def offline(station_id: str, session: int, reason: str) -> dict[str, Any]:
    """The retained `state` message of a graceful stop ('shutdown'): `at` is the moment of going offline."""
    return {
        "schema": STATE,
        "station_id": station_id,
        "state": OFFLINE,
        "session": session,
        "at": now_iso(),
        "reason": reason,
    }


def will(station_id: str, session: int) -> dict[str, Any]:
    """The Last Will ('connection_lost'), composed when connecting and published by the broker much later.

    It carries no `at`: nobody knows yet when the link will be lost. `connected_at` is when this
    connection attempt began; the platform takes the time it received the Will as the offline time.
    """
    return {
        "schema": STATE,
        "station_id": station_id,
        "state": OFFLINE,
        "session": session,
        "connected_at": now_iso(),
        "reason": "connection_lost",
    }


def device_status(provided: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Normalise what the station's status provider returned.

    `devices` maps a name to a status string ("up", "degraded", "down") or to an object with
    `available` (and anything else the device reports); both become objects with `available`.
    `temperatures` maps a zone to degrees Celsius; non-numbers and NaN are dropped.
    """
    devices_in: dict[str, Any] = provided["devices"] if isinstance(provided.get("devices"), dict) else {}
    devices: dict[str, dict[str, Any]] = {}
    for name, info in devices_in.items():
        if isinstance(info, str):
            devices[str(name)] = {"status": info, "available": info != "down"}
        elif isinstance(info, dict):
            devices[str(name)] = dict(info)
    temps_in: dict[str, Any] = provided["temperatures"] if isinstance(provided.get("temperatures"), dict) else {}
    temperatures = {
        str(k): float(v)
        for k, v in temps_in.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
    return devices, temperatures


def heartbeat(
    station_id: str,
    session: int,
    *,
    uptime_s: float,
    outbox: dict[str, Any],
    link: dict[str, Any],
    relay: dict[str, Any],
    devices: dict[str, Any],
    temperatures: dict[str, float],
) -> dict[str, Any]:
    return {
        "schema": HEARTBEAT,
        "station_id": station_id,
        "session": session,
        "at": now_iso(),
        "uptime_s": round(uptime_s, 1),
        "outbox": outbox,
        "link": link,
        "relay": relay,
        "devices": devices,
        "temperatures": temperatures,
    }


@dataclass
class _Series:
    low: float = math.inf
    high: float = -math.inf
    total: float = 0.0
    count: int = 0
    last: float = 0.0

    def add(self, value: float) -> None:
        self.low, self.high = min(self.low, value), max(self.high, value)
        self.total += value
        self.count += 1
        self.last = value

    def summary(self) -> dict[str, float]:
        return {"min": self.low, "max": self.high, "mean": round(self.total / self.count, 3), "last": self.last}


@dataclass
class OfflineAggregate:
    """Heartbeat samples folded together while the broker is unreachable (one event per period)."""

    started_at: str | None = None
    samples: int = 0
    temperatures: dict[str, _Series] = field(default_factory=dict)
    devices_down: dict[str, int] = field(default_factory=dict)
    outbox_pending_max: int = 0

    def add(self, devices: dict[str, Any], temperatures: dict[str, float], outbox_pending: int) -> None:
        if self.started_at is None:
            self.started_at = now_iso()
        self.samples += 1
        for zone, value in temperatures.items():
            self.temperatures.setdefault(zone, _Series()).add(value)
        for name, info in devices.items():
            if isinstance(info, dict) and info.get("available") is False:
                self.devices_down[name] = self.devices_down.get(name, 0) + 1
        self.outbox_pending_max = max(self.outbox_pending_max, outbox_pending)

    def summary(self) -> dict[str, Any] | None:
        """The payload of a `summary` telemetry event, or None without samples."""
        if not self.samples:
            return None
        return {
            "from": self.started_at,
            "to": now_iso(),
            "samples": self.samples,
            "temperatures": {zone: s.summary() for zone, s in self.temperatures.items()},
            "devices_down_samples": dict(self.devices_down),
            "outbox_pending_max": self.outbox_pending_max,
        }
