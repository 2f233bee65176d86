"""Card transactions of the simulated terminal: authorisation (06 01), pre-authorisation (06 22), refund (06 31).

Vending: with BMP 02 (max. status informations) the approval is answered by the ECR with
`80 00 00` (book), `84 9C 00` (repeat later, up to the BMP 02 limit), `84 66 00` (not issued:
auto-reversal) or `84 9D 07 04 <amount>` (book the lower amount). Any other negative answer, and a
missing answer, lead to an auto-reversal (missing answer: see `SimConfig.on_lost_ack`).
"""

from __future__ import annotations

import asyncio

from payments.zvt import commands as cmds
from payments.zvt.bcd import decode_amount
from payments.zvt.bmp import decode_bmps
from payments.zvt.commands import DecodedCommand
from payments.zvt.errors import CodecError, UnreadableMessage
from payments.zvt.messages import ACK_POSITIVE, Acknowledgement, PrintLine, StatusInformation, parse_message
from payments.zvt.tables import ConfigByte

from .channels import ChannelClosed
from .coreview import CoreView
from .ledger import Card, Kind, Transaction
from .script import Outcome, Script
from .session import Session

_KINDS: dict[tuple[int, int], Kind] = {
    cmds.AUTHORISATION: "payment",
    cmds.PRE_AUTHORISATION: "preauth",
    cmds.REFUND: "refund",
}

INSERT_CARD, WAITING_FOR_HOST, CARD_NOT_READABLE, AUTO_REVERSAL, TAKE_GOODS = 0x0A, 0x04, 0x0C, 0x05, 0x1C
ABORT_TIMEOUT, CARD_UNREADABLE = 0x6C, 0x64


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


class PaymentFlows(CoreView):
    """Mixin of TerminalCore (uses its config, ledger, prompt/finish helpers)."""

    def status_info(self, code: int, amount: int, card: Card, txn: Transaction | None = None) -> StatusInformation:
        now = self.config.clock()
        return StatusInformation(
            result_code=code,
            amount_cents=amount,
            currency=self.config.currency,
            trace_no=txn.trace_no if txn else self.ledger.next_trace(),
            receipt_no=txn.receipt_no if txn else None,
            terminal_id=self.config.terminal_id,
            time=now.strftime("%H%M%S"),
            date=now.strftime("%m%d"),
            expiry="2812",
            pan=card.pan,
            card_type=card.card_type,
            card_name=card.name,
        )

    async def _aborted_by_ecr(self, s: Session) -> bool:
        if s.abort_requested:
            await self.abort_with(s, ABORT_TIMEOUT)
            return True
        return False

    async def card_transaction(self, s: Session, cmd: DecodedCommand) -> None:
        kind, amount = _KINDS[cmd.code], cmd.amount_cents
        if not amount:
            await s.send(b"\x84\x9a\x00")  # no amount: protocol error
            return
        script = self.next_script(amount)
        card = self.pick_card(script)
        self.note(f"{cmd.name} of {amount} cents: {script.outcome.value}")
        await s.send(ACK_POSITIVE)
        await self.prompt(s, INSERT_CARD, self.config.prompt_timeout_s)
        await s.listen(self.config.step_s)
        if await self._aborted_by_ecr(s):
            return
        outcome = script.outcome
        if outcome is Outcome.NO_CARD:
            await s.listen(self.config.card_wait_s)
            await self.abort_with(s, ABORT_TIMEOUT)
            return
        if outcome is Outcome.SILENCE:
            await s.wait_for_next_command()
            return
        if outcome is Outcome.CARD_REMOVED:
            await self.prompt(s, CARD_NOT_READABLE)
            await self.abort_with(s, CARD_UNREADABLE)
            return
        await self.prompt(s, WAITING_FOR_HOST)
        await s.listen(self.config.step_s)
        if await self._aborted_by_ecr(s):
            return
        if outcome is Outcome.DROP_BEFORE_RESULT:
            s.channel.cut()
            return
        if outcome is Outcome.DECLINE:
            await s.exchange(script.status_apdu or self.status_info(script.result_code, amount, card))
            await self.abort_with(s, script.result_code)
            return
        await self._approve(s, cmd, kind, amount, card, script)

    async def _approve(
        self, s: Session, cmd: DecodedCommand, kind: Kind, amount: int, card: Card, script: Script
    ) -> None:
        status: StatusInformation | bytes
        if script.status_apdu is not None:
            booked, receipt, trace = _replayed(script.status_apdu, amount)
            txn = self.ledger.open(kind, booked, card, receipt_no=receipt, trace_no=trace)
            status = script.status_apdu
        else:
            txn = self.ledger.open(kind, amount, card)
            status = self.status_info(0x00, amount, card, txn)
        try:
            if script.outcome is Outcome.DROP_AFTER_APPROVAL:
                await s.send(status)
                s.channel.cut()
                self.answer_lost(txn)
                return
            await self._settle(s, cmd, txn, status)
        except ChannelClosed:
            if txn.state == "pending":
                self.answer_lost(txn)
            raise

    def answer_lost(self, txn: Transaction) -> None:
        """The ECR never answered the approval."""
        if self.config.on_lost_ack == "book":
            self._keep(txn, txn.authorised_cents, "approval not acknowledged; booked anyway (on_lost_ack=book)")
        else:
            self.ledger.reverse(txn, "approval not acknowledged: auto-reversal")
        self.note(f"receipt {txn.receipt_no}: answer lost, {txn.state}")

    def _keep(self, txn: Transaction, amount: int, why: str) -> None:
        if txn.kind == "preauth":
            self.ledger.hold(txn)
        else:
            self.ledger.book(txn, amount, why)

    async def _settle(
        self, s: Session, cmd: DecodedCommand, txn: Transaction, status: StatusInformation | bytes
    ) -> None:
        max_infos = cmd.byte(0x02) if txn.kind == "payment" else None
        sent = 1
        while True:
            answer = await s.exchange(status)
            if answer is None:
                self.answer_lost(txn)
                await self._end(s, txn)
                return
            if answer.positive:
                self._keep(txn, txn.authorised_cents, "goods issued")
                break
            if answer.code == 0x9C and max_infos and sent < max_infos:
                self.note(f"receipt {txn.receipt_no}: please wait ({sent} of {max_infos})")
                await asyncio.sleep(self.config.resend_s)
                sent += 1
                continue
            partial = _partial_amount(answer) if txn.kind == "payment" else None
            if partial is not None and 0 < partial <= txn.authorised_cents:
                self.ledger.book(txn, partial, "partial issue")
                break
            self.ledger.reverse(txn, f"ECR answered 84 {answer.code:02X}: auto-reversal")
            self.note(f"receipt {txn.receipt_no}: auto-reversal after 84 {answer.code:02X}")
            await self.prompt(s, AUTO_REVERSAL)
            await self.abort_with(s, 0x66 if answer.code == 0x66 else ABORT_TIMEOUT)
            return
        await self._end(s, txn)

    async def _end(self, s: Session, txn: Transaction) -> None:
        if txn.state == "reversed":
            await self.abort_with(s, ABORT_TIMEOUT)
            return
        if self.has(ConfigByte.RECEIPTS_AS_PRINT_LINES):
            for line in self.receipt_lines(txn):
                await s.exchange(PrintLine(line))
        if txn.kind == "payment":
            await self.prompt(s, TAKE_GOODS)
        await self.finish(s, self.completion())

    def receipt_lines(self, txn: Transaction) -> list[str]:
        title = {"payment": "Kartenzahlung", "preauth": "Reservierung", "refund": "Gutschrift"}[txn.kind]
        amount = txn.booked_cents or txn.authorised_cents
        return [
            title,
            txn.card.name,
            txn.card.pan,
            f"Betrag EUR {_euros(amount)}",
            f"Beleg {txn.receipt_no:04d}  Trace {txn.trace_no:06d}",
            f"Terminal {self.config.terminal_id}",
            "Zahlung erfolgt" if txn.kind != "preauth" else "Betrag reserviert",
        ]


def _replayed(apdu: bytes, amount: int) -> tuple[int, int | None, int | None]:
    """(amount, receipt, trace) a replayed status information carries, for the ledger."""
    message: object
    try:
        message = parse_message(apdu)
    except UnreadableMessage as exc:
        message = exc.partial
    except CodecError:
        message = None
    if not isinstance(message, StatusInformation):
        return amount, None, None
    booked = message.amount_cents if message.amount_cents is not None else amount
    return booked, message.receipt_no, message.trace_no


def _partial_amount(answer: Acknowledgement) -> int | None:
    if answer.code != 0x9D:
        return None
    try:
        fields = dict(decode_bmps(answer.data))
        return decode_amount(fields[0x04]) if 0x04 in fields else None
    except CodecError:
        return None
