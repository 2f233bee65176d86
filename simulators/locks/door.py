"""One simulated compartment: lock latch, door, person, hook sensor, and its fault knobs.

Time is passed in (`now`, seconds from any monotonic clock), so the model is deterministic:
state changes happen lazily when the board is asked, at the times they were scheduled for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SensorFault = Literal["stuck_locked", "stuck_unlocked"]


@dataclass
class SimLock:
    """A lock and its door.

    After a pulse the latch releases; a simulated person opens the door `open_delay_s` later
    (from then on the hook reads unlocked) and closes it `close_after_s` after opening, which
    re-engages the latch. Faults: `jammed` (a pulse does nothing), `sensor` stuck at one value,
    `auto_close=False` (nobody closes the door), and `force_open()` (tamper: open without a pulse).
    The person takes the goods when the door opens (`takes_goods`): an item sensor then reads empty.
    """

    number: int
    open_delay_s: float = 0.1
    close_after_s: float = 1.0
    auto_close: bool = True
    jammed: bool = False
    sensor: SensorFault | None = None
    item_present: bool = False
    takes_goods: bool = True
    door_open: bool = False
    pulses: int = 0  # unlock pulses received, including those a jam swallowed
    _opens_at: float | None = None
    _closes_at: float | None = None

    def advance(self, now: float) -> None:
        """Apply the scheduled opening and closing that are due at `now`."""
        if self._opens_at is not None and self._opens_at <= now:
            self._open(self._opens_at)
        if self._closes_at is not None and self._closes_at <= now:
            self.door_open, self._closes_at = False, None

    def pulse(self, now: float) -> None:
        """The board energises the lock: the latch releases unless jammed."""
        self.advance(now)
        self.pulses += 1
        if self.jammed or self.door_open or self._opens_at is not None:
            return
        self._opens_at = now + self.open_delay_s
        self.advance(now)

    def force_open(self, now: float) -> None:
        """The door is pulled open without a pulse (tamper, or a person opening by hand)."""
        self.advance(now)
        self._open(now)

    def close(self, now: float) -> None:
        """A person pushes the door shut; the latch engages."""
        self.advance(now)
        self.door_open, self._opens_at, self._closes_at = False, None, None

    def hook_locked(self, now: float) -> bool:
        """What the hook switch reports: True = locked (before the board's polarity)."""
        self.advance(now)
        if self.sensor == "stuck_locked":
            return True
        if self.sensor == "stuck_unlocked":
            return False
        return not self.door_open

    def _open(self, at: float) -> None:
        self.door_open, self._opens_at = True, None
        if self.takes_goods:
            self.item_present = False
        self._closes_at = at + self.close_after_s if self.auto_close else None
