"""VoucherService: checking codes at the station (throttled), reprints, and recovery of held vouchers.

Issuing happens where a voucher is earned (`station/deposit`, the change of a purchase) and
redemption where it is spent (`station/purchase`, the platform's command): those call
`ledger` in their own transactions. This component adds what needs state across requests: a
throttle on failed checks (guessing codes), the alarms refusals carry, and printing a voucher again.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from ..components import ComponentHealth, Status
from ..db.engine import Database, StorageUnavailable
from ..db.models import Sale, Voucher
from ..flows.engine import recover, transition
from ..journal import raise_alarm
from . import ledger
from .flow import VOUCHER, VoucherState
from .ledger import VoucherError, VoucherView
from .receipt import KIND, create_voucher_receipt

if TYPE_CHECKING:
    from ..printing import PrintService, ReceiptDesk

log = logging.getLogger(__name__)


class Throttle:
    """Failed code checks per station: `limit` within `window_s` locks checking for `lockout_s` (guessing)."""

    def __init__(self, limit: int = 5, window_s: float = 60.0, lockout_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window_s, self.lockout_s, self.clock = limit, window_s, lockout_s, clock
        self._failures: deque[float] = deque()
        self.locked_until = 0.0
        self.lockouts = 0

    def check(self) -> None:
        if self.clock() < self.locked_until:
            wait = int(self.locked_until - self.clock()) + 1
            raise VoucherError("throttled", f"Zu viele ungültige Pfandbons – bitte in {wait} Sekunden erneut versuchen")

    def failed(self) -> bool:
        """Count a failed check; True when this one locks checking (worth an alarm)."""
        now = self.clock()
        self._failures.append(now)
        while self._failures and self._failures[0] < now - self.window_s:
            self._failures.popleft()
        if len(self._failures) >= self.limit:
            self._failures.clear()
            self.locked_until = now + self.lockout_s
            self.lockouts += 1
            return True
        return False


class VoucherService:
    name = "vouchers"

    def __init__(self, db: Database, desk: ReceiptDesk, printing: PrintService | None = None,
                 throttle: Throttle | None = None) -> None:
        self.db, self.desk, self.printing = db, desk, printing
        self.throttle = throttle or Throttle()
        self.recovering: list[str] = []

    async def start(self) -> None:
        rows = await self.db.read(VOUCHER.unfinished)
        self.recovering = [key for key, _ in rows]
        failed = await recover(rows, VOUCHER, self)
        self.recovering = [key for key, _ in failed]

    async def stop(self) -> None:
        return None

    # -- recovery ----------------------------------------------------------------------------------
    async def on_held(self, voucher_id: str) -> None:
        """A held voucher belongs to its purchase; settle it here only if that purchase already ended."""
        from ..purchase.flow import FINAL, SALE, charge_for  # the purchase imports the ledger, not this module

        def write(session: Session) -> None:
            voucher = session.get_one(Voucher, voucher_id)
            sale_id = voucher.sale_id
            if sale_id is None or session.get(Sale, sale_id) is None:  # no purchase to settle it: give it back
                transition(session, VOUCHER, voucher_id, VoucherState.ISSUED, recovered=True,
                           why="held by a purchase that does not exist")
                voucher.sale_id = None
                return
            if SALE.current(session, sale_id) in FINAL:
                ledger.settle_for_sale(session, sale_id, charge_for(session, sale_id))

        await self.db.write(write)

    # -- at the station -----------------------------------------------------------------------------
    async def check(self, code: str) -> VoucherView:
        """What a typed or scanned code is worth; failures count towards the throttle, repeats raise an alarm."""
        self.throttle.check()
        try:
            return await self.db.read(lambda s: ledger.check(s, code))
        except VoucherError as exc:
            await self.refused(exc)
            raise

    async def refused(self, exc: VoucherError) -> None:
        """Record what a refusal means: its alarm, and a failure for the throttle (unknown or invalid codes)."""
        guessing = exc.code in ("not_found", "invalid") and self.throttle.failed()

        def write(session: Session) -> None:
            ledger.record_refusal(session, exc)
            if guessing:
                raise_alarm(session, "voucher.guessing", "station", severity="warning",
                            details={"failures": self.throttle.limit, "window_s": self.throttle.window_s})

        if exc.alarm is not None or guessing:
            try:
                await self.db.write(write)
            except StorageUnavailable:
                log.warning("could not record the voucher refusal alarm: storage unavailable")

    async def reprint(self, code: str) -> dict[str, Any]:
        """Print an issued voucher again: a new job of the same receipt (same code), one pending at a time."""
        if self.printing is None:
            raise VoucherError("unavailable", "An dieser Station ist kein Drucker eingerichtet")

        def write(session: Session) -> dict[str, Any]:
            voucher = ledger.find(session, code)
            if voucher.state != VoucherState.ISSUED:
                raise VoucherError("already_redeemed", "Dieser Pfandbon ist nicht mehr gültig – kein Nachdruck")
            receipt = self.desk.for_reference(session, voucher.id, KIND)
            receipt_id = receipt.id if receipt is not None else create_voucher_receipt(session, self.desk, voucher)[0]
            job_id = self.desk.enqueue(session, receipt_id, actor="shopper")
            return {"voucher": ledger.view(voucher).as_dict(), "receipt_id": receipt_id, "job_id": job_id,
                    "receipt_url": self.desk.url(receipt_id)}

        try:
            result = await self.db.write(write)
        except VoucherError as exc:
            await self.refused(exc)
            raise
        self.printing.wake()
        return result

    async def receipt_of(self, voucher_id: str) -> str | None:
        receipt = await self.db.read(lambda s: self.desk.for_reference(s, voucher_id, KIND))
        return None if receipt is None else receipt.id

    # -- the platform (also what the signed commands do, in their own transaction) -------------------------
    async def redeem(self, code: str, *, actor: str, reference: str) -> dict[str, Any]:
        try:
            return await self.db.write(lambda s: ledger.redeem(s, code, actor=actor, reference=reference))
        except VoucherError as exc:
            await self.refused(exc)
            raise

    async def void(self, code: str, *, actor: str, reason: str, reference: str | None = None) -> dict[str, Any]:
        return await self.db.write(lambda s: ledger.void(s, code, actor=actor, reason=reason, reference=reference))

    def health(self) -> ComponentHealth:
        status = Status.DEGRADED if self.recovering else Status.UP
        return ComponentHealth(status, {"recovering": list(self.recovering), "check_lockouts": self.throttle.lockouts})

    def progress(self) -> float | None:
        return None
