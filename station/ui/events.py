"""What the touchscreen needs to know without asking: simulated, offline, card terminal, doors.

`GET /api/events/ui` pushes it as server-sent events: a `status` event at once and whenever it
changes (checked every second), and a `door` event each time the lock wall reports a door
opened or closed (after the change is committed). Each event's `data` is one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, Field

STATUS_CHECK_S = 0.5  # also how soon a stream ends when the daemon stops
KEEPALIVE_S = 15.0
MAX_STREAM_S = 600.0  # one connection at most this long; the browser reconnects by itself
KEEP_DOOR_EVENTS = 100


class UiStatus(BaseModel):
    """The station as the screen shows it in its frame."""

    station_id: str
    station_name: str
    simulated: bool = Field(description="simulated hardware: the screen says so on every page")
    offline: bool = Field(description="the central platform is not reachable (the station works on)")
    card_payment: bool = Field(description="a card terminal is configured and answering")
    open_doors: list[int] = Field(description="compartments whose door is open or being opened")
    unavailable_compartments: list[int] = Field(description="compartments whose lock board does not answer")


class DoorEvent(BaseModel):
    compartment: int
    state: Literal["opened", "closed"]
    at: float = Field(description="UNIX time of the change")


def current_status(station: Any) -> UiStatus:
    """Read from the components' health (no I/O)."""
    config = station.config
    sync = station.sync
    offline = sync is not None and not sync.health().detail.get("connected", False)
    terminal = station.terminal
    card = station.purchases is not None and terminal is not None and str(terminal.health().status) != "down"
    doors: dict[str, Any] = station.lockwall.health().detail if station.lockwall is not None else {}
    return UiStatus(
        station_id=config.station.id,
        station_name=config.station.name,
        simulated=station.simulated,
        offline=offline,
        card_payment=card,
        open_doors=list(doors.get("open_doors", [])),
        unavailable_compartments=list(doors.get("unavailable_compartments", [])),
    )


# Each event's `data` line is a UiStatus or a DoorEvent as JSON (OpenAPI 3.1: contentMediaType).
EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["status", "door"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


def sse(event: str, data: BaseModel) -> str:
    return f"event: {event}\ndata: {data.model_dump_json()}\n\n"


class UiEvents:
    """Door changes from the lock wall, kept briefly so each stream can follow them."""

    def __init__(self, station: Any) -> None:
        self.station = station
        self._doors: deque[tuple[int, DoorEvent]] = deque(maxlen=KEEP_DOOR_EVENTS)
        self._version = 0
        self._changed = asyncio.Event()
        self._attached = False

    def attach(self) -> None:
        """Listen to the lock wall (it exists only once the station is assembled)."""
        if not self._attached and self.station.lockwall is not None:
            self.station.lockwall.subscribe(self._on_door)
            self._attached = True

    def _on_door(self, compartment: int, what: str) -> None:
        if what not in ("opened", "closed"):
            return
        self._version += 1
        event = DoorEvent.model_validate({"compartment": compartment, "state": what, "at": time.time()})
        self._doors.append((self._version, event))
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _doors_after(self, version: int) -> list[tuple[int, DoorEvent]]:
        return [(v, event) for v, event in self._doors if v > version]

    async def stream(self, is_disconnected: Any, closing: Any = lambda: False) -> AsyncIterator[str]:
        """The event stream of one browser connection; it ends when `closing()` (the server stops)."""
        self.attach()
        version = self._version
        status = current_status(self.station)
        yield "retry: 1000\n\n"  # reconnect after a second when the stream ends (MAX_STREAM_S, a restart)
        yield sse("status", status)
        started = last_sent = time.monotonic()
        while time.monotonic() - started < MAX_STREAM_S and not closing():
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), STATUS_CHECK_S)
            except TimeoutError:
                pass
            for seen, event in self._doors_after(version):
                version = seen
                yield sse("door", event)
                last_sent = time.monotonic()
            now = current_status(self.station)
            if now != status:
                status = now
                yield sse("status", status)
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent > KEEPALIVE_S:
                yield ": keepalive\n\n"
                last_sent = time.monotonic()
            if await is_disconnected():
                return


def describe_stream() -> str:
    """For the OpenAPI document: what the stream sends."""
    example = {
        "status": UiStatus.model_json_schema(),
        "door": DoorEvent.model_json_schema(),
    }
    return (
        "Server-sent events. `event: status` and `event: door`; their `data` schemas:\n\n```json\n"
        + json.dumps(example, indent=1)
        + "\n```"
    )
