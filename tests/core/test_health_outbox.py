"""The outbox depth in /api/health: read from the database on each request, never waiting on it for long."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from station import dbcomponent
from station.db import migrate
from station.db.engine import Database, StorageUnavailable
from station.db.models import Priority
from station.dbcomponent import DatabaseComponent
from station.outbox import record_event


@pytest.fixture
async def component(tmp_path: Path) -> AsyncIterator[DatabaseComponent]:
    path = tmp_path / "station.db"
    migrate.upgrade(path)
    comp = DatabaseComponent(Database(path))
    await comp.start()
    yield comp
    await comp.stop()


async def test_each_read_shows_the_depth_the_database_has_now(component: DatabaseComponent) -> None:
    assert (await component.outbox())["pending"] == 0
    await component.db.write(lambda s: record_event(s, "test.event", {"n": 1}, priority=Priority.STOCK))
    now = await component.outbox()
    assert now["pending"] == 1 and now["oldest_pending_at"] is not None


async def test_a_stuck_database_thread_gets_the_last_depth_after_the_timeout(
    component: DatabaseComponent, monkeypatch: pytest.MonkeyPatch
) -> None:
    await component.db.write(lambda s: record_event(s, "test.event", {"n": 1}, priority=Priority.STOCK))
    last = await component.outbox()
    monkeypatch.setattr(dbcomponent, "OUTBOX_READ_TIMEOUT_S", 0.2)
    release = threading.Event()
    stuck = asyncio.ensure_future(component.db.read(lambda s: release.wait(10)))  # the one db thread is busy
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await component.outbox()
    took = loop.time() - started
    release.set()
    await stuck
    assert answer == last and 0.15 < took < 1.0


async def test_a_failing_database_gets_the_last_depth_at_once(
    component: DatabaseComponent, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = await component.outbox()

    async def failing(fn: Any) -> Any:
        raise StorageUnavailable("disk I/O error")

    monkeypatch.setattr(component.db, "read", failing)
    assert await component.outbox() == last
