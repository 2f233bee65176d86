"""The station's side of a ZVT terminal (ECR): one dialogue at a time, typed results.

Raises only `TerminalBusy` (another dialogue is running), `TerminalUnavailable` (the link could not
be opened: nothing was sent), `RefundsDisabled` and `ValueError` for bad arguments. Everything the
terminal does is a result; see `results.py` for what each one means to the caller. Do not cancel a
running money command: a cancelled dialogue has an unknown outcome that nobody records.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from common.availability import Availability

from . import commands
from .dialogue import Decide, Dialogue, DialogueRecord, Observer
from .errors import CodecError, LinkError, RefundsDisabled, TerminalBusy, TerminalUnavailable
from .messages import ENQUIRY_RECEIPT, Abort
from .results import (
    Completed,
    EndOfDay,
    OpenPreauth,
    OpenPreauths,
    Registered,
    Result,
    TerminalStatus,
    admin_failure,
    money_result,
)
from .tables import UNATTENDED_CONFIG, result_text
from .totals import decode_totals
from .transport import ZvtTimers, ZvtTransport, open_transport

log = logging.getLogger(__name__)

PREAUTH_ERROR = 0xB8  # 06 1E B8 87 <receipt>: the answer to the open pre-authorisation enquiry


@dataclass(frozen=True)
class ZvtSettings:
    """What the client needs to know about one terminal (filled from `PaymentConfig`)."""

    url: str
    password: str = "123456"
    config_byte: int = UNATTENDED_CONFIG
    currency: int = 978
    baudrate: int = 9600
    stopbits: float = 2
    refunds_enabled: bool = False
    max_status_infos: int = 10
    status_enquiry_password: bool = True
    timers: ZvtTimers = field(default_factory=ZvtTimers)


def _positive_cents(amount_cents: int) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise ValueError(f"amount must be a positive number of cents, got {amount_cents!r}")
    return amount_cents


class ZvtClient:
    """Async ECR client; create one per terminal and keep it for the life of the daemon."""

    def __init__(
        self,
        settings: ZvtSettings,
        *,
        transport: ZvtTransport | None = None,
        observer: Observer | None = None,
        name: str = "card terminal",
    ) -> None:
        self.settings = settings
        self.timers = settings.timers
        self.transport = transport or open_transport(
            settings.url, timers=settings.timers, baudrate=settings.baudrate, stopbits=settings.stopbits
        )
        self.observer = observer
        self.availability = Availability(name, log)
        self._running: Dialogue | None = None

    @property
    def busy(self) -> bool:
        return self._running is not None

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> ZvtClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(
        self, command: bytes, observer: Observer | None, decide: Decide | None = None, ack_only: bool = False
    ) -> DialogueRecord:
        if self._running is not None:
            raise TerminalBusy("another dialogue with the terminal is running")
        dialogue = Dialogue(
            self.transport,
            command,
            timers=self.timers,
            observer=observer or self.observer,
            decide=decide,
            ack_only=ack_only,
        )
        self._running = dialogue  # set before the first await: a second caller sees it at once
        finished = False
        try:
            await self._connect()
            rec = await dialogue.run()
            finished = True
        except LinkError as exc:
            self.availability.mark_down(str(exc))
            raise
        finally:
            try:
                if not finished or rec.failure is not None:
                    await self.transport.close()  # start the next dialogue on a clean link
            finally:
                self._running = None
        self._track(rec)
        return rec

    async def _connect(self) -> None:
        """Open the link if needed and drop late bytes; nothing has been sent yet."""
        try:
            if not self.transport.is_open:
                await self.transport.open()
            await self.transport.discard_input()
            if not self.transport.is_open:  # the terminal had closed the idle connection
                await self.transport.open()
        except TerminalUnavailable:
            raise
        except LinkError as exc:
            raise TerminalUnavailable(str(exc)) from exc

    def _track(self, rec: DialogueRecord) -> None:
        if rec.accepted or rec.refused is not None:
            self.availability.mark_up()
        else:
            self.availability.mark_down(rec.failure or "no answer")

    # --- money -------------------------------------------------------------------------------

    async def authorise(
        self, amount_cents: int, *, decide: Decide | None = None, observer: Observer | None = None
    ) -> Result:
        """Pay a fixed amount (06 01). With `decide`, the approval is answered with its GoodsAnswer
        (vending "issue of goods", BMP 02 sent); without, the approval is acknowledged and booked."""
        command = commands.authorisation(
            _positive_cents(amount_cents),
            max_status_infos=self.settings.max_status_infos if decide is not None else None,
        )
        return money_result(await self._run(command, observer, decide))

    async def preauthorise(self, amount_cents: int, *, observer: Observer | None = None) -> Result:
        """Reserve up to `amount_cents` (06 22); `Approved.receipt_no` identifies the reservation."""
        return money_result(await self._run(commands.pre_authorisation(_positive_cents(amount_cents)), observer))

    async def book_total(
        self, receipt_no: int, amount_cents: int, *, trace_no: int | None = None, observer: Observer | None = None
    ) -> Result:
        """Book the amount actually used of reservation `receipt_no` (06 24)."""
        command = commands.book_total(receipt_no, amount_cents, trace_no=trace_no)
        return money_result(await self._run(command, observer))

    async def partial_reversal(
        self, receipt_no: int, release_cents: int, *, observer: Observer | None = None
    ) -> Result:
        """Give back `release_cents` (the unused part) of reservation `receipt_no` (06 23)."""
        command = commands.partial_reversal(receipt_no, _positive_cents(release_cents))
        return money_result(await self._run(command, observer))

    async def preauth_reversal(self, receipt_no: int, *, observer: Observer | None = None) -> Result:
        """Release the whole reservation `receipt_no` (06 25)."""
        return money_result(await self._run(commands.pre_auth_reversal(receipt_no), observer))

    async def reverse(self, receipt_no: int, *, observer: Observer | None = None) -> Result:
        """Reverse the payment `receipt_no` (06 30). Declined/Aborted with code B4 = already reversed."""
        return money_result(await self._run(commands.reversal(self.settings.password, receipt_no), observer))

    async def refund(self, amount_cents: int, *, observer: Observer | None = None) -> Result:
        """Refund to a card (06 31); refused locally unless `refunds_enabled`."""
        if not self.settings.refunds_enabled:
            raise RefundsDisabled("refunds are disabled in the payment configuration")
        command = commands.refund(self.settings.password, _positive_cents(amount_cents))
        return money_result(await self._run(command, observer))

    # --- administration ----------------------------------------------------------------------

    async def register(self, *, observer: Observer | None = None) -> Result:
        """Registration (06 00) with the configured password, config byte and currency."""
        s = self.settings
        rec = await self._run(commands.registration(s.password, s.config_byte, s.currency), observer)
        return admin_failure(rec) or Registered(rec.end)  # type: ignore[arg-type]

    async def status_enquiry(self, *, observer: Observer | None = None) -> Result:
        """Status enquiry (05 01): `TerminalStatus.ready` is False while the terminal is locked."""
        password = self.settings.password if self.settings.status_enquiry_password else None
        rec = await self._run(commands.status_enquiry(password), observer)
        failure = admin_failure(rec)
        if failure is not None:
            return failure
        completion = rec.end
        code = getattr(completion, "terminal_status", None)
        ready = code in (None, 0)
        return TerminalStatus(
            completion,  # type: ignore[arg-type]
            ready=ready,
            code=code,
            text="ready" if ready else result_text(code),  # type: ignore[arg-type]
            sw_version=getattr(completion, "sw_version", None),
        )

    async def end_of_day(self, *, observer: Observer | None = None) -> Result:
        """End-of-day (06 50): closes the batch; returns the totals the terminal reports."""
        rec = await self._run(commands.end_of_day(self.settings.password), observer)
        failure = admin_failure(rec)
        if failure is not None:
            return failure
        status = rec.status_infos[-1] if rec.status_infos else None
        values: dict = {"total_cents": (status.amount_cents or 0) if status else 0}
        if status is not None and status.individual_totals:
            try:
                totals = decode_totals(status.individual_totals)
            except CodecError as exc:  # the total in BMP 04 still counts; the breakdown is a bonus
                log.warning("end-of-day: unreadable individual totals: %s", exc)
            else:
                values.update(
                    receipt_from=totals.receipt_from,
                    receipt_to=totals.receipt_to,
                    by_card=totals.by_card,
                    count=totals.count,
                )
        return EndOfDay(rec.end, status=status, receipt_lines=rec.receipt_lines, **values)  # type: ignore[arg-type]

    async def enquire_open_preauths(self, *, observer: Observer | None = None) -> Result:
        """Open pre-authorisations (06 23 87 FF FF).

        Terminals answer in one of two ways: one status information per reservation then a
        completion, or an abort B8 whose BMP 87 names one open reservation (FF FF: none left;
        spec §2.10.1, EVerest/zvt's Feig driver asks again after settling each one).
        """
        rec = await self._run(commands.enquire_open_preauths(), observer)
        items = tuple(
            OpenPreauth(s.receipt_no, s.amount_cents, s.trace_no) for s in rec.status_infos if s.receipt_no is not None
        )
        end = rec.end
        if isinstance(end, Abort) and end.result_code == PREAUTH_ERROR and end.receipt_no is not None:
            if end.receipt_no != ENQUIRY_RECEIPT:
                items += (OpenPreauth(end.receipt_no, None, None),)
            return OpenPreauths(None, items=items)
        failure = admin_failure(rec)
        if failure is not None:
            return failure
        return OpenPreauths(rec.end, items=items)  # type: ignore[arg-type]

    async def log_off(self, *, observer: Observer | None = None) -> Result:
        """Log-off (06 02): the terminal only acknowledges."""
        rec = await self._run(commands.log_off(), observer, ack_only=True)
        return admin_failure(rec, needs_completion=False) or Completed(None)

    async def abort(self) -> bool:
        """Ask the terminal to abort the running dialogue (06 B0), e.g. the shopper pressed "cancel"
        while the terminal waits for a card. Returns False when nothing is running or it is too late
        (a status information already arrived); the running call then returns `Aborted` (code 6C)."""
        running = self._running
        return running.request_abort() if running is not None else False
