"""Keep one MQTT connection up across several brokers: fail over, back off, never give up."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

from common.availability import Availability
from common.backoff import Backoff

from .mqttio import (
    ConnectError,
    ConnectOptions,
    ConnectResult,
    MqttConnection,
    NotConnected,
    SubscribeRefused,
    open_connection,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    protocol: str = "auto"  # "auto" | "5" | "3.1.1"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


Session = Callable[[MqttConnection, ConnectResult], Awaitable[None]]
OptionsFactory = Callable[[], Awaitable[ConnectOptions]]


class Connector:
    """Connect to the first reachable broker, run `session` while connected, repeat forever.

    A failed attempt moves on to the next broker at once; a whole round of failures waits a
    capped, jittered backoff. After a dropped connection the same broker is tried first.
    """

    def __init__(
        self,
        endpoints: list[Endpoint],
        options: OptionsFactory,
        *,
        backoff: Backoff,
        name: str = "mqtt",
        on_message: Callable[..., None] | None = None,
        on_puback: Callable[[int], None] | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("at least one broker is required")
        self.endpoints = endpoints
        self._options = options
        self._backoff = backoff
        self._callbacks: dict[str, Any] = {"on_message": on_message, "on_puback": on_puback}
        self._protocols: dict[Endpoint, str] = {}
        self._index = 0
        self.availability = Availability(f"{name} broker link", log)
        self.connection: MqttConnection | None = None
        self.current: Endpoint | None = None
        self.connects = 0
        self.stopping = False  # set before a deliberate disconnect: not worth a warning
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-connect")

    async def _attempt(self, endpoint: Endpoint) -> tuple[MqttConnection, ConnectResult]:
        options = await self._options()
        protocol = self._protocols.get(endpoint, endpoint.protocol)

        def remember(version: str) -> None:
            self._protocols[endpoint] = version

        conn, result = await open_connection(
            endpoint.host, endpoint.port, protocol, options, self._executor, on_fallback=remember, **self._callbacks
        )
        return conn, result

    async def run(self, session: Session) -> None:
        """Run until cancelled."""
        failures_in_round = 0
        while True:
            endpoint = self.endpoints[self._index]
            try:
                conn, result = await self._attempt(endpoint)
            except ConnectError as exc:
                self.availability.mark_down(str(exc))
                self._index = (self._index + 1) % len(self.endpoints)
                failures_in_round += 1
                if failures_in_round >= len(self.endpoints):
                    failures_in_round = 0
                    await asyncio.sleep(self._backoff.next_delay())
                continue
            failures_in_round = 0
            self._backoff.reset()
            self.availability.mark_up()
            self.connection, self.current = conn, endpoint
            self.connects += 1
            log.info(
                "connected to %s (MQTT %s, session present: %s)", endpoint, result.protocol, result.session_present
            )
            try:
                await session(conn, result)
            except (NotConnected, ConnectError) as exc:
                log.warning("session on %s ended: %s", endpoint, exc)
            except Exception:  # a bug in one session must not end the reconnect loop
                log.exception("session on %s failed", endpoint)
            finally:
                if not conn.closed.done():
                    conn.abort()
                self.connection = None
                reason = conn.closed.result() if conn.closed.done() else "closed"
                if self.stopping:
                    log.info("disconnected from %s", endpoint)
                else:
                    self.availability.mark_down(f"connection to {endpoint} lost: {reason}")
            await asyncio.sleep(self._backoff.next_delay())

    def shutdown(self) -> None:
        """Release the connect thread (an attempt in progress finishes within its timeout)."""
        self.stopping = True
        self._executor.shutdown(wait=False, cancel_futures=True)


async def subscribe_until_granted(
    conn: MqttConnection,
    topics: list[tuple[str, int]],
    *,
    retry: Backoff | None = None,
    wait_s: float = 30.0,
    retain_as_published: Collection[str] = (),
) -> None:
    """Subscribe, asking again for refused topics on the same connection until all are granted.

    A clustered broker refuses (or answers late) while it re-elects after losing a node (NATS
    keeps MQTT sessions in JetStream). Dropping the connection for that would make the broker
    take the session over again each time and slow its recovery; the link's keepalive still
    ends a connection that is really dead (NotConnected then). The SUBACK wait is long because
    asking again while the broker is still working on the first request only adds to its load.
    """
    retry = retry or Backoff(0.5, 10.0)
    pending, refusals = list(topics), 0
    while True:
        try:
            await conn.subscribe(pending, wait_s, retain_as_published=retain_as_published)
        except SubscribeRefused as exc:
            refusals += 1
            (log.warning if refusals == 1 else log.debug)("%s; asking again", exc)
            pending = exc.topics
            await asyncio.sleep(retry.next_delay())
            continue
        if refusals:
            log.info("%s:%s granted every subscription after %d refusals", conn.host, conn.port, refusals)
        return
