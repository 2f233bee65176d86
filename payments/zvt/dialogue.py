"""One ZVT dialogue: send a command, get it accepted, then serve the terminal until it hands back.

Flow (zvt.md §7): ECR sends a command -> PT answers `80 00 00` (accepted) or `84 xx 00` (refused)
within T3 -> PT is master and sends intermediate statuses, print lines, status informations, each
acknowledged by us -> PT ends with `06 0F` (completion) or `06 1E` (abort). The whole master phase
is bounded by T4, extended by the timeout byte of every `04 FF`.

An approved status information in a vending authorisation is answered through `decide` instead of a
plain acknowledgement (goods issued / please wait / not issued / partial). Nothing here interprets
the outcome: the `DialogueRecord` is turned into a typed result by `results.py`.

A message read with warnings (informational fields the codec could not read as expected) is
acknowledged like any other: answering `84 9A 00` to an approval makes the terminal reverse it.
Each distinct warning is logged once per dialogue. Only a message that cannot be read at all is
answered `84 9A 00`; for a status information the fields read before the problem are kept.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .commands import GOODS_ISSUED, GOODS_NOT_ISSUED, PLEASE_WAIT, GoodsAnswer, GoodsKind
from .commands import abort as abort_command
from .errors import CodecError, LinkError, ReceiveTimeout, UnreadableMessage
from .messages import (
    ACK_POSITIVE,
    Abort,
    Acknowledgement,
    Completion,
    IntermediateStatus,
    Message,
    PrintLine,
    PrintTextBlock,
    StatusInformation,
    parse_message,
)
from .transport import ZvtTimers, ZvtTransport, now

log = logging.getLogger(__name__)

Observer = Callable[[Message], Awaitable[None] | None]
Decide = Callable[[StatusInformation], Awaitable[GoodsAnswer]]

POLL_S = 0.2  # receive slice: how quickly a requested abort goes out while the PT is silent
OBSERVER_S = 1.0  # an observer (UI push) slower than this is abandoned for that message
PROTOCOL_ERROR_NACK = b"\x84\x9a\x00"


@dataclass
class DialogueRecord:
    """Everything that happened in one dialogue, in order."""

    command: bytes
    accepted: bool = False
    refused: Acknowledgement | None = None
    messages: list[Message] = field(default_factory=list)
    status_infos: list[StatusInformation] = field(default_factory=list)
    answers: list[GoodsAnswer] = field(default_factory=list)
    end: Completion | Abort | None = None
    failure: str | None = None
    protocol_errors: list[str] = field(default_factory=list)
    unreadable_status: str | None = None  # a 04 0F we could not parse (answered 84 9A 00)
    partial_status: StatusInformation | None = None  # what could be read of that 04 0F
    warnings: list[str] = field(default_factory=list)  # distinct warnings of the messages, in order
    abort_sent: bool = False

    @property
    def approval(self) -> StatusInformation | None:
        """The last approved status information, if any."""
        return next((s for s in reversed(self.status_infos) if s.approved), None)

    @property
    def last_answer(self) -> GoodsAnswer | None:
        return self.answers[-1] if self.answers else None

    @property
    def receipt_lines(self) -> tuple[str, ...]:
        lines: list[str] = []
        for message in self.messages:
            if isinstance(message, PrintLine):
                lines.append(message.text)
            elif isinstance(message, PrintTextBlock):
                lines.extend(message.lines)
        return tuple(lines)


class Dialogue:
    """Runs one command to its end; create a new instance per command."""

    def __init__(
        self,
        transport: ZvtTransport,
        command: bytes,
        *,
        timers: ZvtTimers,
        observer: Observer | None = None,
        decide: Decide | None = None,
        ack_only: bool = False,
    ) -> None:
        self.transport, self.timers = transport, timers
        self.observer, self.decide, self.ack_only = observer, decide, ack_only
        self.record = DialogueRecord(command)
        self._abort_requested = False
        self._warned: set[str] = set()
        self._pending_decision: asyncio.Future[GoodsAnswer] | None = None

    def request_abort(self) -> bool:
        """Ask the PT to abort (06 B0). Too late once a status information arrived; returns whether it can go."""
        if self.record.status_infos or self.record.end is not None:
            return False
        self._abort_requested = True
        return True

    async def run(self) -> DialogueRecord:
        rec = self.record
        try:
            await self.transport.send(rec.command, now() + self.timers.t3_ack)
            first = await self._await_acceptance()
            if rec.accepted and not self.ack_only:
                await self._serve(first)
        except LinkError as exc:
            rec.failure = f"link lost: {exc}"
        finally:
            if self._pending_decision is not None and not self._pending_decision.done():
                self._pending_decision.cancel()
        return rec

    async def _await_acceptance(self) -> Message | None:
        """Wait T3 for 80 00 00 / 84 xx 00; a PT message instead counts as acceptance and is returned."""
        rec, deadline = self.record, now() + self.timers.t3_ack
        while True:
            try:
                raw = await self.transport.receive(deadline)
            except ReceiveTimeout:
                rec.failure = f"no acknowledgement within {self.timers.t3_ack:g} s"
                return None
            try:
                message = parse_message(raw)
            except CodecError as exc:
                rec.protocol_errors.append(f"unreadable answer to the command: {exc}")
                log.warning("unreadable answer to the command: %s", exc)
                continue
            if isinstance(message, Acknowledgement):
                if message.positive:
                    rec.accepted = True
                else:
                    rec.refused = message
                return None
            log.warning("terminal skipped the acknowledgement and sent %s", type(message).__name__)
            rec.accepted = True
            return message

    async def _serve(self, first: Message | None) -> None:
        rec = self.record
        deadline = now() + self.timers.t4_dialogue
        pending = first
        while rec.end is None:
            if pending is None:
                try:
                    raw = await self.transport.receive(min(deadline, now() + POLL_S))
                except ReceiveTimeout:
                    if now() >= deadline:
                        rec.failure = "the terminal did not finish the dialogue in time"
                        return
                    await self._send_abort_if_requested()
                    continue
                try:
                    pending = parse_message(raw)
                except CodecError as exc:
                    await self._refuse(raw, exc)
                    continue
            message, pending = pending, None
            extension = await self._handle(message)
            if extension:
                deadline = max(deadline, now() + extension)
            await self._send_abort_if_requested()

    async def _refuse(self, raw: bytes, exc: CodecError) -> None:
        """Answer an unreadable message `84 9A 00`: for a status information the PT reverses (zvt.md §9.1)."""
        rec = self.record
        rec.protocol_errors.append(str(exc))
        if raw[:2] == b"\x04\x0f":
            rec.unreadable_status = str(exc)
            partial = exc.partial if isinstance(exc, UnreadableMessage) else None
            if isinstance(partial, StatusInformation):
                rec.partial_status = partial
        log.warning("unreadable message %s: %s", raw[:2].hex(" "), exc)
        await self._reply(PROTOCOL_ERROR_NACK)

    def _note_warnings(self, message: Message) -> None:
        for warning in message.warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                self.record.warnings.append(warning)
                log.warning("terminal %s read with a warning: %s", type(message).__name__, warning)

    async def _handle(self, message: Message) -> float:
        """Answer one PT message; returns a deadline extension in seconds (04 FF timeout byte) or 0."""
        rec = self.record
        if isinstance(message, Acknowledgement):
            return 0.0  # the PT's answer to our 06 B0
        self._note_warnings(message)
        rec.messages.append(message)
        if isinstance(message, StatusInformation):
            answer = await self._answer_status(message)
            rec.status_infos.append(message)
            await self._reply(answer)
        else:
            await self._reply(ACK_POSITIVE)
        if isinstance(message, Completion | Abort):
            rec.end = message
        await self._notify(message)
        if isinstance(message, IntermediateStatus) and message.timeout_s:
            return float(message.timeout_s)
        return 0.0

    async def _answer_status(self, status: StatusInformation) -> bytes:
        if not (status.approved and self.decide is not None):
            return ACK_POSITIVE
        answer = await self._decision(status)
        full = status.amount_cents
        if answer.kind is GoodsKind.PARTIAL and full is not None and (answer.amount_cents or full) >= full:
            answer = GOODS_ISSUED  # a "partial" of the full amount or more books the authorised amount
        self.record.answers.append(answer)
        return answer.encode()

    async def _decision(self, status: StatusInformation) -> GoodsAnswer:
        """Ask `decide`, at most `decide_s` per status information; a slow decision is answered "please wait"."""
        assert self.decide is not None
        if self._pending_decision is None:
            self._pending_decision = asyncio.ensure_future(self.decide(status))
        done, _ = await asyncio.wait({self._pending_decision}, timeout=self.timers.decide_s)
        if not done:
            log.info("goods decision still running after %g s: answering 'please wait'", self.timers.decide_s)
            return PLEASE_WAIT
        task, self._pending_decision = self._pending_decision, None
        try:
            answer = task.result()
        except Exception:
            log.exception("goods decision failed: answering 'goods not issued' (the terminal reverses)")
            return GOODS_NOT_ISSUED
        if not isinstance(answer, GoodsAnswer):
            log.error("goods decision returned %r, not a GoodsAnswer: answering 'goods not issued'", answer)
            return GOODS_NOT_ISSUED
        return answer

    async def _reply(self, apdu: bytes) -> None:
        await self.transport.send(apdu, now() + self.timers.t3_ack)

    async def _send_abort_if_requested(self) -> None:
        rec = self.record
        if self._abort_requested and not rec.abort_sent and not rec.status_infos and rec.end is None:
            rec.abort_sent = True
            log.info("sending abort (06 B0)")
            await self.transport.send(abort_command(), now() + self.timers.t3_ack)

    async def _notify(self, message: Message) -> None:
        if self.observer is None:
            return
        try:
            result = self.observer(message)
            if inspect.isawaitable(result):
                async with asyncio.timeout(OBSERVER_S):
                    await result
        except TimeoutError:
            log.warning("observer took longer than %g s on %s", OBSERVER_S, type(message).__name__)
        except Exception:  # a broken display must not break a payment
            log.exception("observer failed on %s", type(message).__name__)
