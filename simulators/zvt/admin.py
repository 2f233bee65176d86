"""Commands on existing transactions: book total, partial reversal, enquiry, reversals, end-of-day."""

from __future__ import annotations

from payments.zvt.commands import ENQUIRY_RECEIPT, DecodedCommand
from payments.zvt.messages import ACK_POSITIVE, Abort, PrintTextBlock, StatusInformation
from payments.zvt.tables import ConfigByte
from payments.zvt.totals import IndividualTotals, encode_totals

from .coreview import CoreView
from .ledger import Transaction
from .session import Session

ALREADY_REVERSED, REVERSAL_NOT_POSSIBLE, PREAUTH_TOO_HIGH, PREAUTH_ERROR = 0xB4, 0xB5, 0xB7, 0xB8
WAITING_FOR_HOST = 0x04


class AdminFlows(CoreView):
    """Mixin of TerminalCore."""

    def _result(self, txn: Transaction, amount: int) -> StatusInformation:
        now = self.config.clock()
        return StatusInformation(
            result_code=0,
            amount_cents=amount,
            currency=self.config.currency,
            trace_no=self.ledger.next_trace(),
            original_trace_no=txn.trace_no,
            receipt_no=txn.receipt_no,
            terminal_id=self.config.terminal_id,
            time=now.strftime("%H%M%S"),
            date=now.strftime("%m%d"),
            card_name=txn.card.name,
        )

    async def _done(self, s: Session, txn: Transaction, amount: int) -> None:
        await s.exchange(self._result(txn, amount))
        await self.finish(s, self.completion())

    async def _open_preauth(self, s: Session, cmd: DecodedCommand) -> Transaction | None:
        """Acknowledge and find the open reservation; aborts (and returns None) when there is none."""
        await s.send(ACK_POSITIVE)
        txn = self.ledger.find(cmd.receipt_no, "preauth")
        if txn is None or txn.state != "open":
            await self.abort_with(s, PREAUTH_ERROR)
            return None
        return txn

    async def book_total(self, s: Session, cmd: DecodedCommand) -> None:
        amount = cmd.amount_cents
        if amount is None:
            await s.send(b"\x84\x9a\x00")
            return
        txn = await self._open_preauth(s, cmd)
        if txn is None:
            return
        if amount > txn.authorised_cents:
            await self.abort_with(s, PREAUTH_TOO_HIGH)
            return
        await self.prompt(s, WAITING_FOR_HOST)
        if amount == 0:
            self.ledger.reverse(txn, "book total of 0: reservation released")
        else:
            self.ledger.book(txn, amount, "book total")
        await self._done(s, txn, amount)

    async def partial_reversal(self, s: Session, cmd: DecodedCommand) -> None:
        if cmd.receipt_no == ENQUIRY_RECEIPT:
            await self.enquire_preauths(s, cmd)
            return
        release = cmd.amount_cents
        if release is None:
            await s.send(b"\x84\x9a\x00")
            return
        txn = await self._open_preauth(s, cmd)
        if txn is None:
            return
        if release > txn.authorised_cents:
            await self.abort_with(s, PREAUTH_TOO_HIGH)
            return
        keep = txn.authorised_cents - release
        if keep:
            self.ledger.book(txn, keep, f"partial reversal released {release} cents")
        else:
            self.ledger.reverse(txn, "partial reversal of the whole amount")
        await self._done(s, txn, keep)

    async def enquire_preauths(self, s: Session, cmd: DecodedCommand) -> None:
        await s.send(ACK_POSITIVE)
        if self.config.preauth_enquiry == "abort":  # one receipt per enquiry, FF FF when none is open
            open_ones = self.ledger.open_preauths()
            receipt = open_ones[0].receipt_no if open_ones else ENQUIRY_RECEIPT
            await self.finish(s, Abort(PREAUTH_ERROR, receipt_no=receipt))
            return
        for txn in self.ledger.open_preauths():
            status = self._result(txn, txn.authorised_cents)
            await s.exchange(status)
        await self.finish(s, self.completion())

    async def preauth_reversal(self, s: Session, cmd: DecodedCommand) -> None:
        txn = await self._open_preauth(s, cmd)
        if txn is None:
            return
        self.ledger.reverse(txn, "pre-authorisation reversal")
        await self._done(s, txn, txn.authorised_cents)

    async def reversal(self, s: Session, cmd: DecodedCommand) -> None:
        await s.send(ACK_POSITIVE)
        txn = self.ledger.find(cmd.receipt_no, "payment")
        if txn is not None and txn.state == "reversed":
            await self.abort_with(s, ALREADY_REVERSED)
            return
        if txn is None or txn.state != "booked" or txn.batch != self.ledger.batch:
            await self.abort_with(s, REVERSAL_NOT_POSSIBLE)
            return
        amount = txn.booked_cents
        self.ledger.reverse(txn, "reversal (06 30)")
        self.note(f"receipt {txn.receipt_no} reversed")
        await self._done(s, txn, amount)

    async def end_of_day(self, s: Session, cmd: DecodedCommand) -> None:
        await s.send(ACK_POSITIVE)
        await self.prompt(s, WAITING_FOR_HOST)
        totals = self.ledger.close_batch()
        now = self.config.clock()
        breakdown = IndividualTotals(totals.receipt_from, totals.receipt_to, totals.by_group)
        status = StatusInformation(
            result_code=0,
            amount_cents=max(totals.total_cents, 0),
            currency=self.config.currency,
            trace_no=self.ledger.next_trace(),
            terminal_id=self.config.terminal_id,
            time=now.strftime("%H%M%S"),
            date=now.strftime("%m%d"),
            individual_totals=encode_totals(breakdown),
        )
        self.note(f"end-of-day: {totals.count} transactions, {totals.total_cents} cents")
        await s.exchange(status)
        if self.has(ConfigByte.RECEIPTS_AS_PRINT_LINES):
            lines = ["Kassenschnitt", f"Terminal {self.config.terminal_id}"]
            lines += [f"{group}: {count} / {cents} ct" for group, (count, cents) in totals.by_group.items()]
            lines.append(f"Summe: {totals.total_cents} ct")
            await s.exchange(PrintTextBlock.from_lines(lines, receipt_type=3))
        await self.finish(s, self.completion())
