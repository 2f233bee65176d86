"""One interface over both board families, for the bus driver: requests out, typed status in."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from . import cu16, cu48
from .codec import FrameLayout, LockCodecError
from .status import BoardSpec, BoardStatus, decode_board_status

PROTOCOLS = ("cu16", "cu48")


@dataclass(frozen=True)
class BoardProtocol:
    """What the bus driver needs to know about a board family."""

    name: str
    max_board: int
    max_locks: int
    reply_layout: FrameLayout
    unlock_replies: bool  # CU16 answers an unlock with a status frame; CU48 stays silent
    request_bytes: int
    reply_bytes: int
    dialect: cu48.Cu48Dialect | None = None

    def status_request(self, board: int) -> bytes:
        if self.dialect is not None:
            return cu48.encode_status_request(board, self.dialect)
        return cu16.encode_status_request(board)

    def unlock_request(self, board: int, lock: int) -> bytes:
        if self.dialect is not None:
            return cu48.encode_unlock(board, lock, self.dialect)
        return cu16.encode_unlock(board, lock)

    def reply_board(self, frame: bytes) -> int:
        """Board address of a reply frame that already passed the reply layout's checks."""
        # CU48 carries the board in ADDR; CU16 in ADDR's high nibble (low nibble echoes the lock).
        return frame[1] if self.dialect is not None else frame[1] >> 4

    def decode_status(self, frame: bytes, spec: BoardSpec) -> BoardStatus:
        """Decode a status reply for `spec`'s board; raises LockCodecError."""
        now = time.monotonic()
        count = spec.locks or self.max_locks
        if self.dialect is not None:
            reply48 = cu48.parse_status_reply(frame, self.dialect)
            self._check_address(reply48.address, spec)
            return decode_board_status(spec, count, reply48.hooks, None, now)
        reply16 = cu16.parse_status_reply(frame)
        self._check_address(reply16.board, spec)
        return decode_board_status(spec, count, reply16.hooks, reply16.items, now)

    def check_specs(self, bus: str, boards: Iterable[BoardSpec | int]) -> list[BoardSpec]:
        """Validate the boards of one bus (plain ints mean default boards at those addresses)."""
        specs = [b if isinstance(b, BoardSpec) else BoardSpec(int(b)) for b in boards]
        if not specs:
            raise ValueError(f"lock bus {bus}: no boards configured")
        for spec in specs:
            if not 0 <= spec.address <= self.max_board:
                raise ValueError(f"{self.name} board address must be 0-{self.max_board}, not {spec.address}")
            if spec.locks is not None and not 1 <= spec.locks <= self.max_locks:
                raise ValueError(f"a {self.name} board has 1-{self.max_locks} locks, not {spec.locks}")
            if spec.hook_locked_bit not in (0, 1):
                raise ValueError(f"hook_locked_bit must be 0 or 1, not {spec.hook_locked_bit}")
        if len({s.address for s in specs}) != len(specs):
            raise ValueError(f"lock bus {bus}: a board address appears twice")
        return specs

    def _check_address(self, address: int, spec: BoardSpec) -> None:
        if address != spec.address:
            raise LockCodecError(f"{self.name} reply from board {address}, expected board {spec.address}")


def protocol_for(name: str, dialect: str = "standard") -> BoardProtocol:
    """The protocol named in config: "cu16" or "cu48" (with its CU48 dialect, default "standard")."""
    if name == "cu16":
        return BoardProtocol(
            "cu16", cu16.MAX_BOARD, cu16.LOCKS, cu16.REPLY_LAYOUT, True, cu16.REQUEST_LENGTH, cu16.REPLY_LENGTH
        )
    if name == "cu48":
        chosen = cu48.DIALECTS.get(dialect)
        if chosen is None:
            raise ValueError(f"unknown CU48 dialect {dialect!r}; known: {', '.join(cu48.DIALECTS)}")
        return BoardProtocol(
            "cu48",
            cu48.MAX_BOARD,
            cu48.LOCKS,
            chosen.reply_layout,
            False,
            cu48.REQUEST_LENGTH,
            cu48.REPLY_LENGTH,
            chosen,
        )
    raise ValueError(f"unknown lock protocol {name!r}; known: {', '.join(PROTOCOLS)}")
