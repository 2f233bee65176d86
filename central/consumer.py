"""Reference platform consumer: subscribes to all stations, dedupes, checks gaps, acks cumulatively.

Messages are collected for `flush_interval_s` (or `max_batch` events), committed to the store in
one transaction on the `platform-db` thread, and only then acknowledged: one `ack/1` per
(station, epoch) with the contiguous high-water mark plus the ids of events received above it
(and of telemetry events). Duplicates are acknowledged again, so a station whose ack was lost
still learns it. A gap that persists for `reorder_timeout_s` while the station's heartbeat
reports an empty backlog is answered with `resend_from` (safety-and-sync.md §2.4).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from common.backoff import Backoff
from common.tasks import cancel_tasks
from sync.connector import Connector, Endpoint, subscribe_until_granted
from sync.contract import (
    ACK,
    COMMAND_RESULT,
    EVENT,
    HEARTBEAT,
    PLATFORM_STATE,
    SNAPSHOT,
    STATE,
    Topics,
    decode,
    encode,
    now_iso,
)
from sync.mqttio import ConnectOptions, ConnectResult, Incoming, MqttConnection, NotConnected, TlsFiles, Will

from .store import PlatformStore

log = logging.getLogger(__name__)
T = TypeVar("T")

_EVENT_KEYS = ("station_id", "db_epoch", "event_id", "stream", "seq", "type", "payload")


@dataclass
class PlatformStats:
    received: int = 0
    applied: int = 0
    wire_duplicates: int = 0
    conflicts: int = 0
    malformed: int = 0
    acks_sent: int = 0
    resend_requests: int = 0


class Platform:
    def __init__(
        self,
        endpoints: list[Endpoint],
        store_path: Path,
        *,
        prefix: str = "station",
        client_id: str = "platform-ingest",
        username: str | None = None,
        password: str | None = None,
        tls: TlsFiles | None = None,
        flush_interval_s: float = 0.05,
        max_batch: int = 2000,
        reorder_timeout_s: float = 10.0,
        backoff: Backoff | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        announce: bool = True,
    ) -> None:
        """`announce=False`: no `platform-state/1` presence (as a platform that predates it), so stations
        fall back on their ack timeout alone."""
        self.topics = Topics(prefix, "+")
        self.store = PlatformStore(store_path)
        self.stats = PlatformStats()
        self.flush_interval_s, self.max_batch, self.reorder_timeout_s = flush_interval_s, max_batch, reorder_timeout_s
        self.on_event = on_event
        self.announce = announce
        self._options = ConnectOptions(
            client_id=client_id,
            clean=False,
            username=username,
            password=password,
            tls=tls,
            session_expiry_s=7 * 86_400,
            inflight=0,
        )
        self.connector = Connector(
            endpoints,
            self._connect_options,
            backoff=backoff or Backoff(0.2, 5.0),
            name="platform",
            on_message=self._on_message,
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="platform-db")
        self._events: list[dict[str, Any]] = []
        self._other: list[tuple[str, dict[str, Any]]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._gap_since: dict[tuple[str, str], float] = {}
        self._backlog: dict[str, int] = {}  # station -> outbox depth from its last heartbeat
        self.connection: MqttConnection | None = None
        self.connected = asyncio.Event()
        self._session_id = ""

    async def _connect_options(self) -> ConnectOptions:
        """Every connection announces itself with a new session id; its Will says it went away."""
        self._session_id = uuid.uuid4().hex
        if not self.announce:
            return self._options
        # Composed now, published by the broker when the link is lost: no `at`, only when this connection began.
        will = encode(
            {
                "schema": PLATFORM_STATE,
                "state": "offline",
                "session": self._session_id,
                "connected_at": now_iso(),
                "reason": "connection_lost",
            }
        )
        return dataclasses.replace(self._options, will=Will(self.topics.platform_state, will, qos=1, retain=True))

    def _presence(self, state: str, **extra: str) -> bytes:
        """`platform-state/1`: stations re-send what they have outstanding when a new session appears."""
        return encode({"schema": PLATFORM_STATE, "state": state, "session": self._session_id, "at": now_iso(), **extra})

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run store work on the platform-db thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def start(self) -> None:
        await self.call(self.store.open)
        self._tasks = [
            asyncio.create_task(self.connector.run(self._session), name="platform-connector"),
            asyncio.create_task(self._flusher(), name="platform-flusher"),
        ]

    async def stop(self) -> None:
        conn = self.connection
        if conn is not None:
            self.connector.stopping = True
            if self.announce:
                goodbye = self._presence("offline", reason="shutdown")
                with contextlib.suppress(NotConnected):
                    conn.publish(self.topics.platform_state, goodbye, qos=1, retain=True)
            await conn.disconnect(wait_s=1.0)
        await cancel_tasks(self._tasks)
        self.connector.shutdown()
        await self.call(self.store.close)
        self._executor.shutdown(wait=True)

    async def _session(self, conn: MqttConnection, _result: ConnectResult) -> None:
        t = self.topics
        await subscribe_until_granted(conn, [(t.evt_filter, 1), (t.tele_filter, 1), (t.state, 1), (t.cmd_resp, 1)])
        if self.announce:
            conn.publish(t.platform_state, self._presence("online"), qos=1, retain=True)  # after subscribing: ready
        self.connection = conn
        self.connected.set()
        try:
            await conn.closed
        finally:
            self.connection = None
            self.connected.clear()

    # -- intake (loop thread) ---------------------------------------------------------------------
    def _on_message(self, msg: Incoming) -> None:
        if msg.topic == self.topics.platform_state:  # our own presence, seen through `<prefix>/+/state`
            return
        self.stats.received += 1
        try:
            obj = decode(msg.payload)
        except ValueError:
            self.stats.malformed += 1
            return
        schema = obj.get("schema")
        if schema == EVENT:
            if not all(k in obj for k in _EVENT_KEYS):
                self.stats.malformed += 1
                return
            self._events.append(obj)
            if len(self._events) >= self.max_batch:
                self._wake.set()
        elif schema in (STATE, HEARTBEAT, SNAPSHOT, COMMAND_RESULT) and isinstance(obj.get("station_id"), str):
            if schema == HEARTBEAT and isinstance(obj.get("outbox"), dict):
                self._backlog[obj["station_id"]] = int(obj["outbox"].get("pending") or 0)
            self._other.append((schema, obj))
            self._wake.set()
        else:
            self.stats.malformed += 1

    async def _flusher(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("platform flush failed")

    async def flush(self) -> None:
        """Commit what arrived, then ack it."""
        events, self._events = self._events, []
        other, self._other = self._other, []
        if other:
            await self.call(self._store_other, other)
        if not events:
            self._check_gaps({})
            return
        try:
            outcome = await self.call(self.store.apply, events)
        except Exception:
            self._events[:0] = events  # nothing was committed or acked: try again at the next flush
            raise
        self.stats.applied += outcome.applied
        self.stats.wire_duplicates += outcome.duplicates
        self.stats.conflicts += outcome.conflicts
        self._check_gaps(outcome.acks)
        for (station_id, epoch), ack in outcome.acks.items():
            self.send_ack(station_id, epoch, ack["upto"], ack["event_ids"], ranges=ack["ranges"])
        if self.on_event is not None:
            for env in events:
                self.on_event(env)

    def _store_other(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        db = self.store.db
        db.execute("BEGIN")
        for schema, obj in items:
            if schema == STATE:
                self.store.put_presence(obj)
            elif schema == COMMAND_RESULT:
                self.store.put_result(obj)
            else:
                self.store.put_latest(obj["station_id"], schema.split("/")[0], obj)
        db.execute("COMMIT")

    def _check_gaps(self, acks: dict[tuple[str, str], dict[str, Any]]) -> None:
        now = time.monotonic()
        gaps = self.store.gaps()
        for key in list(self._gap_since):
            if key not in gaps:
                del self._gap_since[key]
        for key, (first_missing, _next) in gaps.items():
            since = self._gap_since.setdefault(key, now)
            if now - since >= self.reorder_timeout_s and self._backlog.get(key[0], 1) == 0:
                log.warning("station %s epoch %s: seq %d missing; asking for a re-send", *key, first_missing)
                self.stats.resend_requests += 1
                self._gap_since[key] = now
                hwm = self.store.hwm.get(key, 0)
                self.send_ack(key[0], key[1], hwm, [], resend_from=first_missing)

    def send_ack(
        self,
        station_id: str,
        epoch: str,
        upto: int,
        ids: list[str],
        *,
        ranges: list[list[int]] | None = None,
        resend_from: int | None = None,
    ) -> None:
        conn = self.connection
        if conn is None:
            return  # the station re-sends; the duplicate is acked then
        ack: dict[str, Any] = {
            "schema": ACK,
            "station_id": station_id,
            "db_epoch": epoch,
            "upto": upto,
            "ranges": ranges or [],
            "event_ids": ids,
            "at": now_iso(),
        }
        if resend_from is not None:
            ack["resend_from"] = resend_from
        try:
            conn.publish(Topics(self.topics.prefix, station_id).ack, encode(ack), qos=1)
            self.stats.acks_sent += 1
        except NotConnected:
            pass

    # -- helpers for tests and tools ---------------------------------------------------------------------
    async def wait_for(self, predicate: Callable[[], bool], within_s: float) -> bool:
        """Poll `predicate` until it holds or `within_s` passed; returns its last value."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.02)
        return predicate()

    def hwm(self, station_id: str, epoch: str) -> int:
        return self.store.hwm.get((station_id, epoch), 0)
