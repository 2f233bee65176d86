"""The two board families as the simulated boards see them: decode requests, encode replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drivers.locks import cu16, cu48
from drivers.locks.codec import FrameLayout, LockCodecError

from .board import SimBoard


@dataclass(frozen=True)
class SimRequest:
    """A request as a board sees it; `board` None = CU48 broadcast."""

    board: int | None
    kind: Literal["status", "unlock", "unlock_all"]
    lock: int | None
    address_byte: int


class SimDialect:
    """Base: what the simulator needs from a dialect."""

    lock_count: int
    unlock_replies: bool
    request_layout: FrameLayout
    reply_layout: FrameLayout

    def parse(self, frame: bytes) -> SimRequest | None:
        raise NotImplementedError

    def status_reply(self, board: SimBoard, address_byte: int, now: float) -> bytes:
        raise NotImplementedError

    def reply_is_valid(self, frame: bytes) -> bool:
        return self.reply_layout.problem(frame) is None


class Cu48Sim(SimDialect):
    lock_count = cu48.LOCKS
    unlock_replies = False  # CU48 never answers an unlock

    def __init__(self, dialect: cu48.Cu48Dialect) -> None:
        self.dialect = dialect
        self.request_layout = dialect.request_layout
        self.reply_layout = dialect.reply_layout

    def parse(self, frame: bytes) -> SimRequest | None:
        try:
            request = cu48.parse_request(frame, self.dialect)
        except LockCodecError:
            return None
        board = None if request.address == cu48.BROADCAST else request.address
        kind: Literal["status", "unlock", "unlock_all"] = request.command
        if kind == "unlock" and request.lock is None:
            kind = "unlock_all"  # LOCKNUM 30
        return SimRequest(board, kind, request.lock, request.address)

    def status_reply(self, board: SimBoard, address_byte: int, now: float) -> bytes:
        return cu48.encode_status_reply(board.address, board.hook_bytes(now, cu48.HOOK_BYTES), self.dialect)


class Cu16Sim(SimDialect):
    lock_count = cu16.LOCKS
    unlock_replies = True  # an unlock is answered with the same status frame
    request_layout = cu16.REQUEST_LAYOUT
    reply_layout = cu16.REPLY_LAYOUT

    def parse(self, frame: bytes) -> SimRequest | None:
        try:
            request = cu16.parse_request(frame)
        except LockCodecError:
            return None
        return SimRequest(request.board, request.command, request.lock, request.address_byte)

    def status_reply(self, board: SimBoard, address_byte: int, now: float) -> bytes:
        return cu16.encode_status_reply(address_byte, board.hook_bytes(now, 2), board.item_bytes(2))


def dialect_for(protocol: str, dialect: str = "standard") -> SimDialect:
    if protocol == "cu16":
        return Cu16Sim()
    if protocol == "cu48":
        if dialect not in cu48.DIALECTS:
            raise ValueError(f"unknown CU48 dialect {dialect!r}; known: {', '.join(cu48.DIALECTS)}")
        return Cu48Sim(cu48.DIALECTS[dialect])
    raise ValueError(f"unknown lock protocol {protocol!r}; known: cu16, cu48")
