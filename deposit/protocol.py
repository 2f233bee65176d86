"""Deposit return machine interface v1: pure codec (docs/deposit-machine.md); re-exports `registers`.

The machine is a Modbus RTU server; everything lives in holding registers (function 03 to read,
06/16 to write). Numbers wider than 16 bits use several registers, most significant word first
(big-endian word order, the same as the byte order inside a Modbus register). This module turns
register blocks into typed values and back; it does no I/O, so the driver and the simulator
share one definition of the wire format.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .gs1 import gtin_text, is_valid_gtin
from .registers import (
    ACCEPTED_TOTAL,
    BOOT_COUNT,
    CMD,
    CMD_DONE_SEQ,
    CMD_RESULT,
    CMD_SEQ,
    COMMAND_BLOCK,
    DEPOSIT_TOTAL_CENTS,
    EVENT_BLOCK,
    EVT_ACK,
    EVT_DEPOSIT_CENTS,
    EVT_GTIN,
    EVT_KIND,
    EVT_PENDING,
    EVT_SEQ,
    EVT_SESSION,
    FAULT_BITS,
    FIFO_CAPACITY,
    KNOWN_FAULTS,
    LAST_REJECT_REASON,
    MIN_FIFO_CAPACITY,
    PROTO_VERSION,
    PROTOCOL_VERSION,
    REGISTER_COUNT,
    REJECTED_TOTAL,
    RESERVED_25,
    SESSION_ACCEPTED,
    SESSION_DEPOSIT_CENTS,
    SESSION_ID,
    SESSION_REJECTED,
    STATE,
    SUMMARY_COUNT,
    WRITABLE,
    Command,
    CommandResult,
    ContainerKind,
    Fault,
    ProtocolError,
    RejectReason,
    State,
    join_words,
    next_seq,
    split_words,
)

# ----- typed values --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerEvent:
    """One accepted container, as the head of the machine's FIFO (HR 5..12)."""

    seq: int
    session_id: int
    gtin: int
    kind: ContainerKind
    deposit_cents: int

    @property
    def key(self) -> tuple[int, int]:
        """(session, seq): unique for the life of the machine until 65535 sessions wrap; for de-duplication."""
        return (self.session_id, self.seq)

    @property
    def gtin_text(self) -> str:
        return gtin_text(self.gtin)

    @property
    def gtin_valid(self) -> bool:
        """The machine sent a GTIN with a correct check digit (the deposit counts either way)."""
        return is_valid_gtin(self.gtin)

    def to_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "session_id": self.session_id,
            "gtin": self.gtin_text,
            "kind": self.kind.name.lower(),
            "deposit_cents": self.deposit_cents,
        }


@dataclass(frozen=True)
class Counters:
    """Totals the machine keeps across power loss, for reconciliation with what the host recorded."""

    session_accepted: int
    session_rejected: int
    session_deposit_cents: int
    accepted_total: int
    deposit_total_cents: int
    rejected_total: int


@dataclass(frozen=True)
class MachineSummary:
    """HR 0..12 decoded: what the host polls while a session is open."""

    state: State
    faults: Fault
    session_id: int
    evt_pending: int
    head: ContainerEvent | None

    @property
    def session_open(self) -> bool:
        return self.state in (State.SESSION, State.BUSY)


@dataclass(frozen=True)
class MachineStatus:
    """The whole register map (HR 0..31) decoded."""

    proto_version: int
    state: State
    faults: Fault
    session_id: int
    evt_pending: int
    fifo_capacity: int
    boot_count: int
    last_ack: int
    cmd: int
    cmd_seq: int
    cmd_done_seq: int
    cmd_result: CommandResult
    last_reject_reason: RejectReason
    counters: Counters
    head: ContainerEvent | None

    @property
    def session_open(self) -> bool:
        return self.state in (State.SESSION, State.BUSY)

    @property
    def command_pending(self) -> bool:
        """A command was accepted (HR 21) but has not finished (HR 22 lags behind)."""
        return self.cmd_seq != self.cmd_done_seq

    @property
    def fifo_full(self) -> bool:
        return self.evt_pending >= self.fifo_capacity

    def fault_names(self) -> list[str]:
        return [flag.name.lower() for flag in Fault if flag in self.faults and flag.name]

    def to_dict(self) -> dict[str, object]:
        return {
            "proto_version": self.proto_version,
            "state": self.state.name.lower(),
            "session_open": self.session_open,
            "faults": self.fault_names(),
            "session_id": self.session_id,
            "fifo": {
                "pending": self.evt_pending,
                "capacity": self.fifo_capacity,
                "head": self.head.to_dict() if self.head else None,
            },
            "boot_count": self.boot_count,
            "last_ack": self.last_ack,
            "command": {
                "cmd": self.cmd, "seq": self.cmd_seq, "done_seq": self.cmd_done_seq,
                "result": self.cmd_result.name.lower(),
            },
            "last_reject_reason": self.last_reject_reason.name.lower(),
            "counters": vars(self.counters).copy(),
        }


# ----- decoding ------------------------------------------------------------------------------------

_E = TypeVar("_E", bound=enum.IntEnum)


def _enum(kind: type[_E], value: int, register: int) -> _E:
    try:
        return kind(value)
    except ValueError:
        raise ProtocolError(f"HR {register}: {value} is not a valid {kind.__name__}") from None


def _require(registers: Sequence[int], count: int, what: str) -> None:
    if len(registers) != count:
        raise ProtocolError(f"{what}: expected {count} registers, got {len(registers)}")
    for value in registers:
        if not 0 <= value <= 0xFFFF:
            raise ProtocolError(f"{what}: {value} is not a 16-bit register value")


def decode_event(registers: Sequence[int]) -> ContainerEvent | None:
    """The FIFO block HR 4..12 (9 registers) → the oldest pending event, or None when the FIFO is empty."""
    _require(registers, EVENT_BLOCK[1], "FIFO block HR 4..12")
    pending, seq, session = registers[0], registers[1], registers[2]
    if pending == 0:
        return None
    if seq == 0:
        raise ProtocolError(f"HR {EVT_SEQ}: {pending} events pending but the oldest has sequence number 0")
    gtin = join_words(registers[EVT_GTIN - EVT_PENDING : EVT_KIND - EVT_PENDING])
    if gtin >= 10**14:
        raise ProtocolError(f"HR {EVT_GTIN}..{EVT_GTIN + 3}: {gtin} has more than 14 digits")
    kind = _enum(ContainerKind, registers[EVT_KIND - EVT_PENDING], EVT_KIND)
    deposit = registers[EVT_DEPOSIT_CENTS - EVT_PENDING]
    return ContainerEvent(seq, session, gtin, kind, deposit)


def _check_header(registers: Sequence[int]) -> None:
    if registers[PROTO_VERSION] != PROTOCOL_VERSION:
        raise ProtocolError(
            f"HR {PROTO_VERSION}: interface version {registers[PROTO_VERSION]}, this host speaks {PROTOCOL_VERSION}"
        )
    unknown_bits = registers[FAULT_BITS] & ~int(KNOWN_FAULTS)
    if unknown_bits:
        raise ProtocolError(f"HR {FAULT_BITS}: undefined fault bits 0x{unknown_bits:04X}")


def decode_summary(registers: Sequence[int]) -> MachineSummary:
    """HR 0..12 → MachineSummary; raises ProtocolError for a foreign version or bad values."""
    _require(registers, SUMMARY_COUNT, "summary HR 0..12")
    _check_header(registers)
    return MachineSummary(
        state=_enum(State, registers[STATE], STATE),
        faults=Fault(registers[FAULT_BITS]),
        session_id=registers[SESSION_ID],
        evt_pending=registers[EVT_PENDING],
        head=decode_event(registers[EVENT_BLOCK[0] : EVENT_BLOCK[0] + EVENT_BLOCK[1]]),
    )


def decode_status(registers: Sequence[int]) -> MachineStatus:
    """The whole map HR 0..31 → MachineStatus; raises ProtocolError for a foreign version or bad values."""
    _require(registers, REGISTER_COUNT, "register map HR 0..31")
    _check_header(registers)

    def wide(address: int, words: int = 2) -> int:
        return join_words(registers[address : address + words])

    counters = Counters(
        session_accepted=registers[SESSION_ACCEPTED],
        session_rejected=registers[SESSION_REJECTED],
        session_deposit_cents=wide(SESSION_DEPOSIT_CENTS),
        accepted_total=wide(ACCEPTED_TOTAL),
        deposit_total_cents=wide(DEPOSIT_TOTAL_CENTS),
        rejected_total=wide(REJECTED_TOTAL),
    )
    return MachineStatus(
        proto_version=registers[PROTO_VERSION],
        state=_enum(State, registers[STATE], STATE),
        faults=Fault(registers[FAULT_BITS]),
        session_id=registers[SESSION_ID],
        evt_pending=registers[EVT_PENDING],
        fifo_capacity=registers[FIFO_CAPACITY],
        boot_count=registers[BOOT_COUNT],
        last_ack=registers[EVT_ACK],
        cmd=registers[CMD],
        cmd_seq=registers[CMD_SEQ],
        cmd_done_seq=registers[CMD_DONE_SEQ],
        cmd_result=_enum(CommandResult, registers[CMD_RESULT], CMD_RESULT),
        last_reject_reason=_enum(RejectReason, registers[LAST_REJECT_REASON], LAST_REJECT_REASON),
        counters=counters,
        head=decode_event(registers[EVENT_BLOCK[0] : EVENT_BLOCK[0] + EVENT_BLOCK[1]]),
    )


def decode_command_block(registers: Sequence[int]) -> tuple[int, int, int, CommandResult]:
    """HR 20..23 → (cmd, cmd_seq, cmd_done_seq, cmd_result)."""
    _require(registers, COMMAND_BLOCK[1], "command block HR 20..23")
    result = _enum(CommandResult, registers[3], CMD_RESULT)
    return registers[0], registers[1], registers[2], result


# ----- encoding ------------------------------------------------------------------------------------


def encode_command(command: Command, seq: int) -> list[int]:
    """Values for one write-multiple (function 16) to HR 20..21: the command, then its sequence number."""
    if not 1 <= seq <= 0xFFFF:
        raise ValueError(f"command sequence number must be 1-65535, not {seq}")
    return [int(command), seq]


def encode_event(pending: int, event: ContainerEvent | None) -> list[int]:
    """HR 4..12 for a FIFO holding `pending` events whose oldest is `event` (device side, tests)."""
    if event is None:
        if pending:
            raise ValueError("a non-empty FIFO needs its oldest event")
        return [0] * EVENT_BLOCK[1]
    if not pending or not 1 <= event.seq <= 0xFFFF:
        raise ValueError("an event needs pending >= 1 and a sequence number 1-65535")
    return [pending, event.seq, event.session_id, *split_words(event.gtin, 4), int(event.kind), event.deposit_cents]


def encode_status(status: MachineStatus) -> list[int]:
    """HR 0..31 for `status` (device side, tests): the inverse of `decode_status`."""
    c = status.counters
    registers = [0] * REGISTER_COUNT
    registers[PROTO_VERSION] = status.proto_version
    registers[STATE] = int(status.state)
    registers[FAULT_BITS] = int(status.faults)
    registers[SESSION_ID] = status.session_id
    registers[EVENT_BLOCK[0] : EVENT_BLOCK[0] + EVENT_BLOCK[1]] = encode_event(status.evt_pending, status.head)
    registers[EVT_ACK] = status.last_ack
    registers[FIFO_CAPACITY] = status.fifo_capacity
    registers[BOOT_COUNT] = status.boot_count
    registers[SESSION_ACCEPTED] = c.session_accepted
    registers[SESSION_REJECTED] = c.session_rejected
    registers[SESSION_DEPOSIT_CENTS : SESSION_DEPOSIT_CENTS + 2] = split_words(c.session_deposit_cents, 2)
    registers[CMD : CMD_RESULT + 1] = [status.cmd, status.cmd_seq, status.cmd_done_seq, int(status.cmd_result)]
    registers[LAST_REJECT_REASON] = int(status.last_reject_reason)
    registers[ACCEPTED_TOTAL : ACCEPTED_TOTAL + 2] = split_words(c.accepted_total, 2)
    registers[DEPOSIT_TOTAL_CENTS : DEPOSIT_TOTAL_CENTS + 2] = split_words(c.deposit_total_cents, 2)
    registers[REJECTED_TOTAL : REJECTED_TOTAL + 2] = split_words(c.rejected_total, 2)
    for address, value in enumerate(registers):
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"HR {address}: {value} does not fit in a register")
    return registers

__all__ = [
    "ACCEPTED_TOTAL",
    "BOOT_COUNT",
    "CMD",
    "CMD_DONE_SEQ",
    "CMD_RESULT",
    "CMD_SEQ",
    "COMMAND_BLOCK",
    "DEPOSIT_TOTAL_CENTS",
    "EVENT_BLOCK",
    "EVT_ACK",
    "EVT_DEPOSIT_CENTS",
    "EVT_GTIN",
    "EVT_KIND",
    "EVT_PENDING",
    "EVT_SEQ",
    "EVT_SESSION",
    "FAULT_BITS",
    "FIFO_CAPACITY",
    "KNOWN_FAULTS",
    "LAST_REJECT_REASON",
    "MIN_FIFO_CAPACITY",
    "PROTOCOL_VERSION",
    "PROTO_VERSION",
    "REGISTER_COUNT",
    "REJECTED_TOTAL",
    "RESERVED_25",
    "SESSION_ACCEPTED",
    "SESSION_DEPOSIT_CENTS",
    "SESSION_ID",
    "SESSION_REJECTED",
    "STATE",
    "SUMMARY_COUNT",
    "WRITABLE",
    "Command",
    "CommandResult",
    "ContainerEvent",
    "ContainerKind",
    "Counters",
    "Fault",
    "MachineStatus",
    "MachineSummary",
    "ProtocolError",
    "RejectReason",
    "State",
    "decode_command_block",
    "decode_event",
    "decode_status",
    "decode_summary",
    "encode_command",
    "encode_event",
    "encode_status",
    "join_words",
    "next_seq",
    "split_words",
]
