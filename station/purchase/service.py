"""PurchaseService: reserve → pay → open the doors → tell the terminal what to book.

One purchase at a time (there is one card terminal). The flow runs in its own task, so a
shopper's browser closing changes nothing; the touchscreen follows it through `progress()`.
At start-up every purchase not in a final state is driven to one by `recovery.py`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from payments.zvt import (
    GOODS_ISSUED,
    GOODS_NOT_ISSUED,
    Aborted,
    Approved,
    Declined,
    GoodsAnswer,
    IntermediateStatus,
    Message,
    NotIssued,
    Refused,
    Result,
    StatusInformation,
    TerminalBusy,
    ZvtError,
    partial_issue,
)

from .. import crashpoints
from ..cardterminal import CardTerminal
from ..cardterminal.prompts import FINAL_TEXT, prompt_for
from ..coldchain.transitions import sale_blocked
from ..components import ComponentHealth, Status, cancel_tasks
from ..db.engine import Database
from ..db.models import Compartment, CompartmentStatus, Sale, SaleLine
from ..db.types import utcnow
from ..lockwall import DoorOutcome, LockWall
from ..stock import offers
from . import states
from .progress import ProgressBoard
from .recovery import Recovery
from .states import FINAL, SaleState

log = logging.getLogger(__name__)


class PurchaseError(Exception):
    """A purchase that cannot start or change; `code` is for the API ("busy", "not_available", ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class PurchaseService:
    name = "purchases"

    def __init__(
        self,
        db: Database,
        terminal: CardTerminal,
        lockwall: LockWall,
        *,
        sale_blocked: Callable[[int], bool] | None = None,
    ) -> None:
        self.db, self.terminal, self.lockwall = db, terminal, lockwall
        self.sale_blocked = sale_blocked or (lambda _compartment: False)
        self.board = ProgressBoard()
        self.recovery = Recovery(self)
        self._current: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._spawn(self.recovery.run(), "purchase-recovery")

    async def stop(self, finish_s: float = 2.0) -> None:
        """Finish a purchase that is about to end, else park it: recovery settles it at the next start."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=finish_s)
        await cancel_tasks(self._tasks)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- starting a purchase ---------------------------------------------------------------------
    async def begin(self, compartments: list[int]) -> str:
        """Reserve the compartments and start paying; returns the sale id at once."""
        if not compartments or len(set(compartments)) != len(compartments):
            raise PurchaseError("invalid", "choose one or more different compartments")
        if self._current is not None or not self.recovery.done:
            raise PurchaseError("busy", "Das Kartenterminal ist gerade belegt – bitte einen Moment warten")
        unavailable = set(self.lockwall.unavailable_compartments())
        for comp in compartments:
            if comp in unavailable:
                raise PurchaseError("not_available", f"Fach {comp} ist gerade nicht verfügbar")
        sale_id = str(uuid.uuid4())
        self._current = sale_id
        self.terminal.payment_active = True
        try:
            await self.db.write(lambda s: self._create(s, sale_id, compartments))
        except PurchaseError:
            self._current = None
            self.terminal.payment_active = False
            raise
        crashpoints.reached("sale.created")
        self.board.open(sale_id, SaleState.CREATED)
        self._spawn(self._run(sale_id), f"purchase-{sale_id[:8]}")
        return sale_id

    @staticmethod
    def _create(session: Session, sale_id: str, compartments: list[int]) -> None:
        by_compartment = {o.compartment: o for o in offers(session)}
        # A cold-chain block committed just before is seen here: same transaction as the reservation.
        missing = [c for c in compartments if c not in by_compartment or sale_blocked(session, c)]
        if missing:
            raise PurchaseError("not_available", f"Fach {missing[0]} ist nicht (mehr) zu kaufen")
        now = utcnow()
        total = sum(by_compartment[c].total_cents for c in compartments)
        session.add(Sale(id=sale_id, state=SaleState.CREATED, total_cents=total, created_at=now, updated_at=now))
        for comp_id in compartments:
            offer = by_compartment[comp_id]
            product_id = session.get_one(Compartment, comp_id).contents[0].product_id
            session.add(
                SaleLine(
                    sale_id=sale_id,
                    compartment_id=comp_id,
                    product_id=product_id,
                    quantity=offer.quantity,
                    unit_price_cents=offer.price_cents,
                    deposit_cents=offer.deposit_cents,
                    vat_rate_bp=offer.vat_rate_bp,
                )
            )
            comp = session.get_one(Compartment, comp_id)
            comp.status, comp.updated_at = CompartmentStatus.RESERVED, now
        session.flush()
        states.set_state(session, sale_id, SaleState.CREATED, compartments=compartments)

    async def cancel(self, sale_id: str) -> None:
        """Cancel before the card is paid: only while the terminal still waits for a card."""
        sale = await self.db.read(lambda s: s.get(Sale, sale_id))
        if sale is None:
            raise PurchaseError("not_found", "no such purchase")
        state = sale.state
        if state == SaleState.CREATED:
            try:
                await self._transition(sale_id, SaleState.CANCELLED)
                return
            except states.InvalidTransition:  # the payment started meanwhile: abort it at the terminal
                state = SaleState.PAYMENT_REQUESTED
        if state != SaleState.PAYMENT_REQUESTED or not await self.terminal.client.abort():
            raise PurchaseError("too_late", "Die Zahlung läuft bereits und kann nicht mehr abgebrochen werden")

    # -- the flow --------------------------------------------------------------------------------------
    async def _transition(
        self, sale_id: str, state: SaleState, *, also: Callable[[Session], Any] | None = None, **details: Any
    ) -> None:
        """Commit one arrow (and `also`, in the same transaction), then report it."""

        def _write(session: Session) -> None:
            if also is not None:
                also(session)
            states.set_state(session, sale_id, state, **details)

        await self.db.write(_write)
        crashpoints.reached(f"sale.{state}")
        self.board.state(sale_id, state, FINAL_TEXT.get(state))
        if state in FINAL and self._current == sale_id:
            self._current = None
            self.terminal.payment_active = False

    async def _run(self, sale_id: str) -> None:
        try:
            sale = await self.db.read(lambda s: s.get_one(Sale, sale_id))
            if sale.state != SaleState.CREATED:
                return  # cancelled before we started
            compartments = [line.compartment_id for line in sale.lines]
            await self.terminal.wait_idle(self.terminal.client.timers.t3_ack + 1)  # a status poll may be running
            try:
                await self._transition(sale_id, SaleState.PAYMENT_REQUESTED)
            except states.InvalidTransition:
                return  # cancelled in the meantime: nothing reached the terminal
            await self.db.write(lambda s: states.record_payment(s, sale_id, "requested"))
            release: dict[str, asyncio.Task[set[int]]] = {}
            try:
                result = await self.terminal.client.authorise(
                    sale.total_cents,
                    decide=lambda status: self._decide(sale_id, status, release, compartments),
                    observer=lambda message: self._observe(sale_id, message),
                )
            except TerminalBusy:
                await self._transition(sale_id, SaleState.ABORTED, error="terminal busy")
                return
            except ZvtError as exc:  # nothing was sent (terminal unreachable)
                await self._transition(sale_id, SaleState.ABORTED, error=str(exc))
                return
            if "task" in release:  # the doors finish opening even if the dialogue ended early
                await asyncio.shield(release["task"])
            await self._conclude(sale_id, result)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("purchase %s failed; recovery settles it", sale_id)
            await self.recovery.settle(sale_id)
        finally:
            if self._current == sale_id:
                self._current = None
            self.terminal.payment_active = False

    def _observe(self, sale_id: str, message: Message) -> None:
        if isinstance(message, IntermediateStatus):
            self.board.say(sale_id, prompt_for(message.code))

    async def _decide(
        self, sale_id: str, status: StatusInformation, release: dict[str, Any], compartments: list[int]
    ) -> GoodsAnswer:
        """The terminal approved: record it, open the doors, then answer what to book."""
        if "task" not in release:
            approved = partial(
                states.record_payment,
                sale_id=sale_id,
                state="approved",
                receipt_no=status.receipt_no,
                trace_no=status.trace_no,
                terminal_id=status.terminal_id,
                masked_pan=status.pan,
                card_type=(status.card_name or "").rstrip("\x00") or None,
                result_code=status.result_code,
            )
            await self._transition(sale_id, SaleState.AUTHORISED, also=approved, receipt_no=status.receipt_no)
            release["task"] = asyncio.ensure_future(self._release(sale_id, compartments))
        # Shielded: when the terminal repeats the approval, or the dialogue ends, the doors still finish.
        released = await asyncio.shield(release["task"])
        sale = await self.db.read(lambda s: s.get_one(Sale, sale_id))
        if not released:
            return GOODS_NOT_ISSUED
        amount = sum(
            ln.quantity * (ln.unit_price_cents + ln.deposit_cents) for ln in sale.lines if ln.compartment_id in released
        )
        if sale.state == SaleState.RELEASED:
            asked = partial(
                states.record_payment, sale_id=sale_id, state="book_requested", details={"book_cents": amount}
            )
            await self._transition(sale_id, SaleState.BOOK_REQUESTED, also=asked, book_cents=amount)
        return GOODS_ISSUED if amount == sale.total_cents else partial_issue(amount)

    async def _release(self, sale_id: str, compartments: list[int]) -> set[int]:
        blocked: set[int] = set()

        def still_sellable(session: Session) -> None:
            # A cold-chain block committed since the reservation: that compartment stays shut.
            blocked.update(c for c in compartments if sale_blocked(session, c))

        await self._transition(sale_id, SaleState.RELEASE_REQUESTED, also=still_sellable)
        released: set[int] = set()
        for index, compartment in enumerate(compartments):
            if compartment in blocked or (index and await self.db.read(partial(sale_blocked, compartment=compartment))):
                self.board.say(sale_id, f"Fach {compartment} ist gesperrt")
                continue
            result = await self.lockwall.open(compartment, "sale", sale_id, actor="shopper")
            if result.outcome is DoorOutcome.OPENED:
                released.add(compartment)
                self.board.say(sale_id, f"Fach {compartment} ist offen – bitte Ware entnehmen")
            else:
                self.board.say(sale_id, f"Fach {compartment} ließ sich nicht öffnen")
        await self.db.write(lambda s: states.mark_lines(s, sale_id, released))
        await self._transition(
            sale_id, SaleState.RELEASED if released else SaleState.NOT_RELEASED, released=sorted(released)
        )
        return released

    async def _conclude(self, sale_id: str, result: Result) -> None:
        if isinstance(result, Approved):
            booked = result.amount_cents or 0
            await self.db.write(lambda s: self._booked(s, sale_id, booked))
            crashpoints.reached("sale.booked")
            await self._transition(sale_id, SaleState.DONE)
        elif isinstance(result, Declined):
            await self.db.write(lambda s: states.record_payment(s, sale_id, "declined", result_code=result.result_code))
            await self._transition(sale_id, SaleState.DECLINED, code=result.result_code, text=result.text)
        elif isinstance(result, Aborted | Refused):
            await self.db.write(lambda s: states.record_payment(s, sale_id, "aborted", result_code=result.result_code))
            await self._transition(sale_id, SaleState.ABORTED, code=result.result_code, text=result.text)
        elif isinstance(result, NotIssued):
            await self.recovery.settle(sale_id, terminal_reversed=True)
        else:  # OutcomeUnknown: ask, never charge again
            log.warning("purchase %s: %s", sale_id, result.describe())
            await self.recovery.settle(sale_id)

    @staticmethod
    def _booked(session: Session, sale_id: str, booked_cents: int) -> None:
        sale = session.get_one(Sale, sale_id)
        sale.booked_cents = booked_cents
        states.record_payment(session, sale_id, "booked", amount_cents=booked_cents)
        states.set_state(session, sale_id, SaleState.BOOKED, booked_cents=booked_cents)

    # -- reporting ----------------------------------------------------------------------------------------
    def health(self) -> ComponentHealth:
        status = Status.UP if self.recovery.done else Status.DEGRADED
        return ComponentHealth(status, {"current": self._current, "recovering": self.recovery.pending()})

    def progress(self) -> float | None:
        return None
