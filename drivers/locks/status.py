"""Typed lock-board state: what one status reply says about each lock, with polarity applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .codec import bits_to_flags


@dataclass(frozen=True)
class BoardSpec:
    """One board as configured: its address (from 0), locks fitted, hook polarity, IR sensors."""

    address: int
    locks: int | None = None  # None: all the board has (16 on CU16, 48 on CU48)
    hook_locked_bit: int = 1  # hook bit value meaning "locked"; inverts with NO vs NC switches
    item_sensors: bool = False  # CU16 infrared "item present" sensors fitted


@dataclass(frozen=True)
class LockState:
    """One lock: `locked` from the hook switch (None = unknown), `item_present` where a sensor is fitted."""

    locked: bool | None
    item_present: bool | None = None


@dataclass(frozen=True)
class BoardStatus:
    """One status reply of one board, decoded. `locks[0]` is lock 1 (the number printed on the board)."""

    board: int
    locks: tuple[LockState, ...]
    hooks: bytes  # raw hook bytes as received (D1… before polarity)
    items: bytes | None = None  # raw infrared bytes (CU16 D3 D4), None on CU48
    at: float = field(default=0.0, compare=False)  # time.monotonic() when the reply was decoded

    def lock(self, number: int) -> LockState:
        """State of lock `number` (from 1)."""
        if not 1 <= number <= len(self.locks):
            raise ValueError(f"board {self.board} has locks 1-{len(self.locks)}, not {number}")
        return self.locks[number - 1]

    def locked(self) -> list[int]:
        """Numbers of the locks whose hook reads locked."""
        return [i + 1 for i, state in enumerate(self.locks) if state.locked]

    def unlocked(self) -> list[int]:
        """Numbers of the locks whose hook reads unlocked (door open or latch released)."""
        return [i + 1 for i, state in enumerate(self.locks) if state.locked is False]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (raw bytes as hex)."""
        return {
            "board": self.board,
            "locks": [
                {"lock": i + 1, "locked": s.locked, "item_present": s.item_present} for i, s in enumerate(self.locks)
            ],
            "hooks": self.hooks.hex(" ").upper(),
            "items": None if self.items is None else self.items.hex(" ").upper(),
        }


def decode_board_status(
    spec: BoardSpec, lock_count: int, hooks: bytes, items: bytes | None = None, at: float = 0.0
) -> BoardStatus:
    """Apply the board's polarity to raw hook bytes (and IR bytes if its sensors are fitted)."""
    hook_bits = bits_to_flags(hooks, lock_count)
    locked = [bit == bool(spec.hook_locked_bit) for bit in hook_bits]
    present: list[bool | None] = [None] * lock_count
    if items is not None and spec.item_sensors:
        present = list(bits_to_flags(items, lock_count))
    states = tuple(LockState(lk, ip) for lk, ip in zip(locked, present, strict=True))
    return BoardStatus(spec.address, states, bytes(hooks), None if items is None else bytes(items), at)
