"""Fixtures for the sync tests: a migrated station database, private brokers, a platform consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from central.consumer import Platform
from common.backoff import Backoff
from simulators.mqtt.localbroker import Mosquitto
from station.db.engine import Database
from sync.connector import Endpoint


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    """The station database started on its db thread (the root fixture only opens it)."""
    database = Database(db_path)
    await database.start()
    yield database
    await database.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture
async def platform(tmp_path: Path, mosquitto: Mosquitto) -> AsyncIterator[Platform]:
    consumer = Platform([Endpoint("127.0.0.1", mosquitto.port)], tmp_path / "platform.db", backoff=Backoff(0.05, 0.3))
    await consumer.start()
    await asyncio.wait_for(consumer.connected.wait(), 5)
    yield consumer
    await consumer.stop()
