"""The component contract: constructed without I/O, started in order, stopped in reverse."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from common.tasks import cancel_tasks

__all__ = ["Component", "ComponentHealth", "ProgressMixin", "Status", "cancel_tasks"]


class Status(enum.StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True)
class ComponentHealth:
    status: Status
    detail: dict[str, Any] = field(default_factory=dict)
    simulated: bool = False


class Component(Protocol):
    """A part of the daemon with an explicit lifecycle.

    `start()` must not fail because a device is missing: a device being down is a state
    reported by `health()`, retried by the component itself. `stop()` is idempotent.
    `progress()` returns the monotonic time of the component's last unit of real work
    (a poll answered or attempted, a message handled), or None when it has no loop to prove.
    """

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> ComponentHealth: ...

    def progress(self) -> float | None: ...


class ProgressMixin:
    """Tracks the last time a component's loop did work (for the watchdog health check)."""

    _last_progress: float | None = None

    def mark_progress(self) -> None:
        self._last_progress = time.monotonic()

    def progress(self) -> float | None:
        return self._last_progress
