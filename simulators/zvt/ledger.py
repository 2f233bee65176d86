"""What the simulated terminal booked: payments, reservations, refunds, reversals, batches.

Tests assert on this ("charged once", "reversed", "end-of-day totals match").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["payment", "preauth", "refund"]
# pending: approved, answer not yet in; booked: charged (refund: paid out); open: reservation held;
# reversed: cancelled (auto-reversal, reversal, released reservation).
State = Literal["pending", "booked", "open", "reversed"]


@dataclass(frozen=True)
class Card:
    name: str
    group: str  # end-of-day totals group (BMP 60)
    card_type: int  # BMP 8A (ZVT card-type id; simulator values, not from a card-type list)
    pan: str  # masked, as printed


CARDS = (
    Card("girocard", "girocard", 0x05, "672559******4711"),
    Card("Mastercard", "Mastercard", 0x06, "520000******0007"),
    Card("VISA", "Visa", 0x0A, "411111******1111"),
)


@dataclass
class Transaction:
    kind: Kind
    receipt_no: int
    trace_no: int
    authorised_cents: int
    card: Card
    batch: int
    state: State = "pending"
    booked_cents: int = 0
    history: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.history.append(text)


@dataclass(frozen=True)
class BatchTotals:
    count: int
    total_cents: int
    by_group: dict[str, tuple[int, int]]
    receipt_from: int
    receipt_to: int


LedgerHook = Callable[[str, Transaction], None]  # ("approved" | "booked" | "held" | "reversed", transaction)


class Ledger:
    def __init__(self) -> None:
        self.on_change: LedgerHook | None = None  # the physical record of what money moved
        self.transactions: list[Transaction] = []
        self.commands: list[str] = []  # every command received, by name, in order
        self.batch = 1
        self._receipt = 0
        self._trace = 0

    def next_receipt(self) -> int:
        self._receipt = self._receipt % 9999 + 1
        return self._receipt

    def next_trace(self) -> int:
        self._trace = self._trace % 999999 + 1
        return self._trace

    def open(
        self, kind: Kind, amount_cents: int, card: Card, *, receipt_no: int | None = None, trace_no: int | None = None
    ) -> Transaction:
        """A new approved transaction; receipt and trace numbers count up unless given (replayed messages)."""
        receipt = receipt_no if receipt_no is not None else self.next_receipt()
        trace = trace_no if trace_no is not None else self.next_trace()
        txn = Transaction(kind, receipt, trace, amount_cents, card, self.batch)
        txn.note(f"{kind} of {amount_cents} cents approved")
        self.transactions.append(txn)
        self._changed("approved", txn)
        return txn

    def book(self, txn: Transaction, amount_cents: int, why: str) -> None:
        txn.state, txn.booked_cents = "booked", amount_cents
        txn.note(f"booked {amount_cents} cents: {why}")
        self._changed("booked", txn)

    def hold(self, txn: Transaction) -> None:
        txn.state = "open"
        txn.note("reservation held")
        self._changed("held", txn)

    def reverse(self, txn: Transaction, why: str) -> None:
        txn.state, txn.booked_cents = "reversed", 0
        txn.note(f"reversed: {why}")
        self._changed("reversed", txn)

    def _changed(self, what: str, txn: Transaction) -> None:
        if self.on_change is not None:
            self.on_change(what, txn)

    def find(self, receipt_no: int | None, kind: Kind) -> Transaction | None:
        return next((t for t in reversed(self.transactions) if t.receipt_no == receipt_no and t.kind == kind), None)

    def open_preauths(self) -> list[Transaction]:
        return [t for t in self.transactions if t.kind == "preauth" and t.state == "open"]

    def count(self, kind: Kind | None = None, state: State | None = None) -> int:
        return sum(1 for t in self.transactions if kind in (None, t.kind) and state in (None, t.state))

    def charged_cents(self) -> int:
        """Net money moved by booked transactions in every batch (refunds count negative)."""
        return sum(_signed(t) for t in self.transactions if t.state == "booked")

    def batch_totals(self) -> BatchTotals:
        booked = [t for t in self.transactions if t.batch == self.batch and t.state == "booked"]
        by_group: dict[str, tuple[int, int]] = {}
        for txn in booked:
            if txn.kind == "refund":  # refunds lower the total but have no group in BMP 60
                continue
            count, cents = by_group.get(txn.card.group, (0, 0))
            by_group[txn.card.group] = (count + 1, cents + txn.booked_cents)
        receipts = [t.receipt_no for t in booked]
        return BatchTotals(
            count=len(booked),
            total_cents=sum(_signed(t) for t in booked),
            by_group=by_group,
            receipt_from=min(receipts, default=0),
            receipt_to=max(receipts, default=0),
        )

    def close_batch(self) -> BatchTotals:
        totals = self.batch_totals()
        self.batch += 1
        return totals


def _signed(txn: Transaction) -> int:
    return -txn.booked_cents if txn.kind == "refund" else txn.booked_cents
