"""SyncComponent: the station's MQTT link (relay, commands, presence, telemetry) as a daemon component.

Tasks, all on the event loop: the connector (connect, fail over, back off, run a session per
connection), the command worker (one command at a time, in arrival order), the heartbeat /
offline-summary ticker, the snapshot publisher (on change only) and housekeeping. Writes that
insert outbox rows wake the relay through an engine hook; the relay also polls.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from common.backoff import Backoff
from station import __version__
from station.components import ComponentHealth, ProgressMixin, Status, cancel_tasks
from station.config.mqtt import MqttConfig
from station.db.engine import Database

from . import inbox, outboxio, presence
from .connector import Connector, Endpoint, subscribe_until_granted
from .contract import PLATFORM_STATE, Topics, check_station_id, decode, encode
from .handlers import ColdChainRelease, CommandServices, DoorOpener, register_handlers
from .mqttio import (
    MQTT5,
    ConnectOptions,
    ConnectResult,
    Incoming,
    MqttConnection,
    NotConnected,
    TlsFiles,
    Will,
)
from .relay import Relay
from .router import CommandRouter
from .state import compartment_summary, meta_get, next_session
from .telemetry import Telemetry

log = logging.getLogger(__name__)

CONTROL_RESERVE = 4  # in-flight slots kept free for state, results and snapshots
HOUSEKEEPING_S = 60.0
_OUTBOX_COUNTERS = "SELECT SUM(value) FROM counters WHERE name IN ('outbox.main', 'outbox.telemetry')"
TICK_S = 5.0


class SyncComponent(ProgressMixin):
    name = "sync"

    def __init__(
        self,
        config: MqttConfig,
        station_id: str,
        db: Database,
        *,
        status_provider: Callable[[], dict[str, Any]] | None = None,
        door_opener: DoorOpener | None = None,
        cold_chain_release: ColdChainRelease | None = None,
        staff: Any = None,
        purchases: Any = None,
        validate_overlay: Callable[[dict[str, Any]], None] | None = None,
        software_version: str = __version__,
        config_version: str | None = None,
        config_hash: str | None = None,
    ) -> None:
        self.config, self.station_id, self.db = config, check_station_id(station_id), db
        self.topics = Topics(config.topic_prefix, station_id)
        self.relay = Relay(
            db,
            self.topics,
            station_id,
            window=max(1, config.inflight - CONTROL_RESERVE),
            ack_window=config.ack_window,
            ack_timeout_s=config.ack_timeout_s,
            batch=config.batch,
            poll_s=config.poll_s,
        )
        services = CommandServices(door_opener, self.publish_snapshot, validate_overlay, cold_chain_release, staff,
                                   purchases)
        self.router = CommandRouter(
            db,
            station_id,
            config.operator_keys,
            services=services,
            clock_skew_s=config.clock_skew_s,
            max_lifetime_s=config.command_max_lifetime_s,
        )
        register_handlers(self.router)
        self.telemetry = Telemetry(self, status_provider)
        self.identity: dict[str, Any] = {
            "software_version": software_version,
            "config_version": config_version,
            "config_hash": config_hash,
        }
        endpoints = [Endpoint(b.host, b.port, b.protocol) for b in config.brokers]
        self.connector = Connector(
            endpoints,
            self._connect_options,
            backoff=Backoff(config.reconnect_min_s, config.reconnect_max_s),
            name="mqtt",
            on_message=self._on_message,
            on_puback=self._on_puback,
        )
        self.session = 0
        self.connection: MqttConnection | None = None
        self.protocol: str | None = None
        self.connected_since: float | None = None
        self.started_at = time.monotonic()
        self._commands: asyncio.Queue[tuple[Incoming, str]] | None = None
        self._platform_session: str | None = None
        self._results: collections.deque[dict[str, Any]] = collections.deque(maxlen=1000)
        self._puback_waiters: dict[int, asyncio.Future[None]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._hook: list[tuple[Any, str, Callable[..., Any]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._commands = asyncio.Queue(maxsize=1000)
        await self.db.call(self._install_write_hook)  # on the db thread: no listener changes mid-commit
        self.relay.start()
        self._results.extend(await self.router.recover())
        for name, coro in (
            ("sync-connector", self.connector.run(self._session)),
            ("sync-commands", self._command_worker()),
            ("sync-telemetry", self.telemetry.run()),
            ("sync-housekeeping", self._housekeeping()),
            ("sync-tick", self._tick()),
        ):
            self._tasks.append(asyncio.create_task(coro, name=name))
        self.mark_progress()

    async def stop(self) -> None:
        """Publish 'offline' (retained), DISCONNECT cleanly (no Will), write received acks, stop."""
        conn = self.connection
        if conn is not None and conn.connected:
            try:
                payload = encode(presence.offline(self.station_id, self.session, "shutdown"))
                mid = conn.publish(self.topics.state, payload, qos=1, retain=True)
                await self._wait_puback(mid, 1.0)
            except (NotConnected, TimeoutError):
                pass
            self.connector.stopping = True
            await conn.disconnect(wait_s=1.0)
        await cancel_tasks(self._tasks)
        self._tasks.clear()
        await self.relay.stop()
        self.connector.shutdown()
        if self._hook:
            await self.db.call(self._remove_write_hook)

    def notify(self) -> None:
        """Call after committing outbox events (the write hook does this automatically)."""
        self.relay.notify()
        self.telemetry.state_changed()

    # -- wake-up hook ------------------------------------------------------------------------------
    def _install_write_hook(self) -> None:
        """Wake the relay when a commit added outbox rows (the hook runs on the db thread, just before COMMIT).

        `record_event` writes through the raw sqlite3 cursor, invisible to SQLAlchemy's execute
        events, so the hook compares the outbox counters instead: one indexed read per commit.
        """
        engine, loop = self.db.engine, self._loop
        if engine is None or loop is None:
            return
        last: list[int | None] = [-1]

        def on_commit(conn: Any) -> None:
            # Never raise here: an exception in a commit listener would skip the COMMIT itself.
            try:
                cursor = conn.connection.driver_connection.cursor()
                try:
                    total = cursor.execute(_OUTBOX_COUNTERS).fetchone()[0] or 0
                finally:
                    cursor.close()
            except Exception:
                total = None  # unknown: wake the relay anyway
            if total is None or total != last[0]:
                last[0] = total
                with contextlib.suppress(RuntimeError):  # loop already closed at shutdown
                    loop.call_soon_threadsafe(self.notify)

        event.listen(engine, "commit", on_commit)
        self._hook.append((engine, "commit", on_commit))

    def _remove_write_hook(self) -> None:
        for engine, name, fn in self._hook:
            with contextlib.suppress(Exception):
                event.remove(engine, name, fn)
        self._hook.clear()

    # -- connection -------------------------------------------------------------------------------------
    async def _connect_options(self) -> ConnectOptions:
        """Fresh options per attempt: the session counter grows and the Will names it."""
        self.session = await self.db.write(next_session)
        cfg = self.config
        will = presence.will(self.station_id, self.session)
        tls = TlsFiles(cfg.tls.ca_file, cfg.tls.cert_file, cfg.tls.key_file) if cfg.tls else None
        return ConnectOptions(
            client_id=cfg.client_id or self.station_id,
            clean=False,
            username=cfg.username,
            password=cfg.password,
            tls=tls,
            keepalive_s=cfg.keepalive_s,
            session_expiry_s=cfg.session_expiry_s,
            will=Will(self.topics.state, encode(will), qos=1, retain=True),
            connect_timeout_s=cfg.connect_timeout_s,
            inflight=0,  # the relay's window (config.inflight) is the only cap
        )

    async def _session(self, conn: MqttConnection, result: ConnectResult) -> None:
        """One connection's life: subscribe, birth, pending results, snapshot, then drain."""
        window = self.config.inflight
        if result.receive_maximum:
            window = min(window, result.receive_maximum)
        # Retain-as-published on the command filter (MQTT 5): a command its publisher sent with
        # retain=1 keeps the flag even on live delivery, so the router can refuse it.
        await subscribe_until_granted(
            conn,
            [(self.topics.cmd_filter, 1), (self.topics.ack, 1), (self.topics.platform_state, 1)],
            retain_as_published={self.topics.cmd_filter},
        )
        self.connection, self.protocol, self.connected_since = conn, result.protocol, time.time()
        if result.protocol != MQTT5:
            log.info(
                "MQTT %s: a command published with retain=1 cannot be told from a live one here (only broker "
                "replays can); the broker must refuse retained publishes on %s (docs/mqtt.md 6.2, 7)",
                result.protocol,
                self.topics.cmd_filter,
            )
        try:
            conn.publish(self.topics.state, encode(await self._birth(result.protocol)), qos=1, retain=True)
            while self._results:
                self._publish_result(self._results.popleft())
            await self.telemetry.on_connected()
            await self.relay.run(conn, window=max(1, window - CONTROL_RESERVE))
        finally:
            self.connection, self.connected_since = None, None

    async def _birth(self, protocol: str) -> dict[str, Any]:
        def _read(session: Any) -> tuple[dict[str, Any], int, str | None]:
            stats = outboxio.outbox_stats(session)
            return compartment_summary(session), stats.pending, meta_get(session, "config_overlay_sha256")

        summary, pending, overlay = await self.db.read(_read)
        return presence.birth(
            self.station_id,
            self.session,
            overlay_sha256=overlay,
            db_epoch=self.db.epoch,
            compartments=summary,
            outbox_pending=pending,
            protocol=protocol,
            **self.identity,
        )

    def _on_puback(self, mid: int) -> None:
        waiter = self._puback_waiters.pop(mid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self.relay.on_puback(mid)

    async def _wait_puback(self, mid: int, wait_s: float) -> None:
        fut = asyncio.get_running_loop().create_future()
        self._puback_waiters[mid] = fut
        try:
            await asyncio.wait_for(fut, wait_s)
        finally:
            self._puback_waiters.pop(mid, None)

    def publish(
        self, topic: str, payload: dict[str, Any], *, qos: int = 1, retain: bool = False, expiry_s: int | None = None
    ) -> bool:
        """Publish on the current connection; False when there is none."""
        conn = self.connection
        if conn is None:
            return False
        try:
            conn.publish(topic, encode(payload), qos=qos, retain=retain, expiry_s=expiry_s)
        except NotConnected:
            return False
        return True

    # -- incoming -----------------------------------------------------------------------------------------
    def _on_message(self, msg: Incoming) -> None:
        if msg.topic == self.topics.ack:
            try:
                ack = decode(msg.payload)
            except ValueError:
                log.warning("ignoring an ack that is not a JSON object")
                return
            self.relay.on_ack(ack)
            return
        if msg.topic == self.topics.platform_state:
            self._on_platform_state(msg)
            return
        prefix = self.topics.base + "/cmd/"
        if msg.topic.startswith(prefix) and self._commands is not None:
            try:
                self._commands.put_nowait((msg, msg.topic[len(prefix) :]))
            except asyncio.QueueFull:
                log.error("command queue full: dropping a command on %s", msg.topic)

    def _on_platform_state(self, msg: Incoming) -> None:
        """A platform connection announced live (not the retained state replayed at subscribe: every
        connection of ours starts with a re-send anyway) may have lost what was in flight to it."""
        try:
            state = decode(msg.payload)
        except ValueError:
            log.warning("ignoring a platform state that is not a JSON object")
            return
        session = state.get("session")
        if state.get("schema") != PLATFORM_STATE or state.get("state") != "online" or not isinstance(session, str):
            return
        if not msg.retain and session != self._platform_session:
            self.relay.platform_reconnected()
        self._platform_session = session

    async def _command_worker(self) -> None:
        assert self._commands is not None
        while True:
            msg, action = await self._commands.get()
            try:
                result = await self.router.handle(msg, action)
            except Exception:  # the database failed under us: no answer is better than a wrong one
                log.exception("command on %s could not be processed", msg.topic)
                continue
            self._publish_result(result)
            self.mark_progress()

    def _publish_result(self, result: dict[str, Any]) -> None:
        conn, cmd_id = self.connection, result.get("cmd_id")
        try:
            if conn is None:
                raise NotConnected("offline")
            correlation = cmd_id.encode() if isinstance(cmd_id, str) else None
            conn.publish(self.topics.cmd_resp, encode(result), qos=1, correlation=correlation)
        except NotConnected:
            self._results.append(result)  # answered after the next connect

    async def publish_snapshot(self) -> dict[str, Any]:
        """Build the state snapshot, publish it (retained) and return it (the snapshot command)."""
        return await self.telemetry.publish_snapshot(force=True)

    # -- background ---------------------------------------------------------------------------------------
    async def _housekeeping(self) -> None:
        keep = timedelta(days=self.config.delivered_retention_days)
        while True:
            await asyncio.sleep(HOUSEKEEPING_S)
            try:
                await self.db.write(lambda s: outboxio.shrink_telemetry(s, self.config.telemetry_max_rows))
                await self.db.write(lambda s: inbox.prune(s, keep))
                # Delivered outbox rows are removed by the station's retention, in small batches.
            except Exception:
                log.exception("sync housekeeping failed")

    async def _tick(self) -> None:
        """Progress for the watchdog: only while every sync task is alive."""
        while True:
            dead = [t.get_name() for t in self._tasks if t.done() and t is not asyncio.current_task()]
            if dead:
                log.error("sync tasks stopped: %s", ", ".join(dead))
            else:
                self.mark_progress()
            await asyncio.sleep(TICK_S)

    def health(self) -> ComponentHealth:
        conn = self.connection
        detail = {
            "connected": conn is not None,
            "broker": str(self.connector.current) if conn is not None else None,
            "protocol": self.protocol if conn is not None else None,
            "session": self.session,
            "outstanding": len(self.relay.tracker),
            "relay": {k: v for k, v in dataclasses.asdict(self.relay.stats).items() if not k.startswith("last_")},
            "link": self.connector.availability.last_error,
        }
        return ComponentHealth(Status.UP if conn is not None else Status.DEGRADED, detail)
