"""Interface v1 register map: addresses, value tables and word helpers (docs/deposit-machine.md).

All registers are holding registers (function 03 to read, 06/16 to write), 16-bit unsigned.
Numbers wider than 16 bits span several registers, most significant word first.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

PROTOCOL_VERSION = 1

# ----- register addresses (protocol addresses, 0-based, holding registers) ------------------------
PROTO_VERSION = 0
STATE = 1
FAULT_BITS = 2
SESSION_ID = 3
EVT_PENDING = 4
EVT_SEQ = 5
EVT_SESSION = 6
EVT_GTIN = 7  # 4 registers, 7..10
EVT_KIND = 11
EVT_DEPOSIT_CENTS = 12
EVT_ACK = 13
FIFO_CAPACITY = 14
BOOT_COUNT = 15
SESSION_ACCEPTED = 16
SESSION_REJECTED = 17
SESSION_DEPOSIT_CENTS = 18  # 2 registers, 18..19
CMD = 20
CMD_SEQ = 21
CMD_DONE_SEQ = 22
CMD_RESULT = 23
LAST_REJECT_REASON = 24
RESERVED_25 = 25
ACCEPTED_TOTAL = 26  # 2 registers, 26..27
DEPOSIT_TOTAL_CENTS = 28  # 2 registers, 28..29
REJECTED_TOTAL = 30  # 2 registers, 30..31

REGISTER_COUNT = 32  # HR 0..31: the whole map, one read
SUMMARY_COUNT = 13  # HR 0..12: state, faults, session and the FIFO head, the poll during a session
EVENT_BLOCK = (EVT_PENDING, EVT_DEPOSIT_CENTS - EVT_PENDING + 1)  # HR 4..12: the FIFO head
COMMAND_BLOCK = (CMD, CMD_RESULT - CMD + 1)  # HR 20..23
WRITABLE = frozenset({EVT_ACK, CMD, CMD_SEQ})

MIN_FIFO_CAPACITY = 16


class ProtocolError(ValueError):
    """Registers that break the interface definition (a vendor or adapter bug, or the wrong device)."""


class State(enum.IntEnum):
    """HR 1. A session is open only in SESSION and BUSY; every other state means no session."""

    READY = 0  # no session; a session can be opened
    SESSION = 1  # session open, intake waiting for a container
    BUSY = 2  # session open, a container is being checked or transported
    BIN_FULL = 3  # collection bin full: no session possible until emptied
    FAULT = 4  # jam, service door open, scanner or compactor fault (see fault bits)
    OUT_OF_ORDER = 5  # taken out of service (command 5 or by the technician on site)


class Fault(enum.IntFlag):
    """HR 2, one bit per condition; several can be set at once."""

    BIN_FULL = 1 << 0
    JAM = 1 << 1
    DOOR_OPEN = 1 << 2
    SCANNER = 1 << 3
    COMPACTOR = 1 << 4
    EVENTS_LOST = 1 << 5  # warning, latched: pending events were lost in a power loss (command 4 clears it)


KNOWN_FAULTS = Fault(0b111111)


class ContainerKind(enum.IntEnum):
    """HR 11."""

    SINGLE_USE = 1  # Einweg, DPG mark
    REUSABLE = 2  # Mehrweg bottle or jar
    CRATE = 3  # crate (with or without bottles: the machine reports the crate and each bottle)


class Command(enum.IntEnum):
    """HR 20."""

    OPEN_SESSION = 1
    CLOSE_SESSION = 2  # finish the container in transport, then close
    CANCEL_SESSION = 3  # close now: a container in transport goes back to the shopper, uncredited
    RESET_FAULTS = 4  # clear latched bits (EVENTS_LOST) and faults whose cause is gone
    OUT_OF_ORDER = 5
    BACK_IN_SERVICE = 6


class CommandResult(enum.IntEnum):
    """HR 23: outcome of the command whose sequence number is in HR 22."""

    DONE = 0
    WRONG_STATE = 1  # e.g. open while bin full, close with no session open
    UNKNOWN_COMMAND = 2
    FIFO_NOT_EMPTY = 3  # open refused: the host must read and acknowledge every event first
    FAULT_PRESENT = 4  # reset refused: the cause (jam, open door, full bin) is still there


class RejectReason(enum.IntEnum):
    """HR 24: why the last container of the session was handed back (0 while none was)."""

    NONE = 0
    UNKNOWN_ITEM = 1  # GTIN not in the machine's product list
    NO_DEPOSIT_MARK = 2  # no readable DPG / deposit mark
    DAMAGED = 3  # crushed, label unreadable, shape check failed
    NOT_TAKEN_BACK = 4  # material or brand this station does not take back (VerpackG §31(2))


# ----- word helpers --------------------------------------------------------------------------------


def split_words(value: int, words: int) -> list[int]:
    """Unsigned `value` as `words` registers, most significant first."""
    if not 0 <= value < 1 << (16 * words):
        raise ValueError(f"{value} does not fit in {words} unsigned 16-bit registers")
    return [(value >> (16 * (words - 1 - index))) & 0xFFFF for index in range(words)]


def join_words(registers: Sequence[int]) -> int:
    """Registers (most significant first) as one unsigned number."""
    value = 0
    for register in registers:
        if not 0 <= register <= 0xFFFF:
            raise ValueError(f"register value {register} is not an unsigned 16-bit number")
        value = value << 16 | register
    return value


def next_seq(seq: int) -> int:
    """The sequence number after `seq`: 1 … 65535, then 1 again (0 means "none" and is never used)."""
    return 1 if seq >= 0xFFFF else seq + 1
