"""Kerong RS485 lock boards (KR-CU16 and KR-CU48): codecs and the bus driver.

Boards are named by the address set on the board (from 0), locks by the number printed on
the board (from 1), everywhere. All times are `time.monotonic()`.

Layers
- `codec`, `cu16`, `cu48`: pure frame encoding/parsing; `FrameDecoder` is the stream decoder.
  Parsing raises only `LockCodecError`; the stream decoder never raises (skips and counts).
- `status`: `BoardSpec` (config of one board), `BoardStatus` / `LockState` (decoded, polarity applied).
- `wire`: the line discipline (gap, input flush, write, read one reply).
- `bus`: `LockBus`, the one actor per RS485 line.

Service-facing API (`LockBus`)
    bus = LockBus(name, url, "cu16" | "cu48", boards=[BoardSpec(0), BoardSpec(1, hook_locked_bit=0)],
                  baudrate=19200, gap_s=0.010, timeout_s=0.5, retries=1, poll_hz=4.0, idle_poll_hz=0.5,
                  dialect="standard")
    bus = LockBus.from_settings(name, lock_bus_config_section)
    unsubscribe = bus.subscribe(callback)          # callback(event) in the loop; e.g. queue.put_nowait
    await bus.start()                             # returns at once; never fails because of hardware
    await bus.wait_probed(timeout_s) -> bool      # every board found up or down once
    await bus.unlock(board, lock) -> UnlockResult # one pulse, never repeated by the driver
    await bus.read_status(board) -> BoardStatus   # read now, with retries; NoAnswer / BadReply
    bus.snapshot() -> BusSnapshot                 # port + boards: availability, last status, counters
    await bus.stop()

Events (dataclasses in `events`), in the order they happen:
    BoardUp(bus, board, at)                 first answer, or answer again after being down
    BoardBaseline(bus, board, status, at)   first status read since start: the reference, no changes
    LockChanged(bus, board, lock, old, new, at)   LockState differs from the previous read
    PulseSent(bus, board, lock, at)         an unlock frame was written
    BoardDown(bus, board, error, at)        a read failed after its retries, or the port is gone

An unlock for a board without a baseline yet reads its status first (one attempt), so an
opening always arrives as LockChanged. Changes seen after a board comes back are reported
against the last state read before it went down. The driver never unlocks anything by itself
(not at start, not on reconnect) and never repeats a pulse: confirm an unlock by the status
read-back (LockChanged to locked=False), then decide on a retry.

Errors (`events`): PortUnavailable and BusBusy (nothing was sent), NoAnswer, BadReply, BusClosed;
all derive from LockBusError. Wrong board or lock numbers raise ValueError.
"""

from .bus import LockBus
from .codec import FrameDecoder, LockCodecError
from .events import (
    BadReply,
    BoardBaseline,
    BoardCounters,
    BoardDown,
    BoardSnapshot,
    BoardUp,
    BusBusy,
    BusClosed,
    BusSnapshot,
    LockBusError,
    LockChanged,
    LockEvent,
    NoAnswer,
    PortUnavailable,
    PulseSent,
    UnlockResult,
)
from .protocol import PROTOCOLS, BoardProtocol, protocol_for
from .status import BoardSpec, BoardStatus, LockState

__all__ = [
    "PROTOCOLS",
    "BadReply",
    "BoardBaseline",
    "BoardCounters",
    "BoardDown",
    "BoardProtocol",
    "BoardSnapshot",
    "BoardSpec",
    "BoardStatus",
    "BoardUp",
    "BusBusy",
    "BusClosed",
    "BusSnapshot",
    "FrameDecoder",
    "LockBus",
    "LockBusError",
    "LockChanged",
    "LockCodecError",
    "LockEvent",
    "LockState",
    "NoAnswer",
    "PortUnavailable",
    "PulseSent",
    "UnlockResult",
    "protocol_for",
]
