"""Helpers shared by the sync tests (imported by name: this directory is on sys.path)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Callable
from typing import Any

from station.config.mqtt import BrokerConfig, MqttConfig
from station.db.engine import Database
from station.db.models import Priority
from station.outbox import record_event
from sync.mqttio import ConnectOptions, Incoming, MqttConnection, open_connection

STATION = "st-a"


def mqtt_config(*ports: int, **overrides: Any) -> MqttConfig:
    """Fast timings for tests: quick reconnects, short ack timeout, frequent polls."""
    values: dict[str, Any] = {
        "brokers": [BrokerConfig(host="127.0.0.1", port=p) for p in ports],
        "keepalive_s": 5,
        "connect_timeout_s": 2.0,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.3,
        "ack_timeout_s": 3.0,
        "poll_s": 0.5,
        "heartbeat_s": 30.0,
    }
    values.update(overrides)
    return MqttConfig(**values)


async def record_sales(db: Database, count: int, *, start: int = 0, priority: Priority = Priority.MONEY) -> None:
    """`count` sale events in one transaction each batch of 500 (like a busy shop after a week)."""

    def _write(session: Any, first: int, n: int) -> None:
        for i in range(first, first + n):
            record_event(
                session, "sale.captured", {"sale_id": f"s-{i}", "total_cents": 100 + i % 900}, priority=priority
            )

    done = 0
    while done < count:
        n = min(500, count - done)
        await db.write(lambda s, f=start + done, k=n: _write(s, f, k))
        done += n


class Observer:
    """A plain MQTT client for tests: subscribes and records every message it receives."""

    def __init__(
        self, port: int, topics: list[tuple[str, int]], *, client_id: str = "observer", **options: Any
    ) -> None:
        self.port, self.topics = port, topics
        self.options = ConnectOptions(client_id=client_id, clean=True, **options)
        self.messages: list[Incoming] = []
        self.conn: MqttConnection | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="observer-connect")

    async def start(self) -> Observer:
        self.conn, _ = await open_connection(
            "127.0.0.1", self.port, "auto", self.options, self._executor, on_message=self.messages.append
        )
        if self.topics:
            await self.conn.subscribe(self.topics)
        return self

    async def stop(self) -> None:
        if self.conn is not None:
            await self.conn.disconnect()
        self._executor.shutdown(wait=False)

    def decoded(self, suffix: str = "") -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.messages if m.topic.endswith(suffix) and m.payload]

    async def wait_for(self, predicate: Callable[[], bool], within_s: float = 5.0) -> bool:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.02)
        return predicate()


async def wait_connected(component: Any, within_s: float = 5.0) -> None:
    """Until the station's session is up (subscribed, birth sent)."""
    deadline = time.monotonic() + within_s
    while component.connection is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the station did not connect")
        await asyncio.sleep(0.02)
