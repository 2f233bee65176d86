"""The terminal's end of a link: raw APDUs over TCP, DLE frames with ACK/NAK over serial.

Both offer `receive(timeout) -> APDU | None`, `send(apdu)` and `cut()` (the line is gone: TCP
closes; serial stops answering until the ECR sends a new command), and raise `ChannelClosed`.
Fault knobs are counters: each one affects the next N frames and counts down.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
from dataclasses import dataclass

from payments.zvt.apdu import parse_length
from payments.zvt.framing import ACK, NAK, Control, FrameBad, FrameDecoder, FrameOk, encode_frame
from simulators.link import SimLink

log = logging.getLogger(__name__)


class ChannelClosed(Exception):
    """The ECR went away (or the frame could not be delivered after all repetitions)."""


@dataclass
class SerialFaults:
    """Serial fault injection; every field counts frames and is decremented when used."""

    corrupt_crc: int = 0  # our next frames carry a wrong CRC (the ECR must NAK, we repeat)
    nak: int = 0  # NAK the ECR's next good frames (it must repeat them)
    ignore: int = 0  # the ECR's next frames are lost: no ACK, not processed (it must repeat)
    late_bytes: int = 0  # a gap longer than T1 in the middle of our next frames
    noise: int = 0  # junk bytes before our next frames
    duplicate: int = 0  # our next frames are sent twice


@dataclass
class TcpFaults:
    split: int = 0  # our next APDUs are written a few bytes at a time (TCP may split anything)


def _take(faults: object, name: str) -> bool:
    left = getattr(faults, name)
    if left > 0:
        setattr(faults, name, left - 1)
        return True
    return False


class Channel:
    """Common part: a SimLink read with timeouts."""

    def __init__(self, link: SimLink) -> None:
        self.link = link
        self.closed = False

    async def _read(self, wait_s: float | None) -> bytes | None:
        """Next chunk, None on timeout; ChannelClosed at end of stream."""
        if self.closed:
            raise ChannelClosed("link closed")
        try:
            async with asyncio.timeout(wait_s):
                chunk = await self.link.read()
        except TimeoutError:
            return None
        if not chunk:
            self.closed = True
            raise ChannelClosed("the ECR closed the link")
        return chunk

    async def receive(self, wait_s: float | None) -> bytes | None:
        raise NotImplementedError

    async def send(self, apdu: bytes) -> None:
        raise NotImplementedError

    def cut(self) -> None:
        raise NotImplementedError


class TcpChannel(Channel):
    def __init__(self, link: SimLink, faults: TcpFaults) -> None:
        super().__init__(link)
        self.faults = faults
        self._buffer = bytearray()

    def _complete(self) -> bytes | None:
        sizes = parse_length(bytes(self._buffer[:5]))
        if sizes is None or len(self._buffer) < sum(sizes):
            return None
        size = sum(sizes)
        apdu = bytes(self._buffer[:size])
        del self._buffer[:size]
        return apdu

    async def receive(self, wait_s: float | None) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = None if wait_s is None else loop.time() + wait_s
        while (apdu := self._complete()) is None:
            left = None if deadline is None else max(deadline - loop.time(), 0)
            chunk = await self._read(left)
            if chunk is None:
                return None
            self._buffer += chunk
        return apdu

    async def send(self, apdu: bytes) -> None:
        if self.closed:
            raise ChannelClosed("link closed")
        if _take(self.faults, "split"):
            for start in range(0, len(apdu), 2):
                self.link.write(apdu[start : start + 2])
                await self.link.drain()
                await asyncio.sleep(0.005)
        else:
            self.link.write(apdu)
        await self.link.drain()

    def cut(self) -> None:
        self.closed = True
        self.link.close()


class SerialChannel(Channel):
    def __init__(
        self,
        link: SimLink,
        faults: SerialFaults,
        *,
        t1: float = 0.2,
        frame_ack_s: float = 1.0,
        retries: int = 3,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(link)
        self.faults, self.t1, self.frame_ack_s, self.retries = faults, t1, frame_ack_s, retries
        self.rng = rng or random.Random(0)
        self._decoder = FrameDecoder()
        self._frames: collections.deque[bytes] = collections.deque()
        self._controls: collections.deque[int] = collections.deque()
        self._cut = False

    async def _pump(self, wait_s: float | None) -> bool:
        chunk = await self._read(wait_s)
        if chunk is None:
            return False
        for token in self._decoder.feed(chunk):
            if isinstance(token, Control):
                self._controls.append(token.byte)
            elif isinstance(token, FrameBad):
                log.info("simulated PT: bad frame from the ECR (%s): NAK", token.reason)
                self.link.write(bytes([NAK]))
            elif isinstance(token, FrameOk):
                self._accept(token.apdu)
        return True

    def _accept(self, apdu: bytes) -> None:
        if self._cut:
            if apdu[:1] in (b"\x80", b"\x84"):
                return  # the line is down: the ECR's answers never arrive
            self._cut = False  # a new command: the line is back
        if _take(self.faults, "ignore"):
            log.info("simulated PT: fault: frame %s lost", apdu[:2].hex(" "))
            return
        if _take(self.faults, "nak"):
            log.info("simulated PT: fault: NAK for a good frame %s", apdu[:2].hex(" "))
            self.link.write(bytes([NAK]))
            return
        self.link.write(bytes([ACK]))
        self._frames.append(apdu)

    async def receive(self, wait_s: float | None) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = None if wait_s is None else loop.time() + wait_s
        while not self._frames:
            left = None if deadline is None else max(deadline - loop.time(), 0)
            if not await self._pump(left):
                return None
        return self._frames.popleft()

    async def send(self, apdu: bytes) -> None:
        if self._cut:
            return
        for _attempt in range(1 + self.retries):
            self._controls.clear()
            await self._write_frame(apdu)
            answer = await self._await_control()
            if answer == ACK:
                return
        raise ChannelClosed(f"frame {apdu[:2].hex(' ')} not acknowledged after {1 + self.retries} attempts")

    async def _write_frame(self, apdu: bytes) -> None:
        frame = encode_frame(apdu)
        if _take(self.faults, "corrupt_crc"):
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        if _take(self.faults, "noise"):
            self.link.write(bytes(self.rng.choice((0x00, 0x42, 0x7F, 0xFE)) for _ in range(3)))
        copies = 2 if _take(self.faults, "duplicate") else 1
        for _ in range(copies):
            if _take(self.faults, "late_bytes"):
                half = len(frame) // 2
                self.link.write(frame[:half])
                await self.link.drain()
                await asyncio.sleep(self.t1 * 2.5)
                self.link.write(frame[half:])
            else:
                self.link.write(frame)
        await self.link.drain()

    async def _await_control(self) -> int | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.frame_ack_s
        while not self._controls:
            left = deadline - loop.time()
            if left <= 0 or not await self._pump(left):
                return None
        return self._controls.popleft()

    def cut(self) -> None:
        self._cut = True
        with contextlib.suppress(Exception):
            self._frames.clear()
