"""The simulated printer's mechanism: paper roll, cover, cutter, online state, and its status bytes.

Status bytes follow the Epson `DLE EOT n` tables (bits 1 and 4 always set): healthy `12` for
every n; offline n1 = `1A`; cover open n2 = `16`; stopped by paper end n2 = `32`; error n2 = `52`;
autocutter error n3 = `1A`; unrecoverable n3 = `32`; near end n4 = `1E`; paper out n4 = `72`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

HEALTHY = 0x12


class ReplyMode(enum.StrEnum):
    """How the printer answers `DLE EOT n`."""

    NORMAL = "normal"
    SILENT = "silent"  # power off / cable pulled: no byte at all, nothing printed
    LATE = "late"  # the right byte, after `late_s` (slower than the driver waits)
    GARBAGE = "garbage"  # bytes that are not status bytes (wrong baud rate, noise)


class Paper(enum.StrEnum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"


@dataclass
class PrinterMechanism:
    """Fault knobs and the paper roll. `paper_lines` None = an endless roll."""

    offline: bool = False  # offline for no other reason (e.g. paused by the feed button)
    cover_open: bool = False
    cutter_error: bool = False
    unrecoverable: bool = False
    reply: ReplyMode = ReplyMode.NORMAL
    late_s: float = 1.0
    paper_lines: int | None = None
    near_end_lines: int = 40

    @property
    def paper(self) -> Paper:
        if self.paper_lines is None or self.paper_lines > self.near_end_lines:
            return Paper.OK
        return Paper.OUT if self.paper_lines <= 0 else Paper.NEAR_END

    def set_paper(self, state: Paper | str) -> None:
        """Put the roll into a state: near end leaves exactly `near_end_lines` lines."""
        state = Paper(state)
        self.paper_lines = {Paper.OK: None, Paper.NEAR_END: self.near_end_lines, Paper.OUT: 0}[state]

    @property
    def powered(self) -> bool:
        return self.reply is not ReplyMode.SILENT

    @property
    def has_error(self) -> bool:
        return self.cutter_error or self.unrecoverable

    def can_print(self) -> bool:
        stopped = self.offline or self.cover_open or self.has_error or self.paper is Paper.OUT
        return self.powered and not stopped

    def consume(self, lines: int) -> bool:
        """Use paper for `lines` lines; False when the roll ran out before the end."""
        if self.paper_lines is None or lines <= 0:
            return True
        self.paper_lines = max(0, self.paper_lines - lines)
        return self.paper_lines > 0

    def status_byte(self, n: int) -> int:
        """The reply to `DLE EOT n` (n = 1–4)."""
        byte = HEALTHY
        out = self.paper is Paper.OUT
        if n == 1 and not self.can_print():
            byte |= 0x08  # offline
        elif n == 2:
            byte |= (0x04 if self.cover_open else 0) | (0x20 if out else 0) | (0x40 if self.has_error else 0)
        elif n == 3:
            byte |= (0x08 if self.cutter_error else 0) | (0x20 if self.unrecoverable else 0)
        elif n == 4:
            byte |= 0x60 if out else (0x0C if self.paper is Paper.NEAR_END else 0)
        return byte
