"""One simulated Kerong board: its locks, its polarity, and the board-level fault knobs."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Literal

from drivers.locks.codec import flags_to_bits

from .door import SimLock

CorruptMode = Literal["bad_sum", "garbage", "noise"]


@dataclass
class BoardFaults:
    """Board-level faults.

    dead: no reply and no reaction at all (power off, wrong address).
    late_s: replies are sent this long after the request (set it above the driver's timeout).
    corrupt: "bad_sum" flips the SUM byte, "garbage" replaces the reply by random bytes behind an
    STX, "noise" puts random bytes in front of an intact reply. `corrupt_every`: 1 = every reply,
    2 = every second reply, …
    """

    dead: bool = False
    late_s: float | None = None
    corrupt: CorruptMode | None = None
    corrupt_every: int = 1


class SimBoard:
    """A board at `address` with locks 1..`lock_count`; `hook_locked_bit` is its hook polarity."""

    def __init__(
        self,
        address: int,
        lock_count: int,
        *,
        hook_locked_bit: int = 1,
        item_sensors: bool = False,
        open_delay_s: float = 0.1,
        close_after_s: float = 1.0,
    ) -> None:
        self.address = address
        self.hook_locked_bit = hook_locked_bit
        self.item_sensors = item_sensors
        self.locks = {n: SimLock(n, open_delay_s, close_after_s) for n in range(1, lock_count + 1)}
        self.faults = BoardFaults()
        self.requests: collections.Counter[str] = collections.Counter()  # by command name
        self.replies = 0  # replies produced (before faults decide their fate)

    def lock(self, number: int) -> SimLock:
        if number not in self.locks:
            raise ValueError(f"simulated board {self.address} has locks 1-{len(self.locks)}, not {number}")
        return self.locks[number]

    def pulse(self, number: int, now: float) -> None:
        """Unlock pulse for one lock; numbers the board does not have are ignored, like hardware."""
        if number in self.locks:
            self.locks[number].pulse(now)

    def pulse_all(self, now: float) -> None:
        for lock in self.locks.values():
            lock.pulse(now)

    def hook_bytes(self, now: float, size: int) -> bytes:
        """Hook switch bytes as the board sends them (polarity applied; absent locks read 0)."""
        locked_bit = bool(self.hook_locked_bit)
        flags = [lock.hook_locked(now) == locked_bit for lock in self.locks.values()]
        return flags_to_bits(flags, size)

    def item_bytes(self, size: int) -> bytes:
        """Infrared bytes: 00 where no sensors are fitted."""
        if not self.item_sensors:
            return bytes(size)
        return flags_to_bits([lock.item_present for lock in self.locks.values()], size)

    def should_corrupt(self) -> bool:
        """Count one reply; True when the corrupt fault applies to it."""
        self.replies += 1
        faults = self.faults
        return faults.corrupt is not None and self.replies % max(1, faults.corrupt_every) == 0

    def door_states(self, now: float) -> dict[int, bool]:
        """Physical door state per lock (True = open), whatever the sensor says."""
        for lock in self.locks.values():
            lock.advance(now)
        return {n: lock.door_open for n, lock in self.locks.items()}
