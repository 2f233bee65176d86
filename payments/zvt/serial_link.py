"""ZVT over RS232: DLE framing, CRC-16/KERMIT, ACK/NAK per frame, up to 3 repetitions.

Built on `drivers.serialio.SerialTransport` (one worker thread per port). Reads ask for exactly
the bytes the current frame still needs, so a read never swallows the start of the next frame.
"""

from __future__ import annotations

import collections
import logging

from drivers.serialio import SerialTransport, TransportError

from .errors import LinkError, ReceiveTimeout, TerminalUnavailable
from .framing import ACK, NAK, Control, FrameBad, FrameDecoder, FrameOk, encode_frame
from .transport import ZvtTimers, ZvtTransport, now, remaining

log = logging.getLogger(__name__)


class SerialLinkTransport(ZvtTransport):
    def __init__(
        self,
        url: str,
        *,
        timers: ZvtTimers | None = None,
        baudrate: int = 9600,
        stopbits: float = 2,
        name: str = "zvt",
    ) -> None:
        self.url = url
        self.timers = timers or ZvtTimers()
        self._port = SerialTransport(url, baudrate=baudrate, stopbits=stopbits, name=name)
        self._decoder = FrameDecoder()
        self._frames: collections.deque[bytes] = collections.deque()
        self._controls: collections.deque[int] = collections.deque()
        self._bad_in_a_row = 0
        self._repeat_due = 0.0  # after our NAK the sender has T2 to repeat its frame

    @property
    def is_open(self) -> bool:
        return self._port.is_open

    async def open(self) -> None:
        try:
            await self._port.open()
        except TransportError as exc:
            raise TerminalUnavailable(str(exc)) from exc

    async def close(self) -> None:
        await self._port.close()
        self._decoder.reset()
        self._frames.clear()
        self._controls.clear()

    async def _write(self, data: bytes) -> None:
        try:
            await self._port.write(data)
        except TransportError as exc:
            raise LinkError(str(exc)) from exc

    async def _read(self, size: int, wait_s: float) -> bytes:
        try:
            return await self._port.read_exact(size, max(wait_s, 0.0))
        except TransportError as exc:
            raise LinkError(str(exc)) from exc

    async def _pump(self, deadline: float) -> bool:
        """Read and decode until at least one token arrived; False when nothing started before `deadline`."""
        if not self._decoder.in_frame:
            left = remaining(deadline)
            if left <= 0:
                return False
            chunk = await self._read(1, left)
            if not chunk:
                return False
            await self._handle(chunk)
        while self._decoder.in_frame:
            chunk = await self._read(self._decoder.min_pending(), self.timers.t1_inter_byte)
            if not chunk:  # gap longer than T1 inside a frame: the sender will repeat it after our NAK
                log.warning("%s: inter-byte timeout inside a frame, sending NAK", self.url)
                self._decoder.reset()
                await self._reject("inter-byte timeout")
                break
            await self._handle(chunk)
        return True

    async def _handle(self, chunk: bytes) -> None:
        for token in self._decoder.feed(chunk):
            if isinstance(token, FrameOk):
                self._bad_in_a_row = 0
                await self._write(bytes([ACK]))
                self._frames.append(token.apdu)
            elif isinstance(token, FrameBad):
                log.warning("%s: bad frame (%s), sending NAK", self.url, token.reason)
                await self._reject(token.reason)
            elif isinstance(token, Control):
                self._controls.append(token.byte)

    async def _reject(self, reason: str) -> None:
        self._bad_in_a_row += 1
        self._repeat_due = now() + self.timers.t2_frame_ack
        await self._write(bytes([NAK]))
        if self._bad_in_a_row > self.timers.serial_retries:
            self._bad_in_a_row = 0
            raise LinkError(f"{self.url}: {self.timers.serial_retries + 1} bad frames in a row ({reason})")

    async def send(self, apdu: bytes, deadline: float) -> None:
        """Every attempt gets its full T2 for the ACK, whatever `deadline` says: a frame half-way
        through its repetitions is worth finishing. Bounded by (1 + retries) x T2."""
        frame = encode_frame(apdu)
        attempts = 1 + self.timers.serial_retries
        for attempt in range(1, attempts + 1):
            self._controls.clear()
            await self._write(frame)
            answer = await self._await_control(now() + self.timers.t2_frame_ack)
            if answer == ACK:
                return
            log.warning(
                "%s: frame %s %s (attempt %d of %d)",
                self.url,
                apdu[:2].hex(" "),
                "NAKed" if answer == NAK else "not acknowledged",
                attempt,
                attempts,
            )
        raise LinkError(f"{self.url}: terminal did not acknowledge frame {apdu[:2].hex(' ')} ({attempts} attempts)")

    async def _await_control(self, deadline: float) -> int | None:
        while not self._controls:
            if not await self._pump(deadline):
                return None
        return self._controls.popleft()

    async def receive(self, deadline: float) -> bytes:
        while not self._frames:
            if self._bad_in_a_row:  # a frame is being repeated: do not give up in the middle of it
                deadline = max(deadline, self._repeat_due)
            if not await self._pump(deadline):
                raise ReceiveTimeout(f"{self.url}: nothing received")
            self._controls.clear()  # a stray ACK/NAK outside a send means nothing to a receiver
        return self._frames.popleft()

    async def discard_input(self) -> bytes:
        self._frames.clear()
        self._controls.clear()
        self._decoder.reset()
        try:
            dropped = await self._port.reset_input()
        except TransportError as exc:
            raise LinkError(str(exc)) from exc
        if dropped:
            log.warning("%s: dropped %d late bytes: %s", self.url, len(dropped), dropped.hex(" "))
        return dropped
