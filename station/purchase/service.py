"""PurchaseService: the side effects of the purchase flow: reserve → pay → open the doors → tell the terminal.

This module starts, cancels and reports purchases and commits their arrows (`commit`); the card
dialogue is in `card.py`, the doors in `doors.py`, paying by app in `apppay.py`, settling what was
interrupted in `recovery.py`.

One purchase at a time (there is one card terminal). The flow runs in its own task, so a shopper's
browser closing changes nothing; the touchscreen follows it through `board`. Every arrow is
committed (`flow.move`) before the side effect that follows it. The in-memory current sale is set
only after its creation committed; a write that fails before anything reached the terminal or a
door answers 503 (`storage_unavailable`); a write that records something that already happened
(an approval, an opened door, a booking) is retried until it commits; and a sale that could not be
finished is settled by `recovery` in the background, retrying while storage fails, not at the next start.

Vouchers (or a return's credit) are held in the sale's creating transaction; the terminal is asked for
the rest only, and not at all when the credit covers the whole purchase (`flow` settles them). A live
purchase that ends with goods gets its digital receipt (and a print job) before the screen hears of
its final state; the printer never holds a purchase up.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from .. import crashpoints
from ..cardterminal import CardTerminal
from ..cardterminal.prompts import FINAL_TEXT
from ..components import ComponentHealth, Status, cancel_tasks
from ..db.engine import Database, StorageUnavailable
from ..db.models import Sale
from ..flows.engine import InvalidTransition
from ..lockwall import LockWall
from ..vouchers import VoucherError
from . import endofday
from .age import AgeGate, AgeRefused, audit_check
from .apppay import UNAVAILABLE_TEXT, AppPayments
from .apprequest import RequestSigner
from .card import CardDialogue
from .cart import create_sale
from .doors import SaleDoors
from .errors import PurchaseError
from .flow import FINAL, SALE, SaleState, move
from .progress import ProgressBoard
from .receipt import create_purchase_receipts
from .recovery import PurchaseRecovery

if TYPE_CHECKING:
    from ..printing import PrintService, ReceiptDesk
    from ..vouchers import VoucherService

log = logging.getLogger(__name__)

STORAGE_TEXT = "Der Speicher der Station ist gerade nicht beschreibbar – bitte später erneut versuchen"
WITH_GOODS = (SaleState.DONE, SaleState.CHARGE_UNKNOWN)  # final states after which the shopper gets a receipt
# A voucher's refusal as the purchase's answer (an unknown code is not a missing purchase).
VOUCHER_CODES = {"not_found": "unknown_voucher", "invalid": "invalid", "busy": "busy",
                 "already_redeemed": "already_redeemed", "throttled": "throttled"}


class PurchaseService:
    name = "purchases"

    def __init__(
        self,
        db: Database,
        terminal: CardTerminal,
        lockwall: LockWall,
        *,
        vouchers: VoucherService | None = None,
        receipts: ReceiptDesk | None = None,
        printing: PrintService | None = None,
        today: Callable[[], date] | None = None,
        signer: RequestSigner | None = None,
        station_id: str = "station",
        age: AgeGate | None = None,
    ) -> None:
        self.db, self.terminal, self.lockwall = db, terminal, lockwall
        self.vouchers, self.receipts, self.printing = vouchers, receipts, printing
        self.today = today or date.today  # the station's local day (Clock.today): what is past its date
        self.terminal.reconcile = endofday.reconcile  # end-of-day settles our unknown charges
        self.board = ProgressBoard()
        self.recovery = PurchaseRecovery(self)
        self.doors = SaleDoors(self)
        self.card = CardDialogue(self)
        self.app = AppPayments(self, signer, station_id)  # `app.uplink` is set by the assembly when syncing
        self.age = age or AgeGate()
        self._current: str | None = None
        self._starting = asyncio.Lock()
        self._settling: set[str] = set()
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

    def reported(self, sale_id: str, state: SaleState) -> None:
        """A state committed (here or by recovery): tell the screen, free the terminal when final.

        A live purchase that ended with goods first gets its receipts; the screen hears of the final
        state once they exist (its link to the digital receipt is then there).
        """
        crashpoints.reached(f"sale.{state}")
        live = self._current == sale_id
        if state in FINAL and live:
            self._current = None
            self.terminal.payment_active = False
        if live and state in WITH_GOODS and self.receipts is not None:
            self._spawn(self._receipts_then_report(sale_id, state), f"receipt-{sale_id[:8]}")
        else:
            self.board.state(sale_id, state, FINAL_TEXT.get(state))

    async def _receipts_then_report(self, sale_id: str, state: SaleState) -> None:
        assert self.receipts is not None
        desk = self.receipts
        try:
            await self.db.write_until_committed(lambda s: create_purchase_receipts(s, desk, sale_id),
                                                what=f"receipts of sale {sale_id}")
            if self.printing is not None:
                self.printing.wake()
        finally:
            self.board.state(sale_id, state, FINAL_TEXT.get(state))

    # -- starting a purchase ---------------------------------------------------------------------
    async def begin(self, compartments: list[int], vouchers: list[str] | tuple[str, ...] = (), *,
                    pay_with: str = "card") -> str:
        """Reserve the compartments, hold the vouchers, and start paying the rest; returns the sale id at once.

        `pay_with` "app": the sale waits for the platform's confirmation of its signed request (`apppay.py`).
        """
        if not compartments or len(set(compartments)) != len(compartments):
            raise PurchaseError("invalid", "Bitte ein oder mehrere verschiedene Fächer wählen")
        if vouchers and self.vouchers is not None:
            try:
                self.vouchers.throttle.check()
            except VoucherError as exc:
                raise PurchaseError("throttled", str(exc)) from None
        if not self.recovery.done:
            raise PurchaseError("busy", "Die Station prüft gerade einen unterbrochenen Einkauf – bitte kurz warten")
        async with self._starting:
            if self._current is not None:
                raise PurchaseError("busy", "Das Kartenterminal ist gerade belegt – bitte einen Moment warten")
            if pay_with == "app" and not self.app.available():
                raise PurchaseError("app_unavailable", UNAVAILABLE_TEXT)
            unavailable = set(self.lockwall.unavailable_compartments())
            for comp in compartments:
                if comp in unavailable:
                    raise PurchaseError("not_available", f"Fach {comp} ist gerade nicht verfügbar")
            sale_id = str(uuid.uuid4())
            try:
                today, digest, expires = self.today(), self.age.take_tap(), self.app.expiry()
                await self.db.write(lambda s: create_sale(s, sale_id, compartments, vouchers, today,
                                                           pay_with=pay_with, digest=digest, expires=expires,
                                                           app_ok=self.app.available()))
            except AgeRefused as exc:
                await self._age_refused(sale_id, exc, pay_with)
                raise PurchaseError("age_check_required", str(exc)) from None
            except StorageUnavailable:
                raise PurchaseError("storage_unavailable", STORAGE_TEXT) from None
            except VoucherError as exc:
                if self.vouchers is not None:
                    await self.vouchers.refused(exc)
                raise PurchaseError(VOUCHER_CODES.get(exc.code, "invalid"), str(exc)) from None
            self._current = sale_id  # only now: the sale exists on disk
            self.terminal.payment_active = pay_with != "app"
        crashpoints.reached("sale.app_requested" if pay_with == "app" else "sale.created")
        if pay_with == "app":
            self.board.open(sale_id, SaleState.APP_REQUESTED)
            self._spawn(self.app.wait_then_expire(sale_id), f"app-expiry-{sale_id[:8]}")
        else:
            self.board.open(sale_id, SaleState.CREATED)
            self._spawn(self._run(sale_id, compartments), f"purchase-{sale_id[:8]}")
        return sale_id

    async def _age_refused(self, sale_id: str, exc: AgeRefused, pay_with: str) -> None:
        """Audited (and sent to the platform) in its own transaction: the sale itself was never created."""
        try:
            await self.db.write(lambda s: audit_check(s, None, exc.required, None, passed=False, method=pay_with,
                                                      why="no proof of age before payment"))
        except StorageUnavailable:
            log.warning("age check refusal not audited: storage unavailable")

    async def cancel(self, sale_id: str) -> None:
        """Cancel before the card is paid: only while the terminal still waits for a card."""
        state = await self._state(sale_id)
        if state is SaleState.APP_REQUESTED:
            try:
                await self.commit(sale_id, SaleState.CANCELLED, actor="shopper", expect={SaleState.APP_REQUESTED})
                return
            except InvalidTransition:
                raise PurchaseError("too_late", "Die App hat bereits bezahlt") from None
            except StorageUnavailable:
                raise PurchaseError("storage_unavailable", STORAGE_TEXT) from None
        if state is SaleState.CREATED:
            try:
                await self.commit(sale_id, SaleState.CANCELLED, actor="shopper", expect={SaleState.CREATED})
                return
            except InvalidTransition:  # the payment started meanwhile: abort it at the terminal
                state = SaleState.PAYMENT_REQUESTED
            except StorageUnavailable:
                raise PurchaseError("storage_unavailable", STORAGE_TEXT) from None
        if state is not SaleState.PAYMENT_REQUESTED or not await self.terminal.client.abort():
            raise PurchaseError("too_late", "Die Zahlung läuft bereits und kann nicht mehr abgebrochen werden")

    async def _state(self, sale_id: str) -> SaleState:
        try:
            return await self.db.read(lambda s: SALE.current(s, sale_id))
        except LookupError:
            raise PurchaseError("not_found", "Diesen Einkauf gibt es nicht") from None

    # -- the flow --------------------------------------------------------------------------------------
    async def commit(
        self,
        sale_id: str,
        state: SaleState,
        *,
        also: Callable[[Session], Any] | None = None,
        then: Callable[[Session], SaleState | None] | None = None,
        until_committed: bool = False,
        expect: set[SaleState] | None = None,
        actor: str = "system",
        **details: Any,
    ) -> None:
        """Commit one arrow (and `also`, in the same transaction), then report it.

        `then(session)` may take the next arrow in the same transaction (returning its state) when no
        side effect lies between the two: one commit fewer per sale (every commit rewrites whole pages
        of the flash) without a state that recovery could miss.
        """
        states = [state]

        def write(session: Session) -> None:
            del states[1:]  # a retried write starts again
            if also is not None:
                also(session)
            if expect is not None and SALE.current(session, sale_id) not in expect:
                raise InvalidTransition(f"sale {sale_id} is not {sorted(expect)}")
            move(session, sale_id, state, actor=actor, **details)
            if then is not None and (following := then(session)) is not None:
                states.append(following)

        if until_committed:
            await self.db.write_until_committed(write, what=f"sale {state}")
        else:
            await self.db.write(write)
        for committed in states:
            self.reported(sale_id, committed)

    async def _run(self, sale_id: str, compartments: list[int]) -> None:
        try:
            if await self.db.read(lambda s: s.get_one(Sale, sale_id).card_cents) == 0:
                await self.doors.run_on_credit(sale_id, compartments)
            else:
                await self.card.run(sale_id, compartments)
        except asyncio.CancelledError:  # the daemon stops: recovery settles it at the next start
            raise
        except Exception:
            log.exception("purchase %s failed; settling it", sale_id)
            await self.recovery.settle(sale_id)
        if self._current == sale_id:
            await self._settle_if_unfinished(sale_id)
            self._current = None
            self.terminal.payment_active = False

    async def _settle_if_unfinished(self, sale_id: str) -> None:
        """The dialogue is over; a sale not final yet (storage failing) is settled in the background.

        Its compartments stay reserved (not offered) until then, so a new purchase may use the terminal.
        """
        try:
            if await self.db.read(lambda s: SALE.current(s, sale_id)) in FINAL:
                return
        except StorageUnavailable:
            pass
        if sale_id not in self._settling:
            self._settling.add(sale_id)
            self._spawn(self._settle_later(sale_id), f"settle-{sale_id[:8]}")

    async def _settle_later(self, sale_id: str) -> None:
        try:
            await self.recovery.settle(sale_id)
        finally:
            self._settling.discard(sale_id)

    # -- reporting ----------------------------------------------------------------------------------------
    def health(self) -> ComponentHealth:
        settling = sorted(self._settling)
        status = Status.UP if self.recovery.done and not settling else Status.DEGRADED
        return ComponentHealth(
            status, {"current": self._current, "recovering": self.recovery.pending(), "settling": settling}
        )

    def progress(self) -> float | None:
        return None

