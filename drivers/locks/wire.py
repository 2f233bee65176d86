"""The RS485 line discipline for lock boards: gap, flush, write, then read one reply.

Half duplex: exactly one exchange at a time (the bus actor guarantees it). Before every
command the input is flushed (noise, late replies of a previous board), and the next frame
waits for the inter-frame gap after the line went quiet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..serialio import ReadFn, SerialTransport
from .codec import FrameDecoder, FrameLayout


@dataclass(frozen=True)
class Reply:
    """Outcome of waiting for one reply: the frame, or why there is none."""

    frame: bytes | None
    bad_frames: int  # corrupt candidates, stray-byte runs, foreign or incomplete replies seen
    timed_out: bool  # nothing usable arrived before the deadline
    error: str | None = None


class Wire:
    """One serial line seen as request/reply exchanges; raises only serialio.TransportError."""

    def __init__(self, transport: SerialTransport, reply_layout: FrameLayout, gap_s: float, settle_s: float):
        self.transport = transport
        self.reply_layout = reply_layout
        self.gap_s = gap_s
        self.settle_s = settle_s  # after a corrupt frame, wait only this long for more bytes
        self.flushed_bytes = 0
        self._quiet_at = 0.0  # time.monotonic() when the line last went quiet

    @property
    def is_open(self) -> bool:
        return self.transport.is_open

    @property
    def ready_at(self) -> float:
        """time.monotonic() from which the next frame may be sent (the gap after the last one)."""
        return self._quiet_at + self.gap_s

    async def open(self) -> None:
        await self.transport.open()

    async def close(self) -> None:
        await self.transport.close()

    async def send(self, frame: bytes) -> float:
        """Wait for the gap, flush input, write `frame`; returns time.monotonic() after the write."""
        await self._wait_gap()
        self.flushed_bytes += len(await self.transport.reset_input())
        await self.transport.write(frame)
        self._quiet_at = sent_at = time.monotonic()
        return sent_at

    async def exchange(self, frame: bytes, is_ours: Callable[[bytes], bool], timeout_s: float) -> tuple[float, Reply]:
        """`send(frame)` then `receive(is_ours, timeout_s)` in one hop to the port's thread: (sent at, reply)."""
        await self._wait_gap()
        try:
            junk, sent_at, (reply, quiet_at) = await self.transport.exchange(
                frame, lambda read: self._collect(read, is_ours, timeout_s)
            )
        except BaseException:
            self._quiet_at = time.monotonic()
            raise
        self.flushed_bytes += len(junk)
        self._quiet_at = quiet_at
        return sent_at, reply

    async def receive(self, is_ours: Callable[[bytes], bool], timeout_s: float) -> Reply:
        """Read until a valid reply accepted by `is_ours` arrives, or the deadline passes."""
        try:
            reply, self._quiet_at = await self.transport.collect(lambda read: self._collect(read, is_ours, timeout_s))
        except BaseException:
            self._quiet_at = time.monotonic()
            raise
        return reply

    async def _wait_gap(self) -> None:
        pause = self.ready_at - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)

    def _collect(self, read: ReadFn, is_ours: Callable[[bytes], bool], timeout_s: float) -> tuple[Reply, float]:
        """The reading loop, in the port's thread: (the reply or why there is none, when the line went quiet)."""
        decoder = FrameDecoder(self.reply_layout)
        foreign = 0
        deadline = time.monotonic() + timeout_s
        while True:
            wait = deadline - time.monotonic()
            if decoder.rejected:
                wait = min(wait, self.settle_s)
            if wait <= 0:
                break
            chunk = read(decoder.needed(), wait)
            if not chunk:
                break
            for frame in decoder.feed(chunk):
                if is_ours(frame):
                    bad = decoder.rejected + foreign + bool(decoder.skipped_bytes)
                    return Reply(frame, bad, False), time.monotonic()
                foreign += 1
        return self._failure(decoder, foreign, timeout_s), time.monotonic()

    @staticmethod
    def _failure(decoder: FrameDecoder, foreign: int, timeout_s: float) -> Reply:
        bad = decoder.rejected + foreign + bool(decoder.skipped_bytes) + bool(decoder.pending)
        if decoder.rejected:
            return Reply(None, bad, False, f"bad frame ({decoder.last_error})")
        if foreign:
            return Reply(None, bad, False, "only replies from another board arrived")
        if decoder.pending or decoder.skipped_bytes:
            got = decoder.pending + decoder.skipped_bytes
            return Reply(None, bad, False, f"incomplete or garbled reply ({got} bytes)")
        return Reply(None, 0, True, f"no answer within {timeout_s * 1000:.0f} ms")
