"""The Python runtime under the daemon: garbage collection kept off the request path, and measured.

A full collection walks every tracked object; at start-up the daemon has built hundreds of
thousands of them (modules, SQLAlchemy mappers, pydantic models, the config) that live as long
as the process. `gc.freeze()` after start-up moves them out of the collector's sight, so a full
collection only walks what was made since: pauses of tens of milliseconds become about one. Larger
thresholds make young collections rarer. Every collection's pause is measured (`gc.callbacks`)
and shown in `/api/health` under `runtime`, with the process's memory.

Memory: glibc gives every thread that allocates its own heap arena (up to eight per core), and
keeps what was freed there; after a burst of requests the resident size stays up. The daemon limits
the arenas to two and gives freed memory back every minute (`malloc_trim`), where the C library is
glibc. Blocks of 1 MiB and more are always mapped on their own and unmapped when freed: glibc
would otherwise raise that threshold after the first big block is freed, and every PIN check
(Argon2id, 19 MiB) after the first would leave its 19 MiB in the heap until the next trim.

Threads: a thread waiting for the interpreter lock (the event loop, with a request's bytes in; the
database thread, with a query to run) gets it when the running thread blocks, or after the switch
interval. Python's 5 ms is one whole request here; the daemon uses 1 ms (measured: p50 and p99 of
health, offers and tasks 5-18 % lower). Its threads mostly wait on I/O, so the extra switches cost
next to nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import resource
import sys
import time
from typing import Any

from common.tasks import cancel_tasks

from .components import ComponentHealth, Status

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# Young objects per generation-0 collection, and collections per older one. Python's defaults
# (700, 10, 10) collect the young generation every few requests; requests allocate a few thousand
# short-lived objects each, nearly all freed by reference counting, so a larger first threshold costs
# little memory and saves most of the collections.
THRESHOLDS = (20_000, 20, 20)
SWITCH_INTERVAL_S = 0.001
MALLOC_ARENAS = 2
TRIM_EVERY_S = 60.0
MMAP_THRESHOLD = 1 << 20
_M_ARENA_MAX = -8  # mallopt parameters (glibc malloc.h)
_M_MMAP_THRESHOLD = -3

log = logging.getLogger(__name__)


def _glibc() -> Any | None:
    """The process's C library when it is glibc (mallopt and malloc_trim), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt.argtypes, libc.malloc_trim.argtypes = [ctypes.c_int, ctypes.c_int], [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def current_rss_mb() -> float:
    """Resident memory now (VmRSS), in MB; 0 where /proc is not there.

    Read from /proc/self/statm (resident pages): every health request and task list reads it, and the
    kernel writes statm's few numbers in a third of the time it takes to write the whole status file.
    """
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE / 1048576
    except (OSError, IndexError, ValueError):
        return 0.0


class Runtime:
    """A component: freezes the start-up heap when started (the last component before HTTP)."""

    name = "runtime"

    def __init__(self, *, freeze: bool = True) -> None:
        self.freeze = freeze  # the daemon process itself: tune the collector and malloc
        self.libc = _glibc() if freeze else None
        if self.libc is not None:  # before the components start their threads: they get these arenas
            self.libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
            self.libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)  # fixed: no longer raised by glibc
        self.trims = 0
        self.longest_trim_ms = 0.0
        self._trimmer: asyncio.Task[None] | None = None
        self.frozen = 0
        self.collections = [0, 0, 0]
        self.longest_ms = [0.0, 0.0, 0.0]
        self.total_ms = 0.0
        self._started_at: float | None = None
        self._thresholds: tuple[int, int, int] | None = None
        self._switch_interval = sys.getswitchinterval()

    async def start(self) -> None:
        if self.freeze:
            gc.collect()  # what start-up left as garbage goes now, not into the frozen heap
            gc.freeze()
            self._thresholds = gc.get_threshold()
            gc.set_threshold(*THRESHOLDS)
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self.frozen = gc.get_freeze_count()
        gc.callbacks.append(self._measure)  # from here on: the collections while the station serves
        if self.libc is not None:
            self._trimmer = asyncio.create_task(self._trim_loop(), name="malloc-trim")

    async def _trim_loop(self) -> None:
        while True:
            await asyncio.sleep(TRIM_EVERY_S)
            self.trim()

    def trim(self) -> None:
        """Give the memory freed in the C heap back to the system (a few milliseconds, once a minute)."""
        if self.libc is None:
            return
        started = time.perf_counter()
        self.libc.malloc_trim(0)
        self.trims += 1
        self.longest_trim_ms = max(self.longest_trim_ms, (time.perf_counter() - started) * 1000)

    async def stop(self) -> None:
        """Back to Python's collector as it was (for processes that go on: tests starting stations)."""
        if self._trimmer is not None:
            await cancel_tasks([self._trimmer])
            self._trimmer = None
        if self._measure in gc.callbacks:
            gc.callbacks.remove(self._measure)
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            gc.unfreeze()
            sys.setswitchinterval(self._switch_interval)
            self._thresholds = None

    def _measure(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started_at = time.perf_counter()
            return
        if self._started_at is None:
            return
        took = (time.perf_counter() - self._started_at) * 1000
        generation = int(info.get("generation", 0))
        self.collections[generation] += 1
        self.longest_ms[generation] = max(self.longest_ms[generation], took)
        self.total_ms += took
        self._started_at = None

    def progress(self) -> float | None:
        return None

    def health(self) -> ComponentHealth:
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        detail = {
            "gc_frozen_objects": self.frozen,
            "gc_collections": list(self.collections),
            "gc_longest_pause_ms": [round(v, 2) for v in self.longest_ms],
            "gc_total_pause_ms": round(self.total_ms, 1),
            "gc_thresholds": list(gc.get_threshold()),
            "max_rss_mb": round(rss_mb, 1),
            "rss_mb": round(current_rss_mb(), 1),
            "malloc_trims": self.trims,
            "longest_malloc_trim_ms": round(self.longest_trim_ms, 2),
        }
        return ComponentHealth(Status.UP, detail)
