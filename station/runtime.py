"""The Python runtime under the daemon: garbage collection kept off the request path, and measured.

A full collection walks every tracked object; at start-up the daemon has built hundreds of
thousands of them (modules, SQLAlchemy mappers, pydantic models, the config) that live as long
as the process. `gc.freeze()` after start-up moves them out of the collector's sight, so a full
collection only walks what was made since: pauses of tens of milliseconds become about one. Larger
thresholds make young collections rarer. Every collection's pause is measured (`gc.callbacks`)
and shown in `/api/health` under `runtime`, with the process's memory.
"""

from __future__ import annotations

import gc
import resource
import time
from typing import Any

from .components import ComponentHealth, Status

# Young objects per generation-0 collection, and collections per older one. Python's defaults
# (700, 10, 10) collect the young generation every few requests; requests allocate a few thousand
# short-lived objects each, nearly all freed by reference counting, so a larger first threshold costs
# little memory and saves most of the collections.
THRESHOLDS = (20_000, 20, 20)


class Runtime:
    """A component: freezes the start-up heap when started (the last component before HTTP)."""

    name = "runtime"

    def __init__(self, *, freeze: bool = True) -> None:
        self.freeze = freeze
        self.frozen = 0
        self.collections = [0, 0, 0]
        self.longest_ms = [0.0, 0.0, 0.0]
        self.total_ms = 0.0
        self._started_at: float | None = None
        self._thresholds: tuple[int, int, int] | None = None

    async def start(self) -> None:
        if self.freeze:
            gc.collect()  # what start-up left as garbage goes now, not into the frozen heap
            gc.freeze()
            self._thresholds = gc.get_threshold()
            gc.set_threshold(*THRESHOLDS)
        self.frozen = gc.get_freeze_count()
        gc.callbacks.append(self._measure)  # from here on: the collections while the station serves

    async def stop(self) -> None:
        """Back to Python's collector as it was (for processes that go on: tests starting stations)."""
        if self._measure in gc.callbacks:
            gc.callbacks.remove(self._measure)
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            gc.unfreeze()
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
        }
        return ComponentHealth(Status.UP, detail)
