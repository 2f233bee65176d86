"""The simulated unattended payment terminal: state and command dispatch (transport-agnostic).

Assumptions where the reference leaves a gap (all [U], to confirm on a real terminal):
- a wrong password is refused with `84 83 00`; a busy terminal with `84 A0 00`; commands before
  registration (when required) with `84 6B 00`; unknown commands with `84 83 00`;
- 06 23 is "release the given amount, book the rest"; 06 25 releases the whole reservation;
- the open pre-authorisation enquiry sends one status information per open reservation;
- after the BMP 02 limit of "please wait" answers the PT reverses and aborts with 6C;
- reversals and book totals need no card.
"""

from __future__ import annotations

import collections
import logging
import random

from payments.zvt import commands as cmds
from payments.zvt.commands import DecodedCommand, decode_command
from payments.zvt.errors import CodecError
from payments.zvt.messages import ACK_POSITIVE, Abort, Completion, IntermediateStatus, Message
from payments.zvt.tables import UNATTENDED_CONFIG, ConfigByte

from .admin import AdminFlows
from .channels import Channel, ChannelClosed
from .ledger import CARDS, Card, Ledger
from .payment import PaymentFlows
from .script import Outcome, Script, SimConfig
from .session import Session

log = logging.getLogger(__name__)

_NEEDS_REGISTRATION = {
    cmds.AUTHORISATION,
    cmds.PRE_AUTHORISATION,
    cmds.BOOK_TOTAL,
    cmds.PARTIAL_REVERSAL,
    cmds.PRE_AUTH_REVERSAL,
    cmds.REVERSAL,
    cmds.REFUND,
    cmds.END_OF_DAY,
}


class TerminalCore(PaymentFlows, AdminFlows):
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.ledger = Ledger()
        self.registered = False
        self.config_byte = UNATTENDED_CONFIG
        self.lock_state = 0x00  # terminal status in the status enquiry; 00 = ready
        self.busy_commands = 0  # the next N commands are refused as busy
        self.events: list[str] = []
        self.received: list[bytes] = []  # every APDU the ECR sent, byte-exact, in order
        self._script: collections.deque[Script] = collections.deque()
        self._active = False

    # --- control ---------------------------------------------------------------------------

    def script_next(self, *items: Outcome | Script) -> None:
        """Queue what happens to the next card transactions (one item each)."""
        for item in items:
            self._script.append(item if isinstance(item, Script) else Script(item))

    def next_script(self, amount_cents: int) -> Script:
        if self._script:
            return self._script.popleft()
        if amount_cents > self.config.max_amount_cents:
            return Script(Outcome.DECLINE, 0xC3)
        if amount_cents % 100 == self.config.decline_cents_suffix:
            return Script(Outcome.DECLINE, 0x05)
        return Script(Outcome.APPROVE)

    def pick_card(self, script: Script) -> Card:
        return CARDS[script.card] if script.card is not None else self.rng.choice(CARDS)

    def note(self, text: str) -> None:
        log.info("simulated PT: %s", text)
        self.events.append(text)

    # --- serving ---------------------------------------------------------------------------

    async def serve(self, channel: Channel) -> None:
        """Answer commands on one link until it closes."""
        session = Session(channel, self.config.ack_timeout_s, self.received)
        try:
            while True:
                apdu = await session.next_command()
                await self.handle(session, apdu)
        except ChannelClosed as exc:
            self.note(f"link ended: {exc}")

    async def handle(self, s: Session, apdu: bytes) -> None:
        if apdu[:1] in (b"\x80", b"\x84"):
            return  # a late acknowledgement: nothing to do
        try:
            cmd = decode_command(apdu)
        except CodecError as exc:
            self.note(f"unreadable command {apdu[:2].hex(' ')}: {exc}")
            await s.send(b"\x84\x9a\x00")
            return
        self.ledger.commands.append(cmd.name)
        refusal = self._refusal(cmd)
        if refusal is not None:
            self.note(f"{cmd.name} refused with code {refusal:02X}")
            await s.send(bytes([0x84, refusal, 0x00]))
            return
        self._active = True
        s.abort_requested = False
        try:
            await self._dispatch(s, cmd)
        finally:
            self._active = False

    def _refusal(self, cmd: DecodedCommand) -> int | None:
        if self._active:  # another connection is in a dialogue
            return self.config.busy_code
        if self.busy_commands > 0:
            self.busy_commands -= 1
            return self.config.busy_code
        if cmd.password is not None and cmd.password != self.config.password:
            return 0x83
        if self.config.require_registration and not self.registered and cmd.code in _NEEDS_REGISTRATION:
            return 0x6B
        if cmd.code == cmds.REFUND and not self.config.refunds_allowed:
            return 0x83
        card_command = cmd.code in (cmds.AUTHORISATION, cmds.PRE_AUTHORISATION, cmds.REFUND)
        if card_command and self._script and self._script[0].outcome is Outcome.BUSY:
            self._script.popleft()
            return self.config.busy_code
        return None

    async def _dispatch(self, s: Session, cmd: DecodedCommand) -> None:
        handlers = {
            cmds.REGISTRATION: self.registration,
            cmds.AUTHORISATION: self.card_transaction,
            cmds.PRE_AUTHORISATION: self.card_transaction,
            cmds.REFUND: self.card_transaction,
            cmds.BOOK_TOTAL: self.book_total,
            cmds.PARTIAL_REVERSAL: self.partial_reversal,
            cmds.PRE_AUTH_REVERSAL: self.preauth_reversal,
            cmds.REVERSAL: self.reversal,
            cmds.END_OF_DAY: self.end_of_day,
            cmds.STATUS_ENQUIRY: self.status_enquiry,
            cmds.LOG_OFF: self.log_off,
            cmds.ABORT: self.idle_abort,
        }
        handler = handlers.get(cmd.code)
        if handler is None:
            self.note(f"unknown command {cmd.cls:02X} {cmd.ins:02X}")
            await s.send(b"\x84\x83\x00")
            return
        await handler(s, cmd)

    # --- helpers used by the flows -----------------------------------------------------------

    def has(self, bit: ConfigByte) -> bool:
        return bool(self.config_byte & bit)

    async def prompt(self, s: Session, code: int, timeout_s: int | None = None) -> None:
        if self.has(ConfigByte.INTERMEDIATE_STATUS):
            await s.exchange(IntermediateStatus(code, timeout_s))

    async def finish(self, s: Session, message: Message) -> None:
        """Send the completion or abort that hands master rights back."""
        await s.exchange(message)

    def completion(self) -> Completion:
        return Completion(terminal_id=self.config.terminal_id, currency=self.config.currency)

    async def abort_with(self, s: Session, code: int) -> None:
        self.note(f"abort {code:02X}")
        await self.finish(s, Abort(code))

    # --- small commands --------------------------------------------------------------------

    async def registration(self, s: Session, cmd: DecodedCommand) -> None:
        self.registered = True
        self.config_byte = cmd.config_byte if cmd.config_byte is not None else UNATTENDED_CONFIG
        self.note(f"registered with config byte {self.config_byte:02X}")
        await s.send(ACK_POSITIVE)
        await self.finish(s, self.completion())

    async def status_enquiry(self, s: Session, cmd: DecodedCommand) -> None:
        await s.send(ACK_POSITIVE)
        await self.finish(s, Completion(sw_version=self.config.sw_version, terminal_status=self.lock_state))

    async def log_off(self, s: Session, cmd: DecodedCommand) -> None:
        self.registered = False
        self.note("logged off")
        await s.send(ACK_POSITIVE)

    async def idle_abort(self, s: Session, cmd: DecodedCommand) -> None:
        await s.send(ACK_POSITIVE)  # nothing is running: nothing to abort
