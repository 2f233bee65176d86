"""The async NFC reader: taps as events, the reader being down as a state, a clean stop.

Usage (one event loop owns the reader; nfcpy's blocking calls run in one named worker thread):

    reader = NfcReader(NfcReaderSettings(device="usb:054c:06c1"), name="door")
    reader.start()
    unsubscribe = reader.subscribe(on_tap)          # plain function or coroutine function
    async for tap in reader.taps(): ...             # or an async iterator per consumer
    tap = await reader.next_tap()                   # or just the next one (bound it with asyncio.timeout)
    await reader.wait_for_state(available=True)     # reader availability, see snapshot()
    await reader.stop()
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from common.availability import Availability, AvailabilitySnapshot
from common.tasks import cancel_tasks

from .events import TagRead
from .settings import NfcReaderSettings
from .udp import wake_udp_device
from .worker import ReaderWorker

log = logging.getLogger(__name__)

TapCallback = Callable[[TagRead], Awaitable[None] | None]
StateCallback = Callable[[AvailabilitySnapshot], Awaitable[None] | None]
STREAM_QUEUE_SIZE = 64
STOP_WAIT_S = 2.0  # stop() gives up waiting for the worker after this (nfcpy calls are bounded: < 1.1 s)


def quiet_nfcpy_logs() -> None:
    """nfcpy logs every failed open at ERROR; `Availability` already reports down/up once each.

    nfcpy sets its `nfc` logger to INFO when imported; any other level means the operator chose one
    (e.g. DEBUG to see frames) and it is left alone.
    """
    nfcpy_logger = logging.getLogger("nfc")
    if nfcpy_logger.level in (logging.NOTSET, logging.INFO):
        nfcpy_logger.setLevel(logging.CRITICAL)


class TapStream:
    """One consumer's queue of taps; registered when created, so no tap between creation and first await is lost."""

    def __init__(self, reader: NfcReader) -> None:
        self._reader = reader
        self._queue: asyncio.Queue[TagRead | None] = asyncio.Queue(STREAM_QUEUE_SIZE)
        reader._streams.add(self)
        if reader._ended:
            self._queue.put_nowait(None)

    def _push(self, item: TagRead | None) -> None:
        if self._queue.full():  # a consumer that stopped reading loses its oldest taps, not the newest
            self._queue.get_nowait()
            log.warning("NFC reader %s: a tap consumer is not keeping up, dropped its oldest tap", self._reader.name)
        self._queue.put_nowait(item)

    def __aiter__(self) -> TapStream:
        return self

    async def __anext__(self) -> TagRead:
        item = await self._queue.get()
        if item is None:
            self.close()
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        self._reader._streams.discard(self)


class NfcReader:
    """One NFC reader: reports each tap once and its availability; reopens a lost reader with backoff."""

    def __init__(self, settings: NfcReaderSettings, *, name: str = "nfc") -> None:
        self.settings = settings
        self.name = name
        self.availability = Availability(f"NFC reader {name} ({settings.device})", log)
        self._tap_callbacks: list[TapCallback] = []
        self._state_callbacks: list[StateCallback] = []
        self._streams: set[TapStream] = set()
        self._callback_tasks: set[asyncio.Task[Any]] = set()
        self._state_changed = asyncio.Event()
        self._stop = threading.Event()
        self._worker: ReaderWorker | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended = False
        self.taps_seen = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread (call from the event loop that will receive the events)."""
        if self._thread is not None:
            raise RuntimeError(f"NFC reader {self.name} already started")
        quiet_nfcpy_logs()
        self._loop = asyncio.get_running_loop()
        self._worker = ReaderWorker(self.settings, self._tap_from_worker, self._state_from_worker, self._stop)
        self._thread = threading.Thread(target=self._worker.run, name=f"nfc-reader-{self.name}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop polling, close the device and end every tap stream; safe to call twice."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + STOP_WAIT_S
            while thread.is_alive() and loop.time() < deadline:
                wake_udp_device(self._worker.clf if self._worker else None)
                await asyncio.sleep(0.02)
            if thread.is_alive():
                log.warning("NFC reader %s: worker still busy after %.1f s; leaving it to end", self.name, STOP_WAIT_S)
        self._ended = True
        for stream in list(self._streams):
            stream._push(None)
        await cancel_tasks(self._callback_tasks)

    async def __aenter__(self) -> NfcReader:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- consumers -------------------------------------------------------------------------------
    def subscribe(self, on_tap: TapCallback) -> Callable[[], None]:
        """Call `on_tap` for every tap (in the event loop); returns a function that unsubscribes."""
        self._tap_callbacks.append(on_tap)
        return lambda: self._tap_callbacks.remove(on_tap) if on_tap in self._tap_callbacks else None

    def subscribe_state(self, on_state: StateCallback) -> Callable[[], None]:
        """Call `on_state` whenever the reader goes down or comes back."""
        self._state_callbacks.append(on_state)
        return lambda: self._state_callbacks.remove(on_state) if on_state in self._state_callbacks else None

    def taps(self) -> TapStream:
        """An async iterator over taps from now on; it ends when the reader stops."""
        return TapStream(self)

    async def next_tap(self) -> TagRead:
        """The next tap (bound the wait with `asyncio.timeout`); LookupError if the reader stopped."""
        stream = self.taps()
        try:
            async for tap in stream:
                return tap
        finally:
            stream.close()
        raise LookupError(f"NFC reader {self.name} stopped")

    def snapshot(self) -> AvailabilitySnapshot:
        return self.availability.snapshot()

    @property
    def available(self) -> bool | None:
        """True when polling works, False when down, None before the first open attempt finished."""
        return self.availability.available

    async def wait_for_state(self, available: bool | None = None) -> AvailabilitySnapshot:
        """Wait until the availability is known (and equals `available` when given)."""
        while self.available is None or (available is not None and self.available is not available):
            await self._state_changed.wait()
        return self.snapshot()

    # -- from the worker thread ------------------------------------------------------------------
    def _tap_from_worker(self, tap: TagRead) -> None:
        self._post(self._deliver_tap, tap)

    def _state_from_worker(self, available: bool, error: str | None) -> None:
        self._post(self._apply_state, available, error)

    def _post(self, func: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(func, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more, so the worker ends
            self._stop.set()

    # -- in the event loop -----------------------------------------------------------------------
    def _deliver_tap(self, tap: TagRead) -> None:
        if self._ended:
            return
        self.taps_seen += 1
        for stream in list(self._streams):
            stream._push(tap)
        for callback in list(self._tap_callbacks):
            self._call(callback, tap)

    def _apply_state(self, available: bool, error: str | None) -> None:
        changed = self.availability.mark_up() if available else self.availability.mark_down(error or "down")
        self._state_changed.set()
        self._state_changed = asyncio.Event()
        if changed:
            snapshot = self.snapshot()
            for callback in list(self._state_callbacks):
                self._call(callback, snapshot)

    def _call(self, callback: Callable[[Any], Awaitable[None] | None], arg: Any) -> None:
        """Run a consumer callback; a coroutine runs as its own task so a slow consumer delays nobody."""
        try:
            outcome = callback(arg)
        except Exception:
            log.exception("NFC reader %s: callback %r failed", self.name, callback)
            return
        if inspect.isawaitable(outcome):
            task = asyncio.ensure_future(outcome)
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_done)

    def _callback_done(self, task: asyncio.Task[Any]) -> None:
        self._callback_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("NFC reader %s: callback failed", self.name, exc_info=task.exception())
