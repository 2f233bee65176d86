"""Framing shared by the Kerong lock-board dialects: checksum, frame layouts and a stream decoder.

Both families (CU48 and CU16) frame every message as `02 … 03 SUM`, where SUM is the low byte
of the sum of all bytes before it, and both carry the command byte at a fixed offset. Nothing
escapes STX inside data, so a decoder can only hunt for STX and check length, ETX and SUM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

STX = 0x02
ETX = 0x03


class LockCodecError(ValueError):
    """A frame that is not valid for its dialect: length, STX/ETX, checksum, command or address."""


def checksum(data: bytes) -> int:
    """Low byte of the sum of `data` (the SUM byte of both Kerong dialects)."""
    return sum(data) & 0xFF


def seal(head: bytes) -> bytes:
    """Complete a frame: `head` (STX up to the last data byte) + ETX + SUM."""
    framed = bytes(head) + bytes([ETX])
    return framed + bytes([checksum(framed)])


@dataclass(frozen=True)
class FrameLayout:
    """Where a dialect keeps its command byte, and how long the frame of each command is."""

    name: str
    cmd_offset: int
    lengths: Mapping[int, int]

    @property
    def max_length(self) -> int:
        return max(self.lengths.values())

    @property
    def min_length(self) -> int:
        return min(self.lengths.values())

    def problem(self, frame: bytes) -> str | None:
        """Why `frame` is not one valid frame of this layout, or None when it is."""
        if len(frame) <= self.cmd_offset:
            return f"{self.name}: frame of {len(frame)} bytes is too short"
        if frame[0] != STX:
            return f"{self.name}: frame starts with {frame[0]:02X}, not STX 02"
        cmd = frame[self.cmd_offset]
        expected = self.lengths.get(cmd)
        if expected is None:
            return f"{self.name}: unknown command {cmd:02X}"
        if len(frame) != expected:
            return f"{self.name}: command {cmd:02X} frame has {len(frame)} bytes, expected {expected}"
        if frame[-2] != ETX:
            return f"{self.name}: byte {expected - 2} is {frame[-2]:02X}, not ETX 03"
        if frame[-1] != checksum(frame[:-1]):
            return f"{self.name}: checksum {frame[-1]:02X}, expected {checksum(frame[:-1]):02X}"
        return None

    def check(self, frame: bytes) -> bytes:
        """Return `frame` as bytes if it is valid, else raise LockCodecError."""
        problem = self.problem(frame)
        if problem is not None:
            raise LockCodecError(problem)
        return bytes(frame)


class FrameDecoder:
    """Stream decoder: feed bytes as they arrive, get whole valid frames out.

    Bytes before an STX are skipped and counted; a candidate frame with an unknown command,
    a bad ETX or a bad SUM is rejected by dropping only its STX, so a real frame that starts
    inside the rejected bytes is still found (resynchronisation on the next STX).
    Never raises on any input.
    """

    def __init__(self, layout: FrameLayout) -> None:
        self.layout = layout
        self._buf = bytearray()
        self.frames = 0
        self.rejected = 0
        self.skipped_bytes = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Bytes held back as the possible start of a frame."""
        return len(self._buf)

    def reset(self) -> None:
        """Forget buffered bytes (after an input flush); the counters are kept."""
        self._buf.clear()

    def needed(self) -> int:
        """How many more bytes could complete the frame now being collected (at least 1)."""
        offset = self.layout.cmd_offset
        if len(self._buf) <= offset:
            return max(1, self.layout.min_length - len(self._buf))
        length = self.layout.lengths.get(self._buf[offset], self.layout.min_length)
        return max(1, length - len(self._buf))

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every frame completed by them, in order."""
        self._buf += data
        frames: list[bytes] = []
        while self._buf:
            start = self._buf.find(STX)
            if start < 0:
                self._skip(len(self._buf))
                break
            if start:
                self._skip(start)
            if len(self._buf) <= self.layout.cmd_offset:
                break
            cmd = self._buf[self.layout.cmd_offset]
            length = self.layout.lengths.get(cmd)
            if length is None:
                self._reject(f"{self.layout.name}: unknown command {cmd:02X}")
                continue
            if len(self._buf) < length:
                break
            candidate = bytes(self._buf[:length])
            problem = self.layout.problem(candidate)
            if problem is None:
                frames.append(candidate)
                self.frames += 1
                del self._buf[:length]
            else:
                self._reject(problem)
        return frames

    def _reject(self, problem: str) -> None:
        """Drop only the STX: a real frame may start inside the rejected bytes."""
        self.rejected += 1
        self.last_error = problem
        del self._buf[0]

    def _skip(self, count: int) -> None:
        self.skipped_bytes += count
        del self._buf[:count]


def bits_to_flags(data: bytes, count: int) -> list[bool]:
    """Bit i % 8 of byte i // 8 is flag i (lock i + 1): the order of both Kerong dialects."""
    return [bool(data[i // 8] >> (i % 8) & 1) for i in range(count)]


def flags_to_bits(flags: list[bool], size: int) -> bytes:
    """Inverse of bits_to_flags, padded with zero bits to `size` bytes."""
    out = bytearray(size)
    for i, flag in enumerate(flags):
        if flag:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)
