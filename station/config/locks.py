"""Configuration of the locker wall: RS485 lock-board buses and their boards."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Section, SerialUrl


class LockBoardConfig(Section):
    """One Kerong board on a bus, named by the address set on the board (DIP switch / selector)."""

    address: int = Field(ge=0, le=15, description="board address as set on the board, from 0")
    locks: int | None = Field(default=None, ge=1, le=48, description="locks fitted (default: 16 on CU16, 48 on CU48)")
    hook_locked_bit: Literal[0, 1] = Field(
        default=1, description="hook switch bit value that means 'locked' (inverts with NO vs NC switches)"
    )
    item_sensors: bool = Field(default=False, description="CU16 infrared 'item present' sensors fitted")


class LockBusConfig(Section):
    """One RS485 line with lock boards of one protocol family."""

    port: SerialUrl
    protocol: Literal["cu16", "cu48"]
    dialect: Literal["standard", "alt"] = Field(
        default="standard",
        description="CU48 command set: standard 50/51/65 (Kerong V2.1), alt 60/61/75 (unverified firmware)",
    )
    baudrate: int = Field(default=19200, gt=0)
    gap_ms: float = Field(default=10.0, ge=0, le=1000, description="inter-frame gap")
    timeout_ms: float = Field(default=500.0, ge=10, le=10_000, description="reply timeout")
    retries: int = Field(default=1, ge=0, le=5, description="retries of a status read")
    poll_hz: float = Field(
        default=4.0, gt=0, le=50, description="status polls per second of a board where something happens"
    )
    idle_poll_hz: float = Field(
        default=0.5,
        gt=0,
        le=50,
        description="status polls per second of a quiet board: every door shut, no pulse or change for 10 s "
        "(a forced door is still seen within 1/idle_poll_hz s; never faster than poll_hz)",
    )
    boards: list[LockBoardConfig] = Field(min_length=1)

    @field_validator("boards")
    @classmethod
    def _unique_addresses(cls, boards: list[LockBoardConfig]) -> list[LockBoardConfig]:
        seen: set[int] = set()
        for board in boards:
            if board.address in seen:
                raise ValueError(f"board address {board.address} appears twice on this bus")
            seen.add(board.address)
        return boards

    @model_validator(mode="after")
    def _fits_protocol(self) -> LockBusConfig:
        max_board, max_locks = (15, 16) if self.protocol == "cu16" else (9, 48)
        for board in self.boards:
            if board.address > max_board:
                raise ValueError(f"a {self.protocol} board address is 0-{max_board}, not {board.address}")
            if board.locks is not None and board.locks > max_locks:
                raise ValueError(f"a {self.protocol} board has at most {max_locks} locks, not {board.locks}")
            if board.item_sensors and self.protocol != "cu16":
                raise ValueError("item_sensors exist on CU16 boards only")
        return self


class DoorConfig(Section):
    """Door supervision timings."""

    open_detect_s: float = Field(default=3.0, gt=0, le=60, description="time for the sensor to show a door opened")
    left_open_alarm_s: float = Field(default=300.0, gt=0, description="door open longer than this raises an alarm")
