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
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from .models import StationMeta

T = TypeVar("T")
log = logging.getLogger(__name__)

EXPECTED_PRAGMAS = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


class DatabaseError(Exception):
    """The database cannot be used (pragmas not in effect, integrity failure, not migrated)."""


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
        mode = conn.get_execution_options().get("begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

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
        the pool each time: that keeps a "domain change + outbox event" commit cheap.
        """
        conn = self._connection(write)
        with conn.begin():
            session = Session(bind=conn, expire_on_commit=False)
            session.info["db_epoch"] = self.epoch
            try:
                result = fn(session)
                session.flush()
            finally:
                session.close()
        return result

    async def write(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) in one write transaction on the db thread; committed when this returns."""
        return await self._submit(self.run_sync, fn)

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run fn(session) in a read transaction on the db thread."""
        return await self._submit(lambda: self.run_sync(fn, write=False))

    async def ping(self) -> None:
        """Prove the db thread and the file answer (used by the watchdog health check)."""
        await self.read(lambda s: s.execute(text("SELECT 1")).scalar())


def raw_cursor(session: Session) -> sqlite3.Cursor:
    """The sqlite3 cursor of the session's transaction, for hot paths that skip the ORM."""
    driver = session.connection().connection.driver_connection
    if driver is None:
        raise DatabaseError("the session has no open connection")
    return driver.cursor()


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (SQLAlchemy types its result generically)."""
    return int(result.rowcount or 0)


def new_epoch() -> str:
    return str(uuid.uuid4())
