"""Kerong KR-CU48 codec (48 locks per board), pure functions.

Request `02 ADDR LOCKNUM CMD 03 SUM` (6 bytes); status reply
`02 ADDR LOCKNUM 65 D1..D6 03 SUM` (12 bytes). An unlock gets no reply at all.
ADDR 00-09 is a board, 0A is broadcast (status only: never broadcast an unlock).
Source: Kerong "CU48 Protocol And Introduction" V2.1 (hardware.md §1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .codec import STX, FrameLayout, LockCodecError, seal

MAX_BOARD = 9
BROADCAST = 0x0A
LOCKS = 48
ALL_LOCKS = 0x30  # LOCKNUM meaning "all 48 locks"
REQUEST_LENGTH = 6
REPLY_LENGTH = 12
HOOK_BYTES = 6


@dataclass(frozen=True)
class Cu48Dialect:
    """Command bytes of one firmware generation."""

    name: str
    status: int
    unlock: int
    reply: int

    @property
    def request_layout(self) -> FrameLayout:
        return FrameLayout(f"cu48-{self.name} request", 3, {self.status: 6, self.unlock: 6})

    @property
    def reply_layout(self) -> FrameLayout:
        return FrameLayout(f"cu48-{self.name} reply", 3, {self.reply: REPLY_LENGTH})


STANDARD = Cu48Dialect("standard", 0x50, 0x51, 0x65)  # as documented (V2.1)
ALT = Cu48Dialect("alt", 0x60, 0x61, 0x75)  # seen in one TypeScript driver [unverified]
DIALECTS = {d.name: d for d in (STANDARD, ALT)}


@dataclass(frozen=True)
class Cu48Request:
    """A decoded request; `lock` is 1-48, or None for LOCKNUM 30 (all locks)."""

    address: int
    lock: int | None
    command: Literal["status", "unlock"]


@dataclass(frozen=True)
class Cu48StatusReply:
    """A decoded status reply: raw hook bytes D1..D6 (bit 0 of D1 = lock 1); LOCKNUM is meaningless."""

    address: int
    hooks: bytes


def _check_board(address: int, *, broadcast_ok: bool) -> None:
    if 0 <= address <= MAX_BOARD or (broadcast_ok and address == BROADCAST):
        return
    allowed = "0-9 or 10 (broadcast)" if broadcast_ok else "0-9"
    raise ValueError(f"CU48 board address must be {allowed}, not {address}")


def encode_status_request(address: int, dialect: Cu48Dialect = STANDARD) -> bytes:
    """Ask one board (or every board, BROADCAST) for the hook state of its 48 locks."""
    _check_board(address, broadcast_ok=True)
    return seal(bytes([STX, address, 0x00, dialect.status]))


def encode_unlock(address: int, lock: int, dialect: Cu48Dialect = STANDARD) -> bytes:
    """Pulse lock `lock` (1-48) of board `address`; the board sends no reply."""
    _check_board(address, broadcast_ok=False)
    if not 1 <= lock <= LOCKS:
        raise ValueError(f"CU48 lock number must be 1-{LOCKS}, not {lock}")
    return seal(bytes([STX, address, lock - 1, dialect.unlock]))


def encode_status_reply(address: int, hooks: bytes, dialect: Cu48Dialect = STANDARD, locknum: int = 0) -> bytes:
    """A board's status reply (what a simulator sends)."""
    _check_board(address, broadcast_ok=False)
    if len(hooks) != HOOK_BYTES:
        raise ValueError(f"CU48 status carries {HOOK_BYTES} hook bytes, not {len(hooks)}")
    return seal(bytes([STX, address, locknum & 0xFF, dialect.reply]) + bytes(hooks))


def parse_request(frame: bytes, dialect: Cu48Dialect = STANDARD) -> Cu48Request:
    """Decode one request frame; raises LockCodecError."""
    frame = dialect.request_layout.check(frame)
    address, locknum, cmd = frame[1], frame[2], frame[3]
    if address > BROADCAST:
        raise LockCodecError(f"cu48 request: address {address:02X} out of range 00-0A")
    if locknum > ALL_LOCKS:
        raise LockCodecError(f"cu48 request: LOCKNUM {locknum:02X} out of range 00-30")
    lock = None if locknum == ALL_LOCKS else locknum + 1
    return Cu48Request(address, lock, "status" if cmd == dialect.status else "unlock")


def parse_status_reply(frame: bytes, dialect: Cu48Dialect = STANDARD) -> Cu48StatusReply:
    """Decode one status reply; raises LockCodecError."""
    frame = dialect.reply_layout.check(frame)
    if frame[1] > MAX_BOARD:
        raise LockCodecError(f"cu48 reply: address {frame[1]:02X} out of range 00-09")
    return Cu48StatusReply(frame[1], frame[4:10])
