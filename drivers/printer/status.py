"""Pure codec for ESC/POS real-time status: `DLE EOT n` (`10 04 n`) and its one reply byte.

Epson TM-T88III / TM-L60II and Bixolon SRP-350 manuals: bits 1 and 4 of a reply are always 1,
bits 0 and 7 always 0, so a valid byte satisfies `(b & 0x93) == 0x12`. Anything else (or no
byte at all) is not a status and must never be read as "OK".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

DLE_EOT = b"\x10\x04"
VALID_MASK, VALID_VALUE = 0x93, 0x12


class StatusKind(enum.IntEnum):
    """The `n` of `DLE EOT n`: which status byte the printer sends back."""

    PRINTER = 1
    OFFLINE_CAUSE = 2
    ERROR_CAUSE = 3
    PAPER = 4


class Fault(enum.StrEnum):
    """Why the printer cannot print now; the value is the stable name used in logs, JSON and the API."""

    PORT_UNAVAILABLE = "port_unavailable"  # the port/device could not be opened or failed while in use
    NO_ANSWER = "no_answer"  # no status byte within the timeout (power off, cable, wrong port)
    INVALID_REPLY = "invalid_reply"  # a byte came back that is not a status byte (wrong baud rate, noise)
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    CUTTER_ERROR = "cutter_error"
    UNRECOVERABLE_ERROR = "unrecoverable_error"
    RECOVERABLE_ERROR = "recoverable_error"
    OFFLINE = "offline"  # offline without a more specific cause


# When several faults are present, the most specific one names the problem (what to fix first).
FAULT_PRIORITY = (
    Fault.PORT_UNAVAILABLE,
    Fault.NO_ANSWER,
    Fault.INVALID_REPLY,
    Fault.PAPER_OUT,
    Fault.COVER_OPEN,
    Fault.CUTTER_ERROR,
    Fault.UNRECOVERABLE_ERROR,
    Fault.RECOVERABLE_ERROR,
    Fault.OFFLINE,
)


class InvalidStatusByte(ValueError):
    """A reply byte that fails `(b & 0x93) == 0x12`."""

    def __init__(self, kind: StatusKind, byte: int) -> None:
        super().__init__(f"DLE EOT {int(kind)}: 0x{byte:02X} is not a status byte")
        self.kind, self.byte = kind, byte


@dataclass(frozen=True)
class PrinterState:
    """n = 1."""

    offline: bool
    drawer_pin3_high: bool
    waiting_for_recovery: bool
    feed_button_pressed: bool


@dataclass(frozen=True)
class OfflineCause:
    """n = 2."""

    cover_open: bool
    feed_button: bool
    stopped_by_paper_end: bool
    error: bool


@dataclass(frozen=True)
class ErrorCause:
    """n = 3."""

    recoverable: bool
    cutter: bool
    unrecoverable: bool
    auto_recoverable: bool


@dataclass(frozen=True)
class PaperState:
    """n = 4 (roll paper sensors)."""

    near_end: bool
    out: bool


StatusPart = PrinterState | OfflineCause | ErrorCause | PaperState
_Part = TypeVar("_Part", PrinterState, OfflineCause, ErrorCause, PaperState)


def status_request(kind: StatusKind | int) -> bytes:
    """The 3-byte `DLE EOT n` query."""
    return DLE_EOT + bytes([int(StatusKind(kind))])


def is_valid(byte: int) -> bool:
    return (byte & VALID_MASK) == VALID_VALUE


def _bit(byte: int, n: int) -> bool:
    return bool(byte >> n & 1)


def decode(kind: StatusKind | int, byte: int) -> StatusPart:
    """Decode one reply byte; raises InvalidStatusByte for a byte that is not a status."""
    kind = StatusKind(kind)
    if not is_valid(byte):
        raise InvalidStatusByte(kind, byte)
    if kind is StatusKind.PRINTER:
        return PrinterState(_bit(byte, 3), _bit(byte, 2), _bit(byte, 5), _bit(byte, 6))
    if kind is StatusKind.OFFLINE_CAUSE:
        return OfflineCause(_bit(byte, 2), _bit(byte, 3), _bit(byte, 5), _bit(byte, 6))
    if kind is StatusKind.ERROR_CAUSE:
        return ErrorCause(_bit(byte, 2), _bit(byte, 3), _bit(byte, 5), _bit(byte, 6))
    # Paper: each condition sets two bits (2+3 near end, 5+6 end); either bit counts, so a
    # printer that reports only one of the pair is not read as "paper fine".
    return PaperState(near_end=bool(byte & 0x0C), out=bool(byte & 0x60))


@dataclass(frozen=True)
class PrinterStatus:
    """What one status round found: the raw replies (None = no byte) and the decoded parts.

    `faults` lists everything that stops printing, most specific first; `fault` is the first
    (None only when every queried byte came back valid and shows nothing wrong).
    """

    replies: Mapping[int, int | None]
    printer: PrinterState | None = None
    offline_cause: OfflineCause | None = None
    error_cause: ErrorCause | None = None
    paper: PaperState | None = None
    faults: tuple[Fault, ...] = ()
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return not self.faults

    @property
    def fault(self) -> Fault | None:
        return self.faults[0] if self.faults else None

    @property
    def paper_near_end(self) -> bool:
        return bool(self.paper and self.paper.near_end and not self.paper.out)

    @property
    def online(self) -> bool | None:
        """True/False from n = 1; None when that byte is missing or invalid."""
        return None if self.printer is None else not self.printer.offline

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "fault": self.fault.value if self.fault else None,
            "faults": [f.value for f in self.faults],
            "online": self.online,
            "paper_near_end": self.paper_near_end,
            "replies": {str(int(n)): (None if b is None else f"{b:02X}") for n, b in sorted(self.replies.items())},
            "detail": self.detail,
        }


def assess(replies: Mapping[int, int | None], detail: str | None = None) -> PrinterStatus:
    """Turn the reply bytes of one status round into a PrinterStatus (pure)."""
    faults: set[Fault] = set()
    parts: dict[StatusKind, StatusPart] = {}
    problems: list[str] = []
    for n, byte in sorted(replies.items()):
        kind = StatusKind(n)
        if byte is None:
            faults.add(Fault.NO_ANSWER)
            problems.append(f"no reply to DLE EOT {n}")
            continue
        try:
            parts[kind] = decode(kind, byte)
        except InvalidStatusByte as exc:
            faults.add(Fault.INVALID_REPLY)
            problems.append(str(exc))
    faults |= _faults_of(parts.values())
    ordered = tuple(f for f in FAULT_PRIORITY if f in faults)
    text = "; ".join([*([detail] if detail else []), *problems]) or None
    return PrinterStatus(
        replies={int(n): b for n, b in replies.items()},
        printer=_get(parts, StatusKind.PRINTER, PrinterState),
        offline_cause=_get(parts, StatusKind.OFFLINE_CAUSE, OfflineCause),
        error_cause=_get(parts, StatusKind.ERROR_CAUSE, ErrorCause),
        paper=_get(parts, StatusKind.PAPER, PaperState),
        faults=_more_specific_than_offline(ordered),
        detail=text,
    )


def unreachable(fault: Fault, detail: str, queried: Iterable[int] = ()) -> PrinterStatus:
    """The status when the port itself failed: no byte for any query."""
    return PrinterStatus(replies={int(n): None for n in queried}, faults=(fault,), detail=detail)


def _get(parts: Mapping[StatusKind, StatusPart], kind: StatusKind, cls: type[_Part]) -> _Part | None:
    part = parts.get(kind)
    return part if isinstance(part, cls) else None


def _faults_of(parts: Iterable[StatusPart]) -> set[Fault]:
    found: set[Fault] = set()
    for part in parts:
        if isinstance(part, PrinterState) and part.offline:
            found.add(Fault.OFFLINE)
        elif isinstance(part, OfflineCause):
            if part.cover_open:
                found.add(Fault.COVER_OPEN)
            if part.stopped_by_paper_end:
                found.add(Fault.PAPER_OUT)
            if part.error:
                found.add(Fault.OFFLINE)  # the cause is in n = 3; offline names it when n = 3 was not asked
        elif isinstance(part, ErrorCause):
            if part.cutter:
                found.add(Fault.CUTTER_ERROR)
            if part.unrecoverable:
                found.add(Fault.UNRECOVERABLE_ERROR)
            if part.recoverable or part.auto_recoverable:
                found.add(Fault.RECOVERABLE_ERROR)
        elif isinstance(part, PaperState) and part.out:
            found.add(Fault.PAPER_OUT)
    return found


def _more_specific_than_offline(faults: tuple[Fault, ...]) -> tuple[Fault, ...]:
    """Drop the plain "offline" when a cause (paper out, cover open, an error) is known."""
    if Fault.OFFLINE in faults and len(faults) > 1:
        return tuple(f for f in faults if f is not Fault.OFFLINE)
    return faults
