"""Typed results of the client's commands, and how a dialogue record maps onto them.

Money outcomes (authorise, pre-authorise, book total, partial reversal, reversal, refund):

- `Approved`: done; the terminal booked `amount_cents` (for a reversal or refund: it is done).
- `NotIssued`: the terminal approved, we answered "goods not issued" (or "please wait" until it
  gave up, ending with 06 1E): the terminal reverses by itself; nothing is charged.
- `Declined`: card or host said no (status information with result code != 00, also when the rest
  of that status information could not be read); nothing charged.
- `Aborted`: the terminal aborted (06 1E: no card, timeout, abort key, card removed); nothing charged.
- `Refused`: the terminal refused the command (84 xx 00: busy, not registered, ...); it did not run.
- `OutcomeUnknown`: link lost or deadline passed after the command left, or a status information
  that may have been an approval could not be read (answered `84 9A 00`). **Ask the terminal
  (status enquiry, open pre-authorisation enquiry, end-of-day totals); never send the command again.**

Administrative commands return `Registered`, `TerminalStatus`, `EndOfDay`, `OpenPreauths` or
`Completed` on success, and the same failure types otherwise. Every result has `.ok`, `.outcome`
(a short string), `describe()` and `to_dict()`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .commands import GoodsAnswer, GoodsKind
from .dialogue import DialogueRecord
from .messages import Completion, StatusInformation
from .tables import result_text


class Result:
    ok = False
    outcome = "result"

    def describe(self) -> str:
        return self.outcome

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "ok": self.ok, "summary": self.describe()}
        for key, value in asdict(self).items():  # type: ignore[call-overload]
            if key in ("status", "completion") and value is not None:
                value = getattr(self, key).to_dict()
            elif key == "answer" and value is not None:
                value = {"kind": value["kind"].value, "amount_cents": value["amount_cents"]}
            out[key] = value
        return out


def _euros(cents: int | None) -> str:
    return "?" if cents is None else f"{cents // 100}.{cents % 100:02d} EUR"


@dataclass(frozen=True)
class Approved(Result):
    amount_cents: int | None
    receipt_no: int | None
    trace_no: int | None
    card_name: str | None
    pan: str | None
    authorised_cents: int | None
    status: StatusInformation
    receipt_lines: tuple[str, ...] = ()
    ok = True
    outcome = "approved"

    def describe(self) -> str:
        card = f", {self.card_name.rstrip(chr(0))}" if self.card_name else ""
        return f"approved {_euros(self.amount_cents)}, receipt {self.receipt_no}, trace {self.trace_no}{card}"


@dataclass(frozen=True)
class NotIssued(Result):
    status: StatusInformation
    answer: GoodsAnswer | None
    result_code: int | None
    outcome = "not_issued"

    def describe(self) -> str:
        return f"approved, then goods not issued: terminal reverses (receipt {self.status.receipt_no})"


@dataclass(frozen=True)
class Declined(Result):
    result_code: int
    text: str
    status: StatusInformation | None = None
    outcome = "declined"

    def describe(self) -> str:
        return f"declined: {self.text} (code {self.result_code:02X})"


@dataclass(frozen=True)
class Aborted(Result):
    """`receipt_no`: a receipt the terminal named in its abort (e.g. the open pre-authorisation
    that blocks an end-of-day, code B8)."""

    result_code: int
    text: str
    receipt_no: int | None = None
    outcome = "aborted"

    def describe(self) -> str:
        return f"aborted: {self.text} (code {self.result_code:02X})"


@dataclass(frozen=True)
class Refused(Result):
    result_code: int
    text: str
    outcome = "refused"

    def describe(self) -> str:
        return f"refused by the terminal: {self.text} (code {self.result_code:02X})"


@dataclass(frozen=True)
class OutcomeUnknown(Result):
    """The command may or may not have run. `accepted` = the terminal acknowledged it.

    `status` is the last status information seen (an approval if one arrived) and `answer` the
    goods answer sent to it, so the caller knows how far the dialogue got.
    """

    reason: str
    accepted: bool
    status: StatusInformation | None = None
    answer: GoodsAnswer | None = None
    outcome = "unknown"

    def describe(self) -> str:
        seen = f"; last result seen: {self.status.text}" if self.status is not None else ""
        return f"outcome unknown ({self.reason}){seen}: ask the terminal, do not repeat"


@dataclass(frozen=True)
class Completed(Result):
    completion: Completion | None
    ok = True
    outcome = "completed"


@dataclass(frozen=True)
class Registered(Completed):
    outcome = "registered"

    def describe(self) -> str:
        tid = self.completion.terminal_id if self.completion else None
        return f"registered (terminal id {tid})" if tid else "registered"


@dataclass(frozen=True)
class TerminalStatus(Completed):
    """Status enquiry answer; `ready` is False while the terminal reports a lock state."""

    ready: bool = True
    code: int | None = None
    text: str = "ready"
    sw_version: str | None = None
    outcome = "status"

    def describe(self) -> str:
        version = f", software {self.sw_version}" if self.sw_version else ""
        return f"terminal {'ready' if self.ready else 'not ready'}: {self.text}{version}"


@dataclass(frozen=True)
class EndOfDay(Completed):
    """End-of-day totals: `total_cents` from BMP 04, per card group from BMP 60 when present."""

    total_cents: int = 0
    count: int | None = None
    by_card: dict[str, tuple[int, int]] = field(default_factory=dict)
    receipt_from: int | None = None
    receipt_to: int | None = None
    status: StatusInformation | None = None
    receipt_lines: tuple[str, ...] = ()
    outcome = "end_of_day"

    def describe(self) -> str:
        count = f" in {self.count} transactions" if self.count is not None else ""
        return f"end-of-day done: total {_euros(self.total_cents)}{count}"


@dataclass(frozen=True)
class OpenPreauth:
    receipt_no: int | None
    amount_cents: int | None
    trace_no: int | None


@dataclass(frozen=True)
class OpenPreauths(Completed):
    items: tuple[OpenPreauth, ...] = ()
    outcome = "open_preauths"

    def describe(self) -> str:
        return f"{len(self.items)} open pre-authorisation(s)"


def failure_of(rec: DialogueRecord) -> Result | None:
    """The failure result of a dialogue that did not complete normally, or None."""
    if rec.refused is not None:
        return Refused(rec.refused.code, result_text(rec.refused.code))
    if rec.end is None and rec.failure is not None:
        last = rec.approval or (rec.status_infos[-1] if rec.status_infos else None)
        return OutcomeUnknown(rec.failure, rec.accepted, last, rec.last_answer)
    return None


def money_result(rec: DialogueRecord) -> Result:
    """Classify a money dialogue (see the table in the module docstring)."""
    failure = failure_of(rec)
    if failure is not None:
        return failure
    if rec.unreadable_status is not None:
        return _after_unreadable_status(rec, rec.unreadable_status)
    approval = rec.approval
    if approval is not None:
        return _after_approval(rec, approval)
    declined = next((s for s in reversed(rec.status_infos) if s.result_code is not None), None)
    if declined is not None and declined.result_code is not None:
        return Declined(declined.result_code, declined.text, declined)
    if isinstance(rec.end, Completion) or rec.end is None:
        return OutcomeUnknown("terminal completed without a status information", True, None, rec.last_answer)
    return Aborted(rec.end.result_code, rec.end.text, rec.end.receipt_no)


def _after_unreadable_status(rec: DialogueRecord, reason: str) -> Result:
    """A status information we answered `84 9A 00`. If its result code was read and says
    "declined", nothing was charged; anything else may have been an approval: ask the terminal."""
    partial = rec.partial_status
    code = partial.result_code if partial is not None else None
    if rec.approval is None and code is not None and code != 0 and partial is not None:
        return Declined(code, partial.text, partial)
    seen = rec.approval or partial
    return OutcomeUnknown(f"unreadable status information ({reason})", True, seen, rec.last_answer)


def _after_approval(rec: DialogueRecord, approval: StatusInformation) -> Result:
    answer = rec.last_answer
    booked = answer is None or answer.kind in (GoodsKind.ISSUED, GoodsKind.PARTIAL)
    abort_code = None if isinstance(rec.end, Completion) or rec.end is None else rec.end.result_code
    if not booked:
        assert answer is not None
        if answer.kind is GoodsKind.WAIT and abort_code is None:
            # The PT completed although the goods were never confirmed: vendor-specific, so ask.
            return OutcomeUnknown("terminal completed while the goods decision was pending", True, approval, answer)
        return NotIssued(approval, answer, abort_code)
    if abort_code is not None:
        return OutcomeUnknown(
            f"terminal aborted ({result_text(abort_code)}) after the approval was confirmed", True, approval, answer
        )
    amount = answer.amount_cents if answer is not None and answer.kind is GoodsKind.PARTIAL else None
    return Approved(
        amount_cents=amount if amount is not None else approval.amount_cents,
        receipt_no=approval.receipt_no,
        trace_no=approval.trace_no,
        card_name=approval.card_name,
        pan=approval.pan,
        authorised_cents=approval.amount_cents,
        status=approval,
        receipt_lines=rec.receipt_lines,
    )


def admin_failure(rec: DialogueRecord, *, needs_completion: bool = True) -> Result | None:
    """Failure of an administrative dialogue, or None when it completed."""
    failure = failure_of(rec)
    if failure is not None:
        return failure
    declined = next((s for s in reversed(rec.status_infos) if not s.approved and s.result_code is not None), None)
    if declined is not None and declined.result_code is not None:
        return Declined(declined.result_code, declined.text, declined)
    if rec.end is not None and not isinstance(rec.end, Completion):
        return Aborted(rec.end.result_code, rec.end.text, rec.end.receipt_no)
    if needs_completion and rec.end is None:
        return OutcomeUnknown("dialogue ended without completion", rec.accepted)
    return None
