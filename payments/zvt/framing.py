"""Serial (RS232) framing of ZVT APDUs: pure functions and an incremental decoder.

Frame: `10 02` + APDU with every `10` doubled + `10 03` + CRC low + CRC high. The CRC is
CRC-16/KERMIT over the unstuffed APDU plus the ETX byte; the two CRC bytes are not doubled.
The receiver answers each frame with `06` (ACK) or `15` (NAK).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from .apdu import MAX_DATA, parse_length
from .errors import CodecError

DLE, STX, ETX, ACK, NAK = 0x10, 0x02, 0x03, 0x06, 0x15
MAX_APDU = 5 + MAX_DATA


def crc16_kermit(data: bytes) -> int:
    """CRC-16/KERMIT: poly 0x1021 reflected (0x8408), init 0, no final xor; "123456789" -> 0x2189."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc


def encode_frame(apdu: bytes) -> bytes:
    crc = crc16_kermit(bytes(apdu) + bytes([ETX]))
    stuffed = bytes(apdu).replace(b"\x10", b"\x10\x10")
    return bytes([DLE, STX]) + stuffed + bytes([DLE, ETX, crc & 0xFF, crc >> 8])


@dataclass(frozen=True)
class FrameOk:
    apdu: bytes


@dataclass(frozen=True)
class FrameBad:
    """A frame that must be NAKed (CRC mismatch, bad DLE sequence, too long)."""

    reason: str


@dataclass(frozen=True)
class Control:
    """A single ACK or NAK byte outside a frame."""

    byte: int


Token = FrameOk | FrameBad | Control


class _State(Enum):
    IDLE = auto()
    DLE_SEEN = auto()
    DATA = auto()
    DATA_DLE = auto()
    CRC_LO = auto()
    CRC_HI = auto()


class FrameDecoder:
    """Feed bytes, get tokens. Bytes outside a frame other than ACK/NAK are counted as noise."""

    def __init__(self) -> None:
        self.noise = 0
        self.reset()

    def reset(self) -> None:
        """Forget a half-received frame (after an inter-byte timeout)."""
        self._state = _State.IDLE
        self._buf = bytearray()
        self._crc_lo = 0

    @property
    def in_frame(self) -> bool:
        return self._state not in (_State.IDLE, _State.DLE_SEEN)

    @property
    def idle(self) -> bool:
        return self._state is _State.IDLE

    def min_pending(self) -> int:
        """The fewest bytes that certainly still belong to the current frame (1 when idle)."""
        if self._state is _State.CRC_LO:
            return 2
        if self._state is _State.CRC_HI:
            return 1
        if self._state is _State.DATA_DLE:
            return 3
        if self._state is not _State.DATA:
            return 1
        sizes = parse_length(bytes(self._buf[:5]))
        if sizes is None:
            return (5 if len(self._buf) >= 3 else 3) - len(self._buf)
        missing = sum(sizes) - len(self._buf)
        return max(missing, 0) + 4

    def feed(self, data: bytes) -> list[Token]:
        tokens: list[Token] = []
        for byte in data:
            token = self._step(byte)
            if token is not None:
                tokens.append(token)
        return tokens

    def _step(self, byte: int) -> Token | None:
        state = self._state
        if state is _State.IDLE:
            if byte == DLE:
                self._state = _State.DLE_SEEN
            elif byte in (ACK, NAK):
                return Control(byte)
            else:
                self.noise += 1
            return None
        if state is _State.DLE_SEEN:
            if byte == STX:
                self._state, self._buf = _State.DATA, bytearray()
                return None
            self._state = _State.IDLE
            self.noise += 1
            return None if byte == DLE else self._step(byte)
        if state is _State.DATA:
            if byte == DLE:
                self._state = _State.DATA_DLE
            else:
                return self._append(byte)
            return None
        if state is _State.DATA_DLE:
            return self._after_dle(byte)
        if state is _State.CRC_LO:
            self._crc_lo, self._state = byte, _State.CRC_HI
            return None
        return self._finish(byte)

    def _append(self, byte: int) -> Token | None:
        self._buf.append(byte)
        if len(self._buf) > MAX_APDU:
            self.reset()
            return FrameBad(f"frame longer than {MAX_APDU} bytes")
        return None

    def _after_dle(self, byte: int) -> Token | None:
        if byte == DLE:
            self._state = _State.DATA
            return self._append(DLE)
        if byte == ETX:
            self._state = _State.CRC_LO
            return None
        if byte == STX:  # the sender restarted the frame
            self._buf = bytearray()
            self._state = _State.DATA
            return FrameBad("frame restarted (DLE STX inside a frame)")
        self.reset()
        return FrameBad(f"DLE followed by {byte:02X} inside a frame")

    def _finish(self, crc_hi: int) -> Token:
        apdu, received = bytes(self._buf), self._crc_lo | crc_hi << 8
        self.reset()
        expected = crc16_kermit(apdu + bytes([ETX]))
        if received != expected:
            return FrameBad(f"CRC mismatch: frame says {received:04X}, computed {expected:04X}")
        return FrameOk(apdu)


def decode_frame(frame: bytes) -> bytes:
    """The APDU of exactly one complete frame; anything else is a CodecError."""
    decoder = FrameDecoder()
    tokens = decoder.feed(frame)
    if not decoder.idle or decoder.noise or len(tokens) != 1:
        raise CodecError(f"not exactly one frame: {bytes(frame).hex(' ')}")
    token = tokens[0]
    if isinstance(token, FrameBad):
        raise CodecError(token.reason)
    if isinstance(token, Control):
        raise CodecError(f"a single control byte {token.byte:02X}, not a frame")
    return token.apdu
