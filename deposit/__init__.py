"""Deposit return machine: interface v1 codec (`protocol`), driver (`machine`), FIFO cursor, voucher codes."""

from .fifo import EventCursor
from .machine import CommandOutcome, CommandRefused, CommandTimeout, DepositMachine
from .protocol import (
    Command,
    CommandResult,
    ContainerEvent,
    ContainerKind,
    Counters,
    Fault,
    MachineStatus,
    MachineSummary,
    ProtocolError,
    RejectReason,
    State,
)
from .voucher import Voucher, VoucherCodeError, build_code, parse_code, random_serial

__all__ = [
    "Command",
    "CommandOutcome",
    "CommandRefused",
    "CommandResult",
    "CommandTimeout",
    "ContainerEvent",
    "ContainerKind",
    "Counters",
    "DepositMachine",
    "EventCursor",
    "Fault",
    "MachineStatus",
    "MachineSummary",
    "ProtocolError",
    "RejectReason",
    "State",
    "Voucher",
    "VoucherCodeError",
    "build_code",
    "parse_code",
    "random_serial",
]
