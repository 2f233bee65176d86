"""The outbox relay: drain undelivered events over QoS 1; a row is delivered only on the platform's ack.

Per connection the relay walks the outbox from the lowest undelivered sequence of every
priority class (money, alarms, stock/audit, telemetry: in that order), keeps at most `window`
PUBLISHes without PUBACK and at most `ack_window` events without a platform ack. PUBACK only
frees the send window. Platform acks (cumulative "applied up to seq N of epoch E" plus single
event ids) are written to the database by one ack-writer task. If the platform stays silent for
`ack_timeout` while events are outstanding, the relay rewinds and re-sends them (the platform
dedupes); the timeout doubles on every rewind up to a cap and resets on progress.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from common.tasks import cancel_tasks
from station.db.engine import Database
from station.outbox import MAIN

from .contract import Topics
from .mqttio import MqttConnection, NotConnected
from .outboxio import PRIORITIES, Pending, apply_ack, fetch_pending, reopen_from

log = logging.getLogger(__name__)


@dataclass
class RelayStats:
    sent: int = 0
    resent: int = 0
    pubacks: int = 0
    acked: int = 0
    rewinds: int = 0
    platform_rewinds: int = 0  # re-sends because the platform announced a new connection
    last_ack_at: float | None = None
    last_send_at: float | None = None


class AckTracker:
    """Events sent and not yet acknowledged by the platform (bounded by the ack window)."""

    def __init__(self) -> None:
        self._main: dict[int, str] = {}  # seq -> event id
        self._heap: list[int] = []
        self._ids: dict[str, int | None] = {}  # event id -> main seq (None for telemetry)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event: Pending) -> None:
        if event.event_id in self._ids:
            return
        if event.stream == MAIN:
            self._main[event.seq] = event.event_id
            heapq.heappush(self._heap, event.seq)
            self._ids[event.event_id] = event.seq
        else:
            self._ids[event.event_id] = None

    def ack(self, upto: int | None, ranges: list[tuple[int, int]], event_ids: list[str]) -> int:
        """Forget what an ack covers; returns how many outstanding events it settled."""
        before = len(self._ids)
        if upto is not None:
            while self._heap and self._heap[0] <= upto:
                seq = heapq.heappop(self._heap)
                event_id = self._main.pop(seq, None)
                if event_id is not None:
                    self._ids.pop(event_id, None)
        for lo, hi in ranges:  # their heap entries are skipped lazily
            seqs = range(lo, hi + 1) if hi - lo < len(self._main) else [q for q in self._main if lo <= q <= hi]
            for seq in seqs:
                event_id = self._main.pop(seq, None)
                if event_id is not None:
                    self._ids.pop(event_id, None)
        for event_id in event_ids:
            popped = self._ids.pop(event_id, None)
            if popped is not None:
                self._main.pop(popped, None)  # its heap entry is skipped lazily
        return before - len(self._ids)

    def clear(self) -> None:
        self._main.clear()
        self._heap.clear()
        self._ids.clear()


@dataclass
class _AckBacklog:
    """Acks received and not yet written, coalesced: the highest cumulative seq, ranges, ids."""

    upto: int | None = None
    ranges: list[tuple[int, int]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    resend_from: int | None = None

    def take(self) -> _AckBacklog:
        taken = _AckBacklog(self.upto, self.ranges, self.ids, self.resend_from)
        self.upto, self.ranges, self.ids, self.resend_from = None, [], [], None
        return taken

    def empty(self) -> bool:
        return self.upto is None and not self.ranges and not self.ids and self.resend_from is None


class Relay:
    def __init__(
        self,
        db: Database,
        topics: Topics,
        station_id: str,
        *,
        window: int = 200,
        ack_window: int = 5000,
        ack_timeout_s: float = 30.0,
        ack_timeout_max_s: float = 600.0,
        batch: int = 256,
        poll_s: float = 2.0,
    ) -> None:
        self.db, self.topics, self.station_id = db, topics, station_id
        self.window, self.ack_window, self.batch, self.poll_s = window, ack_window, batch, poll_s
        self.ack_timeout_base, self.ack_timeout_max = ack_timeout_s, ack_timeout_max_s
        self.ack_timeout = ack_timeout_s
        self.stats = RelayStats()
        self.tracker = AckTracker()
        self._cursor: dict[int, int] = dict.fromkeys(PRIORITIES, 0)
        self._highest_sent: dict[int, int] = dict.fromkeys(PRIORITIES, 0)
        self._inflight: set[int] = set()
        self._wake = asyncio.Event()
        self._ack_wake = asyncio.Event()
        self._acks = _AckBacklog()
        self._ack_deadline: float | None = None
        self._platform_back = False
        self._generation = 0  # bumped by every rewind: a read that overlapped one is dropped
        self._ready: collections.deque[Pending] = collections.deque()  # read ahead, not yet sent
        self._drained = False  # the last read found nothing more: wait for a wake-up or the poll
        self._conn: MqttConnection | None = None
        self._ack_task: asyncio.Task[None] | None = None

    # -- hooks ------------------------------------------------------------------------------
    def notify(self) -> None:
        """New events were committed: look at the outbox now instead of at the next poll."""
        self._drained = False
        self._wake.set()

    def on_puback(self, mid: int) -> None:
        if mid in self._inflight:
            self._inflight.discard(mid)
            self.stats.pubacks += 1
            # refill in small chunks from the read-ahead queue rather than on every single PUBACK
            if len(self._inflight) <= self.window - max(1, min(32, self.window // 4)):
                self._wake.set()

    def on_ack(self, ack: dict[str, Any]) -> None:
        """An `ack/1` message from the platform (already parsed and schema-checked by the caller)."""
        epoch = ack.get("db_epoch")
        ours = epoch == self.db.epoch
        upto = ack.get("upto") if ours and isinstance(ack.get("upto"), int) else None
        ranges = _ranges(ack.get("ranges")) if ours else []
        ids = [i for i in ack.get("event_ids") or [] if isinstance(i, str)]
        settled = self.tracker.ack(upto, ranges, ids)
        if upto is not None and (self._acks.upto is None or upto > self._acks.upto):
            self._acks.upto = upto
        self._acks.ranges.extend(ranges)
        self._acks.ids.extend(ids)
        resend = ack.get("resend_from")
        if isinstance(resend, int) and epoch == self.db.epoch:
            self._acks.resend_from = resend
        self.stats.last_ack_at = time.monotonic()
        if settled:
            self.ack_timeout = self.ack_timeout_base
            self._ack_deadline = time.monotonic() + self.ack_timeout if len(self.tracker) else None
            self._wake.set()
        self._ack_wake.set()

    # -- ack writer (lives as long as the component) ----------------------------------------------
    def start(self) -> None:
        self._ack_task = asyncio.create_task(self._write_acks(), name="sync-ack-writer")

    async def stop(self) -> None:
        """Write the acks already received, then stop."""
        if self._ack_task is not None:
            await cancel_tasks([self._ack_task])
            self._ack_task = None
        await self._flush_acks()

    async def _write_acks(self) -> None:
        while True:
            await self._ack_wake.wait()
            self._ack_wake.clear()
            try:
                await self._flush_acks()
            except Exception:  # the database hiccuped: keep the acks and try again shortly
                log.exception("writing platform acks failed")
                await asyncio.sleep(1.0)
                self._ack_wake.set()

    async def _flush_acks(self) -> None:
        backlog = self._acks.take()
        if backlog.empty():
            return
        epoch = self.db.epoch

        def _apply(session: Any) -> int:
            done = apply_ack(session, epoch, backlog.upto, backlog.ranges, backlog.ids)
            if backlog.resend_from is not None and epoch is not None:
                reopen_from(session, epoch, backlog.resend_from)
            return done

        try:
            self.stats.acked += await self.db.write(_apply)
        except BaseException:
            self._merge_back(backlog)
            raise
        if backlog.resend_from is not None:
            log.warning("platform asked for a re-send from seq %d", backlog.resend_from)
            self.rewind()

    def _merge_back(self, backlog: _AckBacklog) -> None:
        if backlog.upto is not None and (self._acks.upto is None or backlog.upto > self._acks.upto):
            self._acks.upto = backlog.upto
        self._acks.ranges[:0] = backlog.ranges
        self._acks.ids[:0] = backlog.ids
        if backlog.resend_from is not None and self._acks.resend_from is None:
            self._acks.resend_from = backlog.resend_from

    # -- draining -------------------------------------------------------------------------------
    def rewind(self) -> None:
        """Re-send everything not yet acknowledged, from the lowest sequence of each class."""
        self._cursor = dict.fromkeys(PRIORITIES, 0)
        self._generation += 1
        self._ready.clear()
        self._drained = False
        self.tracker.clear()
        self._ack_deadline = None
        self._wake.set()

    def _room(self) -> int:
        return min(self.window - len(self._inflight), self.ack_window - len(self.tracker))

    def platform_reconnected(self) -> None:
        """The platform announced a new connection: what it was sent before may be lost (its broker
        session was new or rebuilt), so re-send the outstanding events now, not at the ack timeout."""
        self._platform_back = True
        self._wake.set()

    def _check_ack_stall(self) -> None:
        if self._platform_back:
            self._platform_back = False
            if len(self.tracker):
                self.stats.platform_rewinds += 1
                log.info("the platform reconnected: re-sending %d unacknowledged events now", len(self.tracker))
                self.ack_timeout = self.ack_timeout_base
                self.rewind()
            return
        if self._ack_deadline is None or time.monotonic() < self._ack_deadline:
            return
        self.stats.rewinds += 1
        log.warning(
            "no platform ack for %.0f s with %d events outstanding: re-sending", self.ack_timeout, len(self.tracker)
        )
        self.ack_timeout = min(self.ack_timeout * 2, self.ack_timeout_max)
        self.rewind()

    async def run(self, conn: MqttConnection, window: int | None = None) -> None:
        """Drain while `conn` is up; returns when it closes. Starts from the first undelivered event."""
        self._conn = conn
        if window is not None:
            self.window = window
        self._inflight.clear()
        self.rewind()
        try:
            while not conn.closed.done():
                self._wake.clear()
                self._check_ack_stall()
                room = self._room()
                if room > 0 and self._ready:
                    self._send(conn, room)
                elif not self._drained and len(self._ready) < self.batch:
                    await self._read_ahead()  # while the window is full: the database work overlaps the wire
                elif not await self._sleep(conn):
                    self._drained = False  # poll: look again even without a wake-up
        except NotConnected:
            pass
        finally:
            self._conn = None
            self._inflight.clear()

    async def _read_ahead(self) -> None:
        """Read the next batch after the read cursor (highest priority class first) into the queue."""
        generation, cursor = self._generation, dict(self._cursor)
        limit = self.batch
        rows = await self.db.read(lambda s: fetch_pending(s, self.topics, self.station_id, cursor, limit))
        if generation != self._generation:
            return  # a rewind happened meanwhile: these rows come again, in order
        if len(rows) < limit:
            self._drained = True
        if not rows:
            return
        urgent = bool(self._ready) and rows[0].priority < self._ready[-1].priority
        self._ready.extend(rows)
        for event in rows:
            self._cursor[event.priority] = event.seq
        if urgent:  # e.g. a sale recorded during a stock backlog: it overtakes what was read ahead
            self._ready = collections.deque(sorted(self._ready, key=lambda e: (e.priority, e.seq)))

    def _send(self, conn: MqttConnection, room: int) -> None:
        now = time.monotonic()
        for _ in range(min(room, len(self._ready))):
            event = self._ready.popleft()
            mid = conn.publish(event.topic, event.data, qos=1, expiry_s=event.expiry_s)
            self._inflight.add(mid)
            if event.seq <= self._highest_sent[event.priority]:
                self.stats.resent += 1
            else:
                self._highest_sent[event.priority] = event.seq
            if not len(self.tracker):
                self._ack_deadline = now + self.ack_timeout
            self.tracker.add(event)
            self.stats.sent += 1
        self.stats.last_send_at = now

    async def _sleep(self, conn: MqttConnection) -> bool:
        """Wait for a wake-up (True) or the poll interval / ack deadline (False)."""
        timeout = self.poll_s
        if self._ack_deadline is not None:
            timeout = max(0.01, min(timeout, self._ack_deadline - time.monotonic()))
        waiter: asyncio.Future[Any] = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([waiter, conn.closed], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        return self._wake.is_set()


def _ranges(value: Any) -> list[tuple[int, int]]:
    """Valid `[lo, hi]` pairs (1 <= lo <= hi) from an ack; anything else is ignored."""
    out = []
    for item in value if isinstance(value, list) else []:
        if (
            isinstance(item, list)
            and len(item) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in item)
            and 1 <= item[0] <= item[1]
        ):
            out.append((item[0], item[1]))
    return out
