"""The database as a daemon component: migrate at start-up, report outbox depth in health."""

from __future__ import annotations

import logging
from typing import Any

from .components import ComponentHealth, ProgressMixin, Status
from .db import migrate
from .db.engine import Database
from .outbox import oldest_pending_at, pending_count

log = logging.getLogger(__name__)


class DatabaseComponent(ProgressMixin):
    name = "database"

    def __init__(self, db: Database) -> None:
        self.db = db
        self._outbox: dict[str, Any] = {"pending": None, "oldest_pending_at": None}

    async def start(self) -> None:
        before = await self.db.call(migrate.status, self.db.path)
        if before.pending:
            log.info("migrating %s from %s to %s", self.db.path, before.current or "empty", before.head)
            await self.db.call(migrate.upgrade, self.db.path)
        await self.db.start()
        await self.refresh()
        log.info("database %s open (epoch %s)", self.db.path, self.db.epoch)

    async def stop(self) -> None:
        await self.db.stop()

    async def refresh(self) -> None:
        """Re-read the outbox depth (called by the health loop, never per request)."""

        def _read(session: Any) -> dict[str, Any]:
            oldest = oldest_pending_at(session)
            return {
                "pending": pending_count(session),
                "oldest_pending_at": oldest.isoformat() if oldest else None,
            }

        self._outbox = await self.db.read(_read)
        self.mark_progress()

    def outbox(self) -> dict[str, Any]:
        return dict(self._outbox)

    def health(self) -> ComponentHealth:
        """Down when not open; degraded while writes fail (disk full, locked), with the last error."""
        db = self.db
        writes = db.write_state()
        status = Status.DOWN if db.engine is None else Status.UP if writes["writes"] == "ok" else Status.DEGRADED
        detail = {"path": str(db.path), "epoch": db.epoch, "pragmas": db.pragmas, "outbox": self.outbox(), **writes}
        return ComponentHealth(status, detail)
