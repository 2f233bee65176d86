"""PurchaseService: the side effects of the purchase flow: reserve → pay → open the doors → tell the terminal.

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
from ..compartments import owner
from ..components import ComponentHealth, Status, cancel_tasks
from ..db.engine import Database, StorageUnavailable
from ..db.models import Sale
from ..flows.engine import InvalidTransition
from ..lockwall import DoorOutcome, LockWall
from ..vouchers import VoucherError
from . import endofday
from .age import AgeGate, AgeRefused, audit_check
from .apppay import UNAVAILABLE_TEXT, AppPayments
from .apprequest import RequestSigner
from .cart import create_sale
from .errors import PurchaseError
from .flow import DOOR_FAULT as DOOR_FAULT_LINE
from .flow import FINAL, NOT_RELEASED, RELEASED, SALE, SaleState, card_due, mark_lines, move, record_payment
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
                await self._commit(sale_id, SaleState.CANCELLED, actor="shopper", expect={SaleState.APP_REQUESTED})
                return
            except InvalidTransition:
                raise PurchaseError("too_late", "Die App hat bereits bezahlt") from None
            except StorageUnavailable:
                raise PurchaseError("storage_unavailable", STORAGE_TEXT) from None
        if state is SaleState.CREATED:
            try:
                await self._commit(sale_id, SaleState.CANCELLED, actor="shopper", expect={SaleState.CREATED})
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
    async def _commit(
        self,
        sale_id: str,
        state: SaleState,
        *,
        also: Callable[[Session], Any] | None = None,
        until_committed: bool = False,
        expect: set[SaleState] | None = None,
        actor: str = "system",
        **details: Any,
    ) -> None:
        """Commit one arrow (and `also`, in the same transaction), then report it."""

        def write(session: Session) -> None:
            if also is not None:
                also(session)
            if expect is not None and SALE.current(session, sale_id) not in expect:
                raise InvalidTransition(f"sale {sale_id} is not {sorted(expect)}")
            move(session, sale_id, state, actor=actor, **details)

        if until_committed:
            await self.db.write_until_committed(write, what=f"sale {state}")
        else:
            await self.db.write(write)
        self.reported(sale_id, state)

    async def _run(self, sale_id: str, compartments: list[int]) -> None:
        try:
            if await self.db.read(lambda s: s.get_one(Sale, sale_id).card_cents) == 0:
                await self._run_on_credit(sale_id, compartments)
            else:
                await self._run_with_card(sale_id, compartments)
        except asyncio.CancelledError:  # the daemon stops: recovery settles it at the next start
            raise
        except Exception:
            log.exception("purchase %s failed; settling it", sale_id)
            await self.recovery.settle(sale_id)
        if self._current == sale_id:
            await self._settle_if_unfinished(sale_id)
            self._current = None
            self.terminal.payment_active = False

    async def _run_with_card(self, sale_id: str, compartments: list[int]) -> None:
        await self.terminal.wait_idle(30.0)
        try:
            await self._commit(sale_id, SaleState.PAYMENT_REQUESTED, also=lambda s: record_payment(
                s, sale_id, "requested"), expect={SaleState.CREATED})
        except InvalidTransition:
            return  # cancelled in the meantime: nothing reached the terminal
        release: dict[str, asyncio.Task[dict[int, str]]] = {}
        asked = await self.db.read(lambda s: s.get_one(Sale, sale_id).card_cents)  # the rest the credit leaves
        try:
            result = await self.terminal.client.authorise(
                asked,
                decide=lambda status: self._decide(sale_id, status, release, compartments),
                observer=lambda message: self._observe(sale_id, message),
            )
        except (TerminalBusy, ZvtError) as exc:  # nothing was sent (busy, terminal unreachable)
            await self._commit(sale_id, SaleState.ABORTED, until_committed=True, error=str(exc),
                               also=lambda s: record_payment(s, sale_id, "aborted"))
            return
        if "task" in release:  # the doors finish opening even if the dialogue ended early
            await asyncio.shield(release["task"])
        await self._conclude(sale_id, result)

    async def _run_on_credit(self, sale_id: str, compartments: list[int]) -> None:
        """The credit covers everything: no terminal; open the doors, done (or reversed: the credit goes back)."""
        try:
            await self._commit(sale_id, SaleState.RELEASE_REQUESTED, expect={SaleState.CREATED}, paid_by="credit")
        except InvalidTransition:
            return  # cancelled in the meantime
        except StorageUnavailable:
            await self.recovery.settle(sale_id)
            return
        self.board.say(sale_id, "Mit Pfandguthaben bezahlt")
        outcomes = await self._open_doors(sale_id, compartments)
        if any(v == RELEASED for v in outcomes.values()):
            await self._commit(sale_id, SaleState.DONE, until_committed=True, booked_cents=0)
        else:
            await self._commit(sale_id, SaleState.REVERSED, until_committed=True, why="no door opened")

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

    def _observe(self, sale_id: str, message: Message) -> None:
        if isinstance(message, IntermediateStatus):
            self.board.say(sale_id, prompt_for(message.code))

    async def _decide(
        self, sale_id: str, status: StatusInformation, release: dict[str, Any], compartments: list[int]
    ) -> GoodsAnswer:
        """The terminal approved: record it, open the doors, then answer what to book."""
        if "task" not in release:
            approved: dict[str, Any] = dict(state="approved", receipt_no=status.receipt_no, trace_no=status.trace_no,
                            terminal_id=status.terminal_id, masked_pan=status.pan,
                            card_type=(status.card_name or "").rstrip("\x00") or None,
                            result_code=status.result_code)
            try:
                await self._commit(sale_id, SaleState.AUTHORISED, receipt_no=status.receipt_no,
                                   also=lambda s: record_payment(s, sale_id, **approved))
            except StorageUnavailable:
                return GOODS_NOT_ISSUED  # not recorded: nothing opens, the terminal reverses the approval
            release["task"] = asyncio.ensure_future(self._release(sale_id, compartments))
        # Shielded: when the terminal repeats the approval, or the dialogue ends, the doors still finish.
        outcomes = await asyncio.shield(release["task"])
        if not any(v == RELEASED for v in outcomes.values()):
            return GOODS_NOT_ISSUED
        amount = await self.db.read(lambda s: card_due(s, sale_id))  # the released goods the credit does not cover
        if await self.db.read(lambda s: SALE.current(s, sale_id)) is SaleState.RELEASED:
            await self._commit(sale_id, SaleState.BOOK_REQUESTED, until_committed=True, book_cents=amount,
                               also=lambda s: record_payment(s, sale_id, "book_requested",
                                                             details={"book_cents": amount}))
        asked = await self.db.read(lambda s: s.get_one(Sale, sale_id).card_cents)
        if amount == 0:
            return GOODS_NOT_ISSUED  # the credit paid for what was released: the card books nothing
        return GOODS_ISSUED if amount == asked else partial_issue(amount)

    async def _release(self, sale_id: str, compartments: list[int]) -> dict[int, str]:
        """Open each compartment; returns per compartment what its door did."""
        try:
            await self._commit(sale_id, SaleState.RELEASE_REQUESTED)
        except StorageUnavailable:
            return {}  # nothing pulsed; the sale stays authorised and is settled (reversed) later
        return await self._open_doors(sale_id, compartments)

    async def _open_doors(self, sale_id: str, compartments: list[int]) -> dict[int, str]:
        """release_requested is committed: pulse each door, then commit released or not_released."""
        outcomes = await self._pulse_doors(sale_id, compartments)
        released = sorted(c for c, v in outcomes.items() if v == RELEASED)
        await self._commit(sale_id, SaleState.RELEASED if released else SaleState.NOT_RELEASED,
                           until_committed=True, released=released,
                           also=lambda s: mark_lines(s, sale_id, outcomes))
        return outcomes

    async def _pulse_doors(self, sale_id: str, compartments: list[int]) -> dict[int, str]:
        """Pulse each door (each intent committed by the lock wall first); returns what each door did."""
        outcomes: dict[int, str] = {}
        for compartment in compartments:
            if await self._blocked(compartment):
                self.board.say(sale_id, f"Fach {compartment} ist gesperrt")
                continue
            try:
                result = await self.lockwall.open(compartment, "sale", sale_id, actor="shopper")
            except StorageUnavailable:  # the intent could not be recorded: no pulse was sent
                self.board.say(sale_id, f"Fach {compartment} ließ sich nicht öffnen")
                continue
            if result.outcome is DoorOutcome.OPENED:
                outcomes[compartment] = RELEASED
                self.board.say(sale_id, f"Fach {compartment} ist offen – bitte Ware entnehmen")
            else:
                outcomes[compartment] = DOOR_FAULT_LINE if result.outcome is DoorOutcome.NOT_OPENED else NOT_RELEASED
                self.board.say(sale_id, f"Fach {compartment} ließ sich nicht öffnen")
        return outcomes

    async def _blocked(self, compartment: int) -> bool:
        """A cold-chain block committed since the reservation: that compartment stays shut."""
        try:
            return await self.db.read(lambda s: owner.blocked_reason(s, compartment)) is not None
        except StorageUnavailable:
            return False  # reads rarely fail; the block check at reservation stands

    async def _conclude(self, sale_id: str, result: Result) -> None:
        if isinstance(result, Approved):
            booked = result.amount_cents or 0

            def book(session: Session) -> None:
                session.get_one(Sale, sale_id).booked_cents = booked
                record_payment(session, sale_id, "booked", amount_cents=booked)

            await self._commit(sale_id, SaleState.BOOKED, until_committed=True, also=book, booked_cents=booked)
            await self._commit(sale_id, SaleState.DONE, until_committed=True)
        elif isinstance(result, Declined | Aborted | Refused):
            state = SaleState.DECLINED if isinstance(result, Declined) else SaleState.ABORTED
            code = result.result_code

            def ended(session: Session) -> None:
                record_payment(session, sale_id, str(state), result_code=code)

            await self._commit(sale_id, state, until_committed=True, also=ended, code=code, text=result.text)
        elif isinstance(result, NotIssued):
            await self.recovery.terminal_reversed(sale_id)
        else:  # OutcomeUnknown: ask, never charge again
            log.warning("purchase %s: %s", sale_id, result.describe())
            await self.recovery.settle(sale_id)

    # -- reporting ----------------------------------------------------------------------------------------
    def health(self) -> ComponentHealth:
        settling = sorted(self._settling)
        status = Status.UP if self.recovery.done and not settling else Status.DEGRADED
        return ComponentHealth(
            status, {"current": self._current, "recovering": self.recovery.pending(), "settling": settling}
        )

    def progress(self) -> float | None:
        return None

