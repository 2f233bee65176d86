"""A byte-exact RS485 line of simulated Kerong boards (CU16 or CU48), over a pty or TCP.

The driver opens `await sim.start_pty()` (a pty path) or `await sim.start_tcp()` (a
`socket://` URL) exactly as it opens hardware. Requests are decoded with the driver's stream
decoder; each board answers only its own address; CU48 stays silent on unlock and answers a
broadcast status once per board in address order; CU16 answers an unlock with a status frame.

Control API (tests, demo): `board()`, `lock()`, `open_door()`, `close_door()`,
`set_lock_faults()`, `set_board_faults()`, `door_states()`, `hook_states()`, `inject()`, and the counters
`frames_received`, `rejected_frames`, `gap_violations`, `broadcast_unlocks`, `received`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import random
import time
from collections.abc import Callable, Iterable

from drivers.locks.codec import STX, FrameDecoder

from ..link import LinkServer, SimLink
from .board import BoardFaults, CorruptMode, SimBoard
from .dialects import SimDialect, SimRequest, dialect_for
from .door import SimLock

FrameHook = Callable[[float, bytes], None]
PulseHook = Callable[[int, int], None]  # (board, lock) when an unlock pulse reaches a lock
_LOCK_KNOBS = {"jammed", "sensor", "auto_close", "open_delay_s", "close_after_s", "item_present", "takes_goods"}


class LockBusSimulator(LinkServer):
    """Several boards on one simulated line; all methods run in the loop that started it."""

    task_prefix = "sim-locks"

    def __init__(
        self,
        protocol: str,
        boards: Iterable[SimBoard | int] = (0,),
        *,
        dialect: str = "standard",
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        baudrate: int | None = None,
        min_gap_s: float = 0.0,
        open_delay_s: float = 0.1,
        close_after_s: float = 1.0,
    ) -> None:
        """`baudrate` set: replies wait for the wire time of request + reply, as on real RS485.

        `min_gap_s` > 0: a request that starts sooner than this after the line's last reply is
        lost (models a board still switching from transmit to receive). `clock` drives the door
        model only; reception timestamps always use time.monotonic().
        """
        super().__init__()
        self.dialect: SimDialect = dialect_for(protocol, dialect)
        self.protocol = protocol
        self._clock = clock
        self._rng = random.Random(seed)
        self.baudrate = baudrate
        self.min_gap_s = min_gap_s
        self._boards: dict[int, SimBoard] = {}
        for entry in boards:
            board = entry if isinstance(entry, SimBoard) else self._new_board(int(entry), open_delay_s, close_after_s)
            self._boards[board.address] = board
        self._boards = dict(sorted(self._boards.items()))
        self.frames_received = 0
        self.rejected_frames = 0
        self.gap_violations = 0
        self.broadcast_unlocks = 0
        self.received: collections.deque[tuple[float, bytes]] = collections.deque(maxlen=10_000)
        self.on_frame: FrameHook | None = None  # called with (time.monotonic(), frame) per request
        self.on_pulse: PulseHook | None = None  # called per lock an unlock pulse reaches (the physical record)
        self._last_tx_end = -1e9

    def _new_board(self, address: int, open_delay_s: float, close_after_s: float) -> SimBoard:
        return SimBoard(address, self.dialect.lock_count, open_delay_s=open_delay_s, close_after_s=close_after_s)

    # ---- control API ------------------------------------------------------------------------

    def board_addresses(self) -> list[int]:
        return list(self._boards)

    def board(self, address: int) -> SimBoard:
        if address not in self._boards:
            raise ValueError(f"no simulated board {address} (boards: {list(self._boards)})")
        return self._boards[address]

    def lock(self, board: int, lock: int) -> SimLock:
        return self.board(board).lock(lock)

    def open_door(self, board: int, lock: int) -> None:
        """A person pulls the door open now; without a preceding pulse this is the tamper case."""
        self.board(board).lock(lock).force_open(self._clock())

    def close_door(self, board: int, lock: int) -> None:
        """A person pushes the door shut now."""
        self.board(board).lock(lock).close(self._clock())

    def set_lock_faults(self, board: int, lock: int, **knobs: object) -> None:
        """Set lock knobs: jammed, sensor ("stuck_locked" / "stuck_unlocked" / None), auto_close,
        open_delay_s, close_after_s, item_present."""
        unknown = set(knobs) - _LOCK_KNOBS
        if unknown:
            raise ValueError(f"unknown lock knobs {sorted(unknown)}; known: {sorted(_LOCK_KNOBS)}")
        target = self.board(board).lock(lock)
        for name, value in knobs.items():
            setattr(target, name, value)

    def set_board_faults(self, board: int, **faults: object) -> None:
        """Set board faults: dead, late_s, corrupt ("bad_sum" / "garbage" / "noise" / None), corrupt_every."""
        target = self.board(board)
        target.faults = dataclasses.replace(target.faults, **faults)  # type: ignore[arg-type]

    def clear_faults(self, board: int) -> None:
        self.board(board).faults = BoardFaults()

    def door_states(self, board: int) -> dict[int, bool]:
        """Physical doors, True = open (whatever the sensor reports)."""
        return self.board(board).door_states(self._clock())

    def hook_states(self, board: int) -> dict[int, bool]:
        """What the hook sensors report, True = locked (sensor faults applied, before polarity)."""
        now = self._clock()
        return {n: lock.hook_locked(now) for n, lock in self.board(board).locks.items()}

    def inject(self, data: bytes) -> None:
        """Put raw bytes on the line now, unasked (line noise, a stale reply)."""
        for link in self._links:
            self._write(link, data)

    def unlock_requests(self, board: int | None = None) -> int:
        """Unlock frames received by one board (or by all), including those a jam swallowed."""
        boards = self._boards.values() if board is None else [self.board(board)]
        return sum(b.requests["unlock"] + b.requests["unlock_all"] for b in boards)

    # ---- the wire ---------------------------------------------------------------------------

    async def _serve(self, link: SimLink) -> None:
        decoder = FrameDecoder(self.dialect.request_layout)
        while data := await link.read():
            rejected = decoder.rejected
            for frame in decoder.feed(data):
                await self._handle(frame, link)
            self.rejected_frames += decoder.rejected - rejected

    async def _handle(self, frame: bytes, link: SimLink) -> None:
        arrived = time.monotonic()
        self.frames_received += 1
        self.received.append((arrived, frame))
        if self.on_frame is not None:
            self.on_frame(arrived, frame)
        if arrived - self._last_tx_end < self.min_gap_s:
            self.gap_violations += 1  # the boards were not listening yet
            return
        request = self.dialect.parse(frame)
        if request is None:
            self.rejected_frames += 1
            return
        replies = self._act(request)
        for index, (board, reply) in enumerate(replies):
            wire_bytes = len(reply) + (len(frame) if index == 0 else 0)
            await self._reply(link, board, reply, wire_bytes)

    def _act(self, request: SimRequest) -> list[tuple[SimBoard, bytes]]:
        """Apply a request to the addressed board(s); return the replies they produce."""
        if request.board is None and request.kind != "status":
            self.broadcast_unlocks += 1  # never done by a correct driver: counted, not obeyed
            return []
        if request.board is None:
            targets = list(self._boards.values())
        else:
            targets = [self._boards[request.board]] if request.board in self._boards else []
        now = self._clock()
        replies = []
        for board in targets:
            if board.faults.dead:
                continue
            board.requests[request.kind] += 1
            if request.kind == "unlock" and request.lock is not None:
                board.pulse(request.lock, now)
                self._pulsed(board, [request.lock])
            elif request.kind == "unlock_all":
                board.pulse_all(now)
                self._pulsed(board, list(board.locks))
            if request.kind == "status" or self.dialect.unlock_replies:
                replies.append((board, self.dialect.status_reply(board, request.address_byte, now)))
        return replies

    def _pulsed(self, board: SimBoard, locks: list[int]) -> None:
        if self.on_pulse is not None:
            for number in locks:
                if number in board.locks:
                    self.on_pulse(board.address, number)

    async def _reply(self, link: SimLink, board: SimBoard, reply: bytes, wire_bytes: int) -> None:
        if board.should_corrupt():
            reply = self._corrupt(reply, board.faults.corrupt)
        if board.faults.late_s is not None:
            loop = asyncio.get_running_loop()
            self._late.append(loop.call_later(board.faults.late_s, self._write, link, reply))
            return
        if self.baudrate:
            await asyncio.sleep(wire_bytes * 10 / self.baudrate)
        self._write(link, reply)
        await link.drain()

    def _write(self, link: SimLink, data: bytes) -> None:
        link.write(data)
        self._last_tx_end = time.monotonic()

    def _corrupt(self, reply: bytes, mode: CorruptMode | None) -> bytes:
        if mode == "bad_sum":
            return reply[:-1] + bytes([reply[-1] ^ 0x5A])
        if mode == "garbage":
            junk = bytes([STX]) + self._rng.randbytes(len(reply) - 1)
            if self.dialect.reply_is_valid(junk):  # make sure it really is garbage
                junk = junk[:-1] + bytes([junk[-1] ^ 0xFF])
            return junk
        if mode == "noise":  # stray bytes (no STX) before an intact reply
            noise = bytes(b if b != STX else 0xFF for b in self._rng.randbytes(self._rng.randint(1, 8)))
            return noise + reply
        return reply
