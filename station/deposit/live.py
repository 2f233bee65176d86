"""Live views of return sessions for the touchscreen: the newest view of each, and a way to wait for the next."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

KEEP = 20


class LiveBoard:
    """Recent returns' views (dicts) with a version each; `wait_change` serves server-sent events."""

    def __init__(self) -> None:
        self._views: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._versions: dict[str, int] = {}
        self._changed = asyncio.Event()  # replaced after every change: waiters hold the old one

    def publish(self, key: str, view: dict[str, Any], message: str | None = None) -> None:
        version = self._versions.get(key, 0) + 1
        previous = self._views.get(key, {})
        self._views[key] = {**view, "message": message or previous.get("message"), "version": version}
        self._views.move_to_end(key)
        self._versions[key] = version
        while len(self._views) > KEEP:
            old, _ = self._views.popitem(last=False)
            self._versions.pop(old, None)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def get(self, key: str) -> dict[str, Any] | None:
        return self._views.get(key)

    async def wait_change(self, key: str, version: int, timeout_s: float) -> dict[str, Any] | None:
        """The view once its version moved past `version` (or the current one after the timeout)."""
        deadline = time.monotonic() + timeout_s
        while (view := self._views.get(key)) is not None and view["version"] <= version:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                break
        return self._views.get(key)
