"""The database as a daemon component: migrate at start-up, report outbox depth in health."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from .components import ComponentHealth, ProgressMixin, Status
from .db import migrate
from .db.engine import Database
from .outbox import oldest_pending_at, pending_count

log = logging.getLogger(__name__)

OUTBOX_READ_TIMEOUT_S = 2.0  # a health request waits this long for the db thread, then shows the last value


def use_incremental_vacuum(path: Path) -> None:
    """Once per database file: pages freed by retention can go back to the disk (needs one full VACUUM)."""
    with sqlite3.connect(path, isolation_level=None) as con:
        if con.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:
            return
        started = time.monotonic()
        con.execute("PRAGMA auto_vacuum=INCREMENTAL")
        con.execute("VACUUM")
        log.info("database %s switched to incremental vacuum in %.1f s", path, time.monotonic() - started)
    con.close()


class DatabaseComponent(ProgressMixin):
    name = "database"

    def __init__(self, db: Database) -> None:
        self.db = db
        self._outbox: dict[str, Any] = {"pending": None, "oldest_pending_at": None}

    async def start(self) -> None:
        if not await self.db.call(migrate.is_current, self.db.path):  # only then is Alembic loaded
            before = await self.db.call(migrate.status, self.db.path)
            if before.pending:
                log.info("migrating %s from %s to %s", self.db.path, before.current or "empty", before.head)
                await self.db.call(migrate.upgrade, self.db.path)
        await self.db.call(use_incremental_vacuum, self.db.path)
        await self.db.start()
        await self.refresh()
        log.info("database %s open (epoch %s)", self.db.path, self.db.epoch)

    async def stop(self) -> None:
        await self.db.stop()

    async def refresh(self) -> None:
        """Re-read the outbox depth (the health loop; and every health request, see `outbox`)."""

        def _read(session: Any) -> dict[str, Any]:
            oldest = oldest_pending_at(session)
            return {
                "pending": pending_count(session),
                "oldest_pending_at": oldest.isoformat() if oldest else None,
            }

        self._outbox = await self.db.read(_read)
        self.mark_progress()

    async def outbox(self) -> dict[str, Any]:
        """The outbox depth as the database has it now (two indexed reads on the db thread).

        A health request must answer even when the database does not: after
        `OUTBOX_READ_TIMEOUT_S`, or when the read fails, it shows the value of the last refresh.
        """
        try:
            await asyncio.wait_for(self.refresh(), OUTBOX_READ_TIMEOUT_S)
        except TimeoutError:
            log.warning("outbox depth: no answer from the database within %s s", OUTBOX_READ_TIMEOUT_S)
        except Exception as exc:  # stopping, or the database failed: health shows the last value
            log.debug("outbox depth not refreshed: %r", exc)
        return dict(self._outbox)

    def last_outbox(self) -> dict[str, Any]:
        """The value of the last refresh, without touching the database."""
        return dict(self._outbox)

    def health(self) -> ComponentHealth:
        """Down when not open; degraded while writes fail (disk full, locked), with the last error."""
        db = self.db
        writes = db.write_state()
        status = Status.DOWN if db.engine is None else Status.UP if writes["writes"] == "ok" else Status.DEGRADED
        detail = {"path": str(db.path), "epoch": db.epoch, "pragmas": db.pragmas, "outbox": self.last_outbox(),
                  **writes}
        return ComponentHealth(status, detail)
