"""Heartbeats while connected, one summary event per period while offline, snapshots on change."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from station.db.models import Priority
from station.db.types import utcnow
from station.outbox import record_event

from . import outboxio, presence, state
from .contract import SNAPSHOT, now_iso

if TYPE_CHECKING:
    from .component import SyncComponent

log = logging.getLogger(__name__)

SNAPSHOT_DEBOUNCE_S = 1.0  # a burst of changes becomes one snapshot
SUMMARY_TYPE = "summary"  # telemetry-stream event type of an offline summary (topic tele/summary)


class Telemetry:
    def __init__(self, owner: SyncComponent, status_provider: Callable[[], dict[str, Any]] | None) -> None:
        self.owner = owner
        self.status_provider = status_provider
        self.aggregate = presence.OfflineAggregate()
        self._aggregate_since: float | None = None
        self._dirty: asyncio.Event | None = None
        self._snapshot_hash: str | None = None
        self.last_outbox: dict[str, Any] = {}

    def state_changed(self) -> None:
        if self._dirty is not None:
            self._dirty.set()

    async def on_connected(self) -> None:
        """New connection: send what was aggregated offline, and a fresh snapshot."""
        await self.record_summary()
        self._snapshot_hash = None
        self.state_changed()

    async def run(self) -> None:
        self._dirty = asyncio.Event()
        await asyncio.gather(self._heartbeats(), self._snapshots())

    # -- heartbeat -----------------------------------------------------------------------------
    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.owner.config.heartbeat_s)
            try:
                await self.beat()
            except Exception:
                log.exception("heartbeat failed")

    def _device_status(self) -> tuple[dict[str, Any], dict[str, float]]:
        if self.status_provider is None:
            return {}, {}
        try:
            return presence.device_status(self.status_provider() or {})
        except Exception:  # a broken provider must not stop the heartbeat
            log.exception("status provider failed")
            return {}, {}

    async def beat(self) -> None:
        owner, cfg = self.owner, self.owner.config
        stats = await owner.db.read(outboxio.outbox_stats)
        oldest_age = (utcnow() - stats.oldest_pending_at).total_seconds() if stats.oldest_pending_at else None
        self.last_outbox = {
            "pending": stats.pending,
            "pending_telemetry": stats.pending_telemetry,
            "oldest_pending_age_s": round(oldest_age, 1) if oldest_age is not None else None,
        }
        devices, temperatures = self._device_status()
        if owner.connection is not None:
            relay = owner.relay.stats
            payload = presence.heartbeat(
                owner.station_id,
                owner.session,
                uptime_s=time.monotonic() - owner.started_at,
                outbox=self.last_outbox,
                link={
                    "broker": str(owner.connector.current),
                    "protocol": owner.protocol,
                    "connected_since": owner.connected_since,
                },
                relay={
                    "sent": relay.sent,
                    "resent": relay.resent,
                    "acked": relay.acked,
                    "rewinds": relay.rewinds,
                    "outstanding": len(owner.relay.tracker),
                },
                devices=devices,
                temperatures=temperatures,
            )
            owner.publish(owner.topics.heartbeat, payload, qos=0, expiry_s=int(2 * cfg.heartbeat_s) + 1)
            return
        if self._aggregate_since is None:
            self._aggregate_since = time.monotonic()
        self.aggregate.add(devices, temperatures, stats.pending)
        if time.monotonic() - self._aggregate_since >= cfg.offline_summary_s:
            await self.record_summary()

    async def record_summary(self) -> None:
        """Store the offline aggregate as one expiring telemetry event."""
        payload = self.aggregate.summary()
        self.aggregate, self._aggregate_since = presence.OfflineAggregate(), None
        if payload is None:
            return
        expires = utcnow() + timedelta(seconds=self.owner.config.telemetry_ttl_s)
        await self.owner.db.write(
            lambda s: record_event(s, SUMMARY_TYPE, payload, priority=Priority.TELEMETRY, expires_at=expires)
        )

    # -- snapshots -------------------------------------------------------------------------------
    async def _snapshots(self) -> None:
        assert self._dirty is not None
        while True:
            await self._dirty.wait()
            await asyncio.sleep(SNAPSHOT_DEBOUNCE_S)
            self._dirty.clear()
            if self.owner.connection is None:
                continue
            try:
                await self.publish_snapshot(force=False)
            except Exception:
                log.exception("snapshot failed")

    async def publish_snapshot(self, *, force: bool) -> dict[str, Any]:
        """Publish the snapshot (retained) if it changed since the last one on this connection."""
        snap = await self.owner.db.read(state.snapshot)
        digest = state.canonical_sha256(snap)
        payload = {
            "schema": SNAPSHOT,
            "station_id": self.owner.station_id,
            "session": self.owner.session,
            "at": now_iso(),
            "sha256": digest,
            **snap,
        }
        if (force or digest != self._snapshot_hash) and self.owner.publish(
            self.owner.topics.snapshot, payload, qos=1, retain=True
        ):
            self._snapshot_hash = digest
        return payload
