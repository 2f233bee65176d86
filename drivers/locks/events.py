"""What the lock-bus driver reports: events, unlock results, counters, snapshots and errors.

Every time is `time.monotonic()`. Boards are named by their address (from 0), locks by the
number printed on the board (from 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.availability import AvailabilitySnapshot

from .status import BoardStatus, LockState


class LockBusError(Exception):
    """Base of the driver's errors."""


class PortUnavailable(LockBusError):
    """The serial port is not open (missing adapter, bridge unreachable): nothing was sent."""


class NoAnswer(LockBusError):
    """The board did not answer within the timeout (after the allowed retries)."""


class BadReply(LockBusError):
    """Only corrupt or foreign bytes came back (bad checksum, wrong length, wrong board)."""


class BusBusy(LockBusError):
    """The request waited too long for its turn on the line: it was withdrawn, nothing was sent."""


class BusClosed(LockBusError):
    """The bus was stopped (or never started)."""


@dataclass(frozen=True)
class BoardUp:
    """A board answered: for the first time, or again after being down."""

    bus: str
    board: int
    at: float


@dataclass(frozen=True)
class BoardDown:
    """A board stopped answering (or its port is gone); it is re-probed with backoff."""

    bus: str
    board: int
    error: str
    at: float


@dataclass(frozen=True)
class BoardBaseline:
    """The first status read of a board since the bus started: reference state, no change events."""

    bus: str
    board: int
    status: BoardStatus
    at: float


@dataclass(frozen=True)
class LockChanged:
    """A lock's hook (or item sensor) reads differently from the previous successful read."""

    bus: str
    board: int
    lock: int
    old: LockState
    new: LockState
    at: float


@dataclass(frozen=True)
class PulseSent:
    """An unlock frame left the driver (CU48 never confirms it; only the status read-back does)."""

    bus: str
    board: int
    lock: int
    at: float


LockEvent = BoardUp | BoardDown | BoardBaseline | LockChanged | PulseSent


@dataclass(frozen=True)
class UnlockResult:
    """One unlock pulse, sent. `sent_at`: when the frame was written.

    `status` is the board's reply to the unlock (CU16 only; it may still show the lock locked:
    the latch needs time). `reply_error` says why a CU16 reply is missing. The pulse is never
    repeated by the driver: confirm with status reads, then decide.
    """

    bus: str
    board: int
    lock: int
    sent_at: float
    status: BoardStatus | None = None
    reply_error: str | None = None


@dataclass
class BoardCounters:
    """Per-board traffic counters since the bus started."""

    requests: int = 0  # frames sent to this board (status and unlock)
    unlocks: int = 0
    timeouts: int = 0  # attempts with no reply at all
    bad_frames: int = 0  # corrupt replies, stray bytes between frames, replies from another board
    retries: int = 0  # repeated status reads


@dataclass(frozen=True)
class BoardSnapshot:
    """One board as the driver sees it now."""

    address: int
    locks: int
    availability: AvailabilitySnapshot
    status: BoardStatus | None
    counters: BoardCounters = field(default_factory=BoardCounters)


@dataclass(frozen=True)
class BusSnapshot:
    """The whole line: port state, per-board state, bytes dropped by input flushes."""

    name: str
    url: str
    protocol: str
    port: AvailabilitySnapshot
    boards: tuple[BoardSnapshot, ...]
    flushed_bytes: int
