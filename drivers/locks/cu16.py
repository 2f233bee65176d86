"""Kerong KR-CU16 / CU12 codec (16 locks per board), pure functions.

Request `02 ADDR CMD 03 SUM` (5 bytes); ADDR high nibble = board (DIP switch 0-F), low nibble =
lock index 0-F (lock 1-16). Status reply `02 ADDR 35 D1 D2 D3 D4 03 SUM` (9 bytes): D1 D2 hook
switches of locks 1-8 / 9-16, D3 D4 infrared "item present" sensors (00 where not fitted).
An unlock is answered with the same 9-byte status frame. Replies are matched on the board
nibble only. Source: code of several open drivers, no vendor document (hardware.md §1.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .codec import STX, FrameLayout, seal

MAX_BOARD = 15
LOCKS = 16
CMD_STATUS = 0x30
CMD_UNLOCK = 0x31
CMD_UNLOCK_ALL = 0x33
REPLY_STATUS = 0x35
REQUEST_LENGTH = 5
REPLY_LENGTH = 9

# Commands 32 (status of all boards), 37 (pulse time) and 39 (delayed unlock) exist, but their
# reply layouts are not confirmed: they are not part of these layouts and are rejected.
REQUEST_LAYOUT = FrameLayout("cu16 request", 2, {CMD_STATUS: 5, CMD_UNLOCK: 5, CMD_UNLOCK_ALL: 5})
REPLY_LAYOUT = FrameLayout("cu16 reply", 2, {REPLY_STATUS: REPLY_LENGTH})

_COMMANDS: dict[int, Literal["status", "unlock", "unlock_all"]] = {
    CMD_STATUS: "status",
    CMD_UNLOCK: "unlock",
    CMD_UNLOCK_ALL: "unlock_all",
}


@dataclass(frozen=True)
class Cu16Request:
    """A decoded request; `lock` (1-16) only for "unlock"."""

    board: int
    lock: int | None
    command: Literal["status", "unlock", "unlock_all"]
    address_byte: int  # ADDR as sent; boards echo it in their reply


@dataclass(frozen=True)
class Cu16StatusReply:
    """A decoded status reply: raw hook bytes D1 D2 and infrared bytes D3 D4 (bit 0 of D1 = lock 1)."""

    board: int
    hooks: bytes
    items: bytes


def _check_board(board: int) -> None:
    if not 0 <= board <= MAX_BOARD:
        raise ValueError(f"CU16 board address must be 0-{MAX_BOARD}, not {board}")


def encode_status_request(board: int) -> bytes:
    """Ask board `board` for its hook and infrared state."""
    _check_board(board)
    return seal(bytes([STX, board << 4, CMD_STATUS]))


def encode_unlock(board: int, lock: int) -> bytes:
    """Pulse lock `lock` (1-16) of board `board`; the board answers with a status reply."""
    _check_board(board)
    if not 1 <= lock <= LOCKS:
        raise ValueError(f"CU16 lock number must be 1-{LOCKS}, not {lock}")
    return seal(bytes([STX, board << 4 | (lock - 1), CMD_UNLOCK]))


def encode_unlock_all(board: int) -> bytes:
    """Pulse every lock of board `board` (commissioning only)."""
    _check_board(board)
    return seal(bytes([STX, board << 4, CMD_UNLOCK_ALL]))


def encode_status_reply(address_byte: int, hooks: bytes, items: bytes = b"\x00\x00") -> bytes:
    """A board's status reply (what a simulator sends); `address_byte` echoes the request's ADDR."""
    if not 0 <= address_byte <= 0xFF:
        raise ValueError(f"CU16 ADDR must be one byte, not {address_byte}")
    if len(hooks) != 2 or len(items) != 2:
        raise ValueError("CU16 status carries 2 hook bytes and 2 infrared bytes")
    return seal(bytes([STX, address_byte, REPLY_STATUS]) + bytes(hooks) + bytes(items))


def parse_request(frame: bytes) -> Cu16Request:
    """Decode one request frame; raises LockCodecError."""
    frame = REQUEST_LAYOUT.check(frame)
    address, command = frame[1], _COMMANDS[frame[2]]
    lock = (address & 0x0F) + 1 if command == "unlock" else None
    return Cu16Request(address >> 4, lock, command, address)


def parse_status_reply(frame: bytes) -> Cu16StatusReply:
    """Decode one status reply; raises LockCodecError."""
    frame = REPLY_LAYOUT.check(frame)
    return Cu16StatusReply(frame[1] >> 4, frame[3:5], frame[5:7])
