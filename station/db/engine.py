"""The SQLite database: one connection owner thread, WAL, synchronous=FULL, BEGIN IMMEDIATE.

All work runs as a plain function `fn(session) -> result` on the `db` worker thread, inside one
transaction that has committed (and, with synchronous=FULL, reached the disk) when the awaiting
coroutine resumes. Nothing outside that thread touches the connection.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from .models import StationMeta

T = TypeVar("T")
log = logging.getLogger(__name__)

EXPECTED_PRAGMAS = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


class DatabaseError(Exception):
    """The database cannot be used (pragmas not in effect, integrity failure, not migrated)."""


# SQLite result codes that mean "the storage cannot be used right now", not "this code is wrong".
STORAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOMEM,
    }
)


_STILL_USABLE = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL})


def _connection_broken(exc: BaseException) -> bool:
    """Busy, locked and full leave the connection fine (its transaction rolled back); I/O errors do not."""
    code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
    return not (isinstance(code, int) and (code & 0xFF) in _STILL_USABLE)


def is_storage_failure(exc: BaseException) -> bool:
    """Disk full, locked, I/O error, read-only ...: a state of the station, not a bug in a query."""
    if isinstance(exc, StorageUnavailable):
        return True
    code = getattr(getattr(exc, "orig", exc), "sqlite_errorcode", None)
    return isinstance(code, int) and (code & 0xFF) in STORAGE_CODES  # extended codes keep the primary in the low byte


class StorageUnavailable(DatabaseError):
    """A transaction could not be committed (disk full, file locked past the busy timeout, I/O error).

    Nothing of it was written. A state, not a crash: callers answer 503 or retry (`write_until_committed`).
    """


@dataclass
class WriteHealth:
    """Whether writes currently succeed; the first failure's time and the last error while they fail."""

    failing_since: float | None = None
    last_error: str | None = None
    failures: int = 0

    def failed(self, error: str) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()
            log.error("database writes fail: %s", error)
        self.last_error, self.failures = error, self.failures + 1

    def succeeded(self) -> None:
        if self.failing_since is not None:
            log.warning("database writes succeed again after %d failures", self.failures)
        self.failing_since, self.last_error, self.failures = None, None, 0


def make_engine(path: Path, busy_timeout_ms: int = 5000) -> Engine:
    """An engine whose every connection runs WAL + synchronous=FULL + foreign keys, BEGIN IMMEDIATE."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{path}",
        poolclass=QueuePool,
        pool_size=2,
        max_overflow=4,
        connect_args={"timeout": busy_timeout_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so a read-then-write transaction
        # can never fail with SQLITE_BUSY when it upgrades to writing.
        # Straight on the sqlite3 connection: this runs before every transaction.
        mode = conn.get_execution_options().get("begin", "IMMEDIATE")
        conn.connection.dbapi_connection.execute(f"BEGIN {mode}")

    return engine


def read_pragmas(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar() for name in EXPECTED_PRAGMAS}


class Database:
    """Async façade over one SQLite file; construct without I/O, then `await start()`."""

    def __init__(self, path: Path, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.engine: Engine | None = None
        self.epoch: str | None = None
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.pragmas: dict[str, Any] = {}
        self.writes = WriteHealth()

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Open, check the pragmas and the schema revision, load the epoch (in the db thread)."""
        await self.call(self.open_sync)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run any blocking database work (migrations, exports) on the db thread."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        return await self._submit(fn, *args)

    async def stop(self) -> None:
        if self._executor is None:
            return
        await self._submit(self.close_sync)
        self._executor.shutdown(wait=True)
        self._executor = None

    def open_sync(self) -> None:
        """Blocking open for the CLI and tests; `start()` runs this on the db thread."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.path, self.busy_timeout_ms)
        pragmas = read_pragmas(self.engine)
        if pragmas != EXPECTED_PRAGMAS:
            raise DatabaseError(f"SQLite pragmas not in effect: {pragmas}, expected {EXPECTED_PRAGMAS}")
        self.pragmas = pragmas
        with self.engine.connect() as conn:
            epoch = conn.scalar(select(StationMeta.value).where(StationMeta.key == "db_epoch"))
        if epoch is None:
            raise DatabaseError(f"{self.path}: schema not installed; run `station db upgrade`")
        self.epoch = epoch

    def close_sync(self) -> None:
        for conn in self._connections:
            conn.close()
        self._connections.clear()
        self._local = threading.local()
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    # -- work ------------------------------------------------------------------------
    async def _submit(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            raise DatabaseError("database is not started")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def _connection(self, write: bool) -> Connection:
        """This thread's long-lived connection for writing (BEGIN IMMEDIATE) or reading (BEGIN DEFERRED)."""
        if self.engine is None:
            raise DatabaseError("database is not open")
        key = "writer" if write else "reader"
        conn: Connection | None = getattr(self._local, key, None)
        if conn is None or conn.closed:
            conn = self.engine.connect()
            if not write:
                conn.execution_options(begin="DEFERRED")
            setattr(self._local, key, conn)
            self._connections.append(conn)
        return conn

    def run_sync(self, fn: Callable[[Session], T], *, write: bool = True) -> T:
        """Run fn(session) in one transaction, committed (synchronous=FULL: on disk) before returning.

        The session joins a transaction on a long-lived connection instead of checking one out of
        the pool each time: that keeps a "domain change + outbox event" commit cheap. A storage
        failure (disk full, locked, I/O) rolls everything back and raises StorageUnavailable.
        """
        conn: Connection | None = None
        try:
            conn = self._connection(write)
            with conn.begin():
                session = Session(bind=conn, expire_on_commit=False)
                session.info["db_epoch"] = self.epoch
                try:
                    result = fn(session)
                    session.flush()
                finally:
                    session.close()
        except (sa_exc.OperationalError, sqlite3.OperationalError) as exc:
            if not is_storage_failure(exc):
                raise  # a bug (no such table, syntax), not a state of the storage
            message = str(getattr(exc, "orig", None) or exc)
            if write:
                self.writes.failed(message)
            if conn is not None and _connection_broken(exc):
                self._discard(conn, write)
            raise StorageUnavailable(message) from exc
        if write:
            self.writes.succeeded()
        return result

    def _discard(self, conn: Connection, write: bool) -> None:
        """Drop a connection whose transaction failed at the storage level; the next call opens a fresh one."""
        key = "writer" if write else "reader"
        if getattr(self._local, key, None) is conn:
            setattr(self._local, key, None)
        try:
            conn.invalidate()
            conn.close()
        except Exception:  # the connection is gone either way
            log.debug("closing a failed connection", exc_info=True)
        if conn in self._connections:
            self._connections.remove(conn)

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) in one write transaction on the db thread; committed when this returns."""
        return await self._submit(self.run_sync, fn)

    async def write_until_committed(self, fn: Callable[[Session], T], *, what: str = "write") -> T:
        """Write, retrying with capped backoff while storage is unavailable (never gives up; cancellable).

        For records of something that already happened (a door opened, the terminal booked): they
        must reach the disk, and the daemon must not stop while they cannot.
        """
        delay = 0.05
        while True:
            try:
                return await self.write(fn)
            except StorageUnavailable as exc:
                log.debug("%s not committed (%s); retrying in %.2f s", what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)

    def write_state(self) -> dict[str, Any]:
        """For health: `ok`, or the time writes began to fail and the last error."""
        w = self.writes
        if w.failing_since is None:
            return {"writes": "ok"}
        return {"writes": "failing", "failing_since": w.failing_since, "last_error": w.last_error,
                "failures": w.failures}

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) in a read transaction on the db thread."""
        return await self._submit(lambda: self.run_sync(fn, write=False))

    async def ping(self) -> None:
        """Prove the db thread and the file answer (used by the watchdog health check)."""
        await self.read(lambda s: s.execute(text("SELECT 1")).scalar())


def raw_cursor(session: Session) -> sqlite3.Cursor:
    """A new sqlite3 cursor on the session's transaction, for bulk work that skips the ORM (close it after)."""
    driver = session.connection().connection.driver_connection
    if driver is None:
        raise DatabaseError("the session has no open connection")
    return driver.cursor()


def hot_cursor(session: Session) -> sqlite3.Cursor:
    """The session's one shared sqlite3 cursor for the hottest statements (flow arrows, audit, outbox).

    Shared: consume each result at once (`fetchone`, `list`) before the next statement; never close it.
    """
    cursor = session.info.get("hot_cursor")
    if cursor is None:
        cursor = session.info["hot_cursor"] = raw_cursor(session)
    return cursor


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (SQLAlchemy types its result generically)."""
    return int(result.rowcount or 0)


def new_epoch() -> str:
    return str(uuid.uuid4())
