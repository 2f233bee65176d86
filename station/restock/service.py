"""RestockService: open a compartment for a volunteer, record goods in and out with their dates, close it.

Every arrow of `flow.RESTOCK` is committed before the side effect that follows it: `requested`
(with the compartment in `restocking`) before the door is pulsed, `opened` once its sensor says so.
A crash point follows each commit (`restock.<state>`), so kill tests can stop the daemon there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import crashpoints
from ..clock import Clock
from ..compartments import CompartmentError, StockError, contents, owner
from ..components import ComponentHealth, Status
from ..db.engine import Database, StorageUnavailable
from ..db.models import Product
from ..db.staff_models import RestockSession
from ..flows.engine import InvalidTransition, check_recovery, recover
from ..lockwall import DoorOutcome, LockWall
from ..staff import LiveSession, Role, StaffError, StaffService
from . import flow
from .flow import RESTOCK, RestockState

log = logging.getLogger(__name__)

PERISHABLE = ("chilled", "poultry", "minced", "frozen")  # temperature classes that must carry a date


@dataclass(frozen=True)
class RestockView:
    id: int
    compartment: int
    purpose: str
    state: str
    account_id: int
    actor: str
    compartment_status: str
    contents: list[dict[str, Any]]
    created_at: datetime
    closed_at: datetime | None


class RestockService:
    name = "restock"

    def __init__(self, db: Database, lockwall: LockWall, staff: StaffService, clock: Clock) -> None:
        self.db, self.lockwall, self.staff, self.clock = db, lockwall, staff, clock
        self.recovered = asyncio.Event()  # set once the restocks the last run left open are settled

    # -- lifecycle -------------------------------------------------------------------------------------
    async def start(self) -> None:
        check_recovery(RESTOCK, self)
        left = await self.db.read(RESTOCK.unfinished)
        if left:
            log.warning("%d restocking sessions left unfinished by the last run: their compartments need a check",
                        len(left))
        await recover(left, RESTOCK, self)
        self.recovered.set()  # compartments still `restocking` now belong to nobody: compartment recovery
        self.staff.on_session_end(self._session_ended)

    async def stop(self) -> None:
        return None

    async def _interrupted(self, restock_id: int) -> None:
        await self.db.write_until_committed(
            partial(flow.unfinished_end, restock_id=restock_id, target=RestockState.INTERRUPTED,
                    why="restart between opening for a volunteer and recording the contents"),
            what="restock recovery",
        )  # fmt: skip

    on_requested = _interrupted
    on_opened = _interrupted

    async def _session_ended(self, live: LiveSession, why: str) -> None:
        """Log-out or idle with a compartment still open: nobody confirmed its contents."""
        for restock_id in await self.db.read(partial(flow.open_for_session, session_id=live.id)):
            await self.db.write_until_committed(
                partial(flow.unfinished_end, restock_id=restock_id, target=RestockState.ABANDONED,
                        why=f"restocking not finished before the session ended ({why})"),
                what="restock abandoned",
            )  # fmt: skip
            log.warning("restock %s abandoned: %s's session ended (%s)", restock_id, live.actor, why)

    # -- the flow --------------------------------------------------------------------------------------------
    async def open(self, live: LiveSession, compartment: int, purpose: str) -> RestockView:
        """Open the door for restocking or cleaning; returns when the door opened or did not."""
        if purpose not in flow.PURPOSES:
            raise StaffError("invalid", "Zweck: Auffüllen oder Reinigen")
        if compartment not in self.lockwall.address_of:
            raise StaffError("not_found", f"Fach {compartment} gibt es nicht")
        if compartment in self.lockwall.unavailable_compartments():
            raise StaffError("not_available", f"Fach {compartment} ist gerade nicht erreichbar")

        def create(session: Session) -> int:
            return flow.create(session, compartment, account_id=live.account.id, session_id=live.id,
                               actor=live.actor, purpose=purpose)  # fmt: skip

        try:
            restock_id = await self.db.write(create)
        except CompartmentError as exc:
            raise StaffError("not_available", str(exc)) from None
        crashpoints.reached("restock.requested")
        try:
            result = await self.lockwall.open(compartment, "restock", flow.subject(restock_id), actor=live.actor)
        except StorageUnavailable:  # the door intent was not recorded: nothing was pulsed
            await self._failed(restock_id, maybe_opened=False, detail="storage unavailable")
            raise
        # A door still open from an earlier opening (a restocking given up with its session) gets no pulse; for
        # the volunteer standing at it, it is open all the same.
        still_open = result.outcome is DoorOutcome.UNAVAILABLE and self.lockwall.is_open(compartment)
        if result.outcome is DoorOutcome.OPENED or still_open:
            await self.db.write_until_committed(
                partial(flow.opened, restock_id=restock_id, door_operation_id=result.operation_id), what="restock"
            )
            crashpoints.reached("restock.opened")
        else:
            await self._failed(restock_id, maybe_opened=result.outcome is DoorOutcome.NOT_OPENED,
                               detail=result.detail or str(result.outcome))  # fmt: skip
        return await self.view(restock_id)

    async def _failed(self, restock_id: int, *, maybe_opened: bool, detail: str) -> None:
        await self.db.write_until_committed(
            partial(flow.failed, restock_id=restock_id, maybe_opened=maybe_opened, detail=detail), what="restock"
        )
        crashpoints.reached("restock.failed")

    async def load(self, live: LiveSession, restock_id: int, *, gtin: str, quantity: int, best_before: date | None,
                   use_by: date | None, lot: str | None) -> dict[str, Any]:
        """Goods put in: product by GTIN (chosen or scanned), quantity, dates, lot."""
        today = self.clock.today()
        if use_by is not None and use_by <= today:
            raise StaffError("invalid", "Das Verbrauchsdatum ist heute oder vorbei – diese Ware nicht einräumen")
        if best_before is not None and best_before < today:
            raise StaffError("invalid", "Das Mindesthaltbarkeitsdatum ist vorbei – diese Ware nicht einräumen")

        def write(session: Session) -> dict[str, Any]:
            row = self._own_open(session, live, restock_id)
            klass = session.scalar(select(Product.temperature_class).where(Product.gtin == gtin))
            if klass in PERISHABLE and best_before is None and use_by is None:
                raise StaffError("invalid", "Gekühlte Ware braucht ein Verbrauchs- oder Mindesthaltbarkeitsdatum")
            return contents.load(session, row.compartment_id, gtin, quantity, actor=live.actor,
                                 best_before=best_before, use_by=use_by, lot=lot, reference=flow.subject(restock_id))

        try:
            return await self.db.write(write)
        except StockError as exc:
            raise StaffError("invalid", _stock_text(exc, gtin)) from None

    async def remove(self, live: LiveSession, restock_id: int, reason: str) -> dict[str, Any]:
        """Everything in the compartment taken out (expired, damaged, recalled, other)."""
        if reason not in flow.REMOVAL_REASONS:
            raise StaffError("invalid", "Grund: abgelaufen, beschädigt, zurückgerufen oder sonstiges")

        def write(session: Session) -> dict[str, Any]:
            row = self._own_open(session, live, restock_id)
            return contents.remove_all(session, row.compartment_id, actor=live.actor, reason=reason,
                                       reference=flow.subject(restock_id))  # fmt: skip

        return await self.db.write(write)

    async def close(self, live: LiveSession, restock_id: int) -> RestockView:
        """The contents are recorded: the compartment becomes loaded or empty (and is offered again)."""
        now = self.clock.now()

        def write(session: Session) -> str:
            self._own_open(session, live, restock_id)
            try:
                return flow.closed(session, restock_id, now)
            except InvalidTransition:
                raise StaffError("too_late", "Dieses Auffüllen ist schon beendet") from None

        await self.db.write(write)
        crashpoints.reached("restock.closed")
        return await self.view(restock_id)

    @staticmethod
    def _own_open(session: Session, live: LiveSession, restock_id: int) -> RestockSession:
        row = session.get(RestockSession, restock_id)
        if row is None:
            raise StaffError("not_found", "Dieses Auffüllen gibt es nicht")
        if row.volunteer_id != live.account.id and live.role is not Role.OPERATOR:
            raise StaffError("forbidden", "Dieses Fach hat jemand anderes geöffnet")
        if row.state != RestockState.OPENED.value:
            raise StaffError("too_late", f"Dieses Auffüllen ist {row.state}: nichts mehr zu erfassen")
        return row

    # -- reading --------------------------------------------------------------------------------------
    async def view(self, restock_id: int) -> RestockView:
        found = await self.db.read(partial(_view, restock_id=restock_id))
        if found is None:
            raise StaffError("not_found", "Dieses Auffüllen gibt es nicht")
        return found

    async def open_restocks(self) -> list[RestockView]:
        ids = [key for key, _state in await self.db.read(RESTOCK.unfinished)]
        return [await self.view(i) for i in ids]

    def health(self) -> ComponentHealth:
        return ComponentHealth(Status.UP)

    def progress(self) -> float | None:
        return None


def _view(session: Session, restock_id: int) -> RestockView | None:
    row = session.get(RestockSession, restock_id)
    if row is None:
        return None
    return RestockView(row.id, row.compartment_id, row.purpose, row.state, row.volunteer_id, row.actor,
                       owner.status(session, row.compartment_id).value, contents.contents(session, row.compartment_id),
                       row.created_at, row.closed_at)  # fmt: skip


def _stock_text(exc: StockError, gtin: str) -> str:
    text = str(exc)
    if "no active product" in text:
        return f"Die Ware mit GTIN {gtin} steht nicht im Sortiment"
    if "another product" in text:
        return "In diesem Fach liegt eine andere Ware – erst entnehmen, dann einräumen"
    return f"Das geht nicht: {text}"
