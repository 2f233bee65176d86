"""Live progress of purchases for the touchscreen: state and what to tell the shopper."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

KEEP = 50


@dataclass
class Progress:
    sale_id: str
    state: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sale_id": self.sale_id,
            "state": self.state,
            "messages": list(self.messages),
            "message": self.messages[-1]["text"] if self.messages else None,
            "version": self.version,
        }


class ProgressBoard:
    """Recent purchases' progress, with a way to wait for the next change (server-sent events)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, Progress] = OrderedDict()
        self._changed = asyncio.Event()  # replaced after every change: waiters hold the old one

    def open(self, sale_id: str, state: str) -> None:
        self._items[sale_id] = Progress(sale_id, state)
        while len(self._items) > KEEP:
            self._items.popitem(last=False)
        self._bump(sale_id)

    def get(self, sale_id: str) -> Progress | None:
        return self._items.get(sale_id)

    def state(self, sale_id: str, state: str, text: str | None = None) -> None:
        item = self._items.get(sale_id)
        if item is None:
            return
        item.state = state
        if text:
            item.messages.append({"at": time.time(), "text": text})
        self._bump(sale_id)

    def say(self, sale_id: str, text: str) -> None:
        item = self._items.get(sale_id)
        if item is not None and (not item.messages or item.messages[-1]["text"] != text):
            item.messages.append({"at": time.time(), "text": text})
            self._bump(sale_id)

    def _bump(self, sale_id: str) -> None:
        self._items[sale_id].version += 1
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_change(self, sale_id: str, version: int, timeout_s: float) -> Progress | None:
        """The sale's progress once its version moved past `version` (or after the timeout)."""
        deadline = time.monotonic() + timeout_s
        while (item := self._items.get(sale_id)) is not None and item.version <= version:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                break
        return self._items.get(sale_id)
