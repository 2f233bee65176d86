"""PickupService: load orders and parcels, hand them out against a credential, expire and return them.

Every door step follows the engine's rule: the order's arrow (with the compartment's move) is
committed, then the door flow (`LockWall.open`) pulses and records what the door did, then the
outcome is committed. Crash points follow each commit (`pickup.<step>`), so kill tests can stop
the daemon between "door opened for pick-up" and "order marked collected"; recovery (after the
door recovery has read the boards) then decides from the door operation, exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import crashpoints
from ..clock import Clock
from ..components import ComponentHealth, Status, cancel_tasks
from ..db.engine import Database, StorageUnavailable
from ..db.models import Order
from ..flows.engine import check_recovery, recover
from ..lockwall import DoorOutcome, LockWall
from ..orders import steps
from ..orders.flow import ORDER, OrderState, subject
from ..orders.service import NewOrder, OrderError, announce, assign, waiting_for_compartment
from ..printing.desk import ReceiptDesk
from ..printing.pickup import create_pickup_receipt
from ..staff import StaffError, StaffService, throttle
from . import credentials
from .credentials import Kind
from .offline import OfflineVerifier

log = logging.getLogger(__name__)

TICK_S = 30.0  # expiry and assignment of waiting orders
DOOR_RECOVERY_WAIT_S = 60.0
DOOR_WAITING = {OrderState.ASSIGNED.value, OrderState.LOADED.value, OrderState.EXPIRED.value}  # next: a door step
OUTCOME_WORDS = {
    "opened": "Fach {c} ist offen – bitte {what} und die Tür schließen",
    "not_opened": "Fach {c} hat sich nicht geöffnet – bitte erneut versuchen oder den Betreiber anrufen",
    "door_fault": "Fach {c} hat sich vielleicht nicht geöffnet – bitte den Betreiber anrufen",
}


@dataclass(frozen=True)
class DoorStep:
    """The answer to a load, pick-up or return: where, what the door did, the order's state now."""

    order_id: int
    external_id: str
    kind: str
    compartment: int
    outcome: str  # opened | not_opened | door_fault
    state: str
    message: str


class PickupService:
    name = "pickup"

    def __init__(self, db: Database, lockwall: LockWall, staff: StaffService, clock: Clock, *,
                 offline: OfflineVerifier | None = None, receipts: ReceiptDesk | None = None,
                 print_receipts: bool = False) -> None:
        self.db, self.lockwall, self.staff, self.clock = db, lockwall, staff, clock
        self.offline = offline
        self.receipts, self.print_receipts = receipts, print_receipts
        self.recovered = asyncio.Event()  # set once orders left in a door step are settled
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        check_recovery(ORDER, self)
        self._tasks.append(asyncio.create_task(self._recover(), name="pickup-recovery"))
        self._tasks.append(asyncio.create_task(self._tick_loop(), name="pickup-tick"))

    async def stop(self) -> None:
        await cancel_tasks(self._tasks)
        self._tasks = []

    async def _recover(self) -> None:
        """Door steps left unfinished: decided once the door recovery has read the boards."""
        try:
            left = await self.db.read(ORDER.unfinished)
            if left:
                await self.lockwall.wait_recovered(DOOR_RECOVERY_WAIT_S)
                log.warning("%d orders left in a door step by the last run", len(left))
                await recover(left, ORDER, self)
        finally:
            self.recovered.set()

    async def _settle(self, order_id: int, reason: str, done: Callable[..., str]) -> None:
        outcome = await self.db.read(partial(steps.door_outcome, order_id=order_id, reason=reason))
        if outcome is None:  # the door's board was never read: leave it for the next start
            raise RuntimeError(f"order {order_id}: its door operation is still unsettled")
        await self.db.write_until_committed(partial(done, order_id=order_id, outcome=outcome), what="order recovery")

    async def on_loading(self, order_id: int) -> None:
        await self._settle(order_id, "loading", _loading_recovered)

    async def on_collecting(self, order_id: int) -> None:
        await self._settle(order_id, "pickup", partial(self._collecting_done, settled_by="restart"))

    async def on_returning(self, order_id: int) -> None:
        await self._settle(order_id, "return", steps.returning_done)

    async def _tick_loop(self) -> None:
        while True:
            with contextlib.suppress(StorageUnavailable):
                await self.tick()
            await asyncio.sleep(TICK_S)

    async def tick(self) -> None:
        """Expire loaded orders past valid-until; give waiting orders a compartment that freed up."""
        now = self.clock.now()
        expired = await self.db.write(lambda s: steps.expire_due(s, now))
        if expired:
            log.info("orders past their valid-until: %s", expired)
        unavailable = set(self.lockwall.unavailable_compartments())

        def assign_waiting(session: Session) -> None:
            for order_id in waiting_for_compartment(session):
                assign(session, order_id, unavailable=unavailable)

        await self.db.write(assign_waiting)

    # -- orders over HTTP (the service API) -------------------------------------------------------------
    async def announce(self, new: NewOrder, *, actor: str) -> dict[str, Any]:
        unavailable = set(self.lockwall.unavailable_compartments())
        return await self.db.write(lambda s: announce(s, new, actor=actor, unavailable=unavailable))

    # -- loading --------------------------------------------------------------------------------------------
    async def load(self, external_id: str, *, actor: str) -> DoorStep:
        """Open the order's compartment for a courier, producer or volunteer; loaded once the door opened."""
        order_id = await self._order_id(external_id)
        await self._refuse_if_door_open(order_id)
        unavailable = set(self.lockwall.unavailable_compartments())
        compartment = await self.db.write(
            lambda s: steps.start_loading(s, order_id, actor=actor, unavailable=unavailable))
        crashpoints.reached("pickup.loading")
        outcome = await self._open(compartment, "loading", order_id, actor)
        await self.db.write_until_committed(
            lambda s: steps.loading_done(s, order_id, opened=outcome == "opened", actor=actor, detail=outcome),
            what="order loading")  # fmt: skip
        crashpoints.reached("pickup.loaded")
        return await self._step(order_id, compartment, outcome)

    async def drop_parcel(self, new: NewOrder, *, actor: str) -> DoorStep:
        """A courier drops a parcel: a free compartment of its size, opened; the platform learns it (order.loaded)."""
        result = await self.announce(new, actor=actor)
        if not result["created"] and result["state"] != OrderState.ASSIGNED.value:
            raise OrderError("conflict", f"Die Sendung {new.external_id} ist schon {result['state']}")
        return await self.load(new.external_id, actor=actor)

    # -- collecting -------------------------------------------------------------------------------------------
    async def collect(self, text: str, keypad: str) -> DoorStep:
        """A code typed or a QR token (or signed offline code) scanned into the keypad field."""
        self.staff.check_keypad(keypad)
        kind = credentials.classify(text)
        if kind is Kind.OFFLINE:
            return await self._collect_offline(text.strip(), keypad)
        scopes = throttle.pickup_scopes(keypad) if kind is not Kind.QR else [f"pickup-scanner:{keypad}"]
        await self._refuse_if_throttled(scopes)
        if kind is None:
            await self._failed(scopes)
            raise OrderError("wrong_code", "Das ist kein gültiger Abholcode")
        digest = credentials.digest(self.staff.secret, kind, text)
        column = Order.code_hmac if kind is Kind.CODE else Order.qr_hmac
        found = await self.db.read(lambda s: _by_digest(s, column, digest))
        if found is None:
            await self._failed(scopes)
            raise OrderError("wrong_code", "Dieser Abholcode stimmt nicht – bitte genau prüfen")
        await self.db.write(lambda s: throttle.succeeded(s, scopes))
        return await self._collect(found, f"customer:{kind.value}", kind.value)

    async def collect_card(self, uid: str | None) -> DoorStep:
        """A customer card on the reader (or, on a simulated station, its UID given over HTTP)."""
        scopes = [throttle.reader_scope("nfc-pickup")]
        await self._refuse_if_throttled(scopes)
        try:
            uid = await self.staff.badge_uid(uid)
        except StaffError as exc:  # no fresh tap; a UID over HTTP on real hardware
            raise OrderError(exc.code, str(exc)) from None
        self.staff.consume_tap(uid)
        digest = credentials.digest(self.staff.secret, Kind.CARD, uid)
        found = await self.db.read(lambda s: _by_digest(s, Order.card_hmac, digest))
        if found is None:
            await self._failed(scopes)
            raise OrderError("wrong_code", "Für diese Karte liegt keine Bestellung bereit")
        return await self._collect(found, "customer:card", "card")

    async def _collect_offline(self, token: str, keypad: str) -> DoorStep:
        scopes = [f"pickup-scanner:{keypad}"]
        await self._refuse_if_throttled(scopes)
        if self.offline is None:
            raise OrderError("wrong_code", "Offline-Codes sind an dieser Station nicht eingerichtet")
        now = self.clock.now()
        try:
            claim = await self.db.read(lambda s: self.offline.check(s, token, now))  # type: ignore[union-attr]
        except OrderError as exc:
            if exc.code == "wrong_code":  # unreadable or not signed by the platform: a guess; the rest is not
                await self._failed(scopes)
            raise
        order_id = await self._order_id(claim.order)
        step = await self._collect(order_id, f"customer:offline:{claim.holder}", "offline",
                                   use_token=claim.token_id, delegation=claim.delegation)
        return step

    async def _collect(self, order_id: int, actor: str, via: str, **details: Any) -> DoorStep:
        await self._refuse_if_door_open(order_id)
        now = self.clock.now()
        token = details.pop("use_token", None)

        def begin(session: Session) -> int:
            if token is not None and self.offline is not None:
                self.offline.use(session, token, order_id, now)
            return steps.start_collecting(session, order_id, actor=actor, via=via, now=now,
                                          **{k: v for k, v in details.items() if v is not None})

        compartment = await self.db.write(begin)
        extra = {k: v for k, v in details.items() if v is not None}
        crashpoints.reached("pickup.collecting")
        outcome = await self._open(compartment, "pickup", order_id, actor)
        crashpoints.reached("pickup.door_opened" if outcome == "opened" else "pickup.door_done")
        state = await self.db.write_until_committed(
            lambda s: self._collecting_done(s, order_id, outcome, actor=actor, via=via, **extra),
            what="order collected")
        crashpoints.reached("pickup.collected")
        return await self._step(order_id, compartment, outcome, state)

    def _collecting_done(self, session: Session, order_id: int, outcome: str, **details: Any) -> str:
        """The collection settled, and in the same transaction its confirmation (receipt, print job)."""
        state = steps.collecting_done(session, order_id, outcome, **details)
        if state == OrderState.COLLECTED.value and self.receipts is not None:
            compartment = session.scalar(select(Order.compartment_id).where(Order.id == order_id))
            create_pickup_receipt(session, self.receipts, order_id, [compartment] if compartment else [],
                                  queue=self.print_receipts)
        return state

    # -- returning -----------------------------------------------------------------------------------------------
    async def take_back(self, external_id: str, *, actor: str) -> DoorStep:
        """A volunteer takes an expired order out of its compartment: returned once the door opened."""
        order_id = await self._order_id(external_id)
        await self._refuse_if_door_open(order_id)
        compartment = await self.db.write(lambda s: steps.start_returning(s, order_id, actor=actor))
        crashpoints.reached("pickup.returning")
        outcome = await self._open(compartment, "return", order_id, actor)
        state = await self.db.write_until_committed(
            lambda s: steps.returning_done(s, order_id, outcome, actor=actor), what="order returned")
        return await self._step(order_id, compartment, outcome, state)

    # -- helpers -----------------------------------------------------------------------------------------------------
    async def _open(self, compartment: int, reason: str, order_id: int, actor: str) -> str:
        """The door flow; its outcome in the order's words (a pulse never seen open is a door fault)."""
        if self.lockwall.is_open(compartment):  # still open from the last opening: nothing to pulse
            return "not_opened"
        try:
            result = await self.lockwall.open(compartment, reason, subject(order_id), actor=actor)
        except StorageUnavailable:  # the door intent was not recorded: nothing was pulsed
            return "not_opened"
        if result.outcome is DoorOutcome.OPENED:
            return "opened"
        return "door_fault" if result.outcome is DoorOutcome.NOT_OPENED else "not_opened"

    async def _refuse_if_door_open(self, order_id: int) -> None:
        order = await self.db.read(lambda s: s.get_one(Order, order_id))
        compartment, waiting = order.compartment_id, order.state in DOOR_WAITING
        if waiting and compartment is not None and self.lockwall.is_open(compartment):
            raise OrderError("busy", f"Fach {compartment} ist noch offen – bitte die Tür schließen und "
                             "erneut versuchen")

    async def _order_id(self, external_id: str) -> int:
        found = await self.db.read(lambda s: _id_of(s, external_id))
        if found is None:
            raise OrderError("unknown_order", f"Die Sendung {external_id} kennt die Station nicht")
        return found

    async def _step(self, order_id: int, compartment: int, outcome: str, state: str | None = None) -> DoorStep:
        row = await self.db.read(lambda s: s.get_one(Order, order_id))
        what = "einlegen" if (state or row.state) == OrderState.LOADED.value and outcome == "opened" else "entnehmen"
        return DoorStep(order_id, row.external_id, row.kind, compartment, outcome, state or row.state,
                        OUTCOME_WORDS[outcome].format(c=compartment, what=what))

    async def _refuse_if_throttled(self, scopes: list[str]) -> None:
        now = self.clock.now()
        refusal = await self.db.read(lambda s: throttle.refusal(s, scopes, now))
        if refusal is not None:
            raise OrderError("locked" if refusal.locked else "throttled", refusal.message(now),
                             retry_after_s=refusal.seconds_left(now) or None)

    async def _failed(self, scopes: list[str]) -> None:
        now = self.clock.now()
        locked = await self.db.write_until_committed(
            lambda s: throttle.failed(s, scopes, now, alarm=throttle.PICKUP_ALARM), what="throttle")
        for scope in locked:
            log.warning("pick-up codes locked for %s after too many failures (operator alarm raised)", scope)

    def health(self) -> ComponentHealth:
        return ComponentHealth(Status.UP if self.recovered.is_set() else Status.DEGRADED)

    def progress(self) -> float | None:
        return None


def _by_digest(session: Session, column: Any, digest: str) -> int | None:
    row = session.execute(select(Order.id, column).where(column == digest)).first()
    if row is None or not credentials.same(row[1], digest):
        return None
    return int(row[0])


def _id_of(session: Session, external_id: str) -> int | None:
    return session.scalar(select(Order.id).where(Order.external_id == external_id))


def _loading_recovered(session: Session, order_id: int, outcome: str) -> str:
    steps.loading_done(session, order_id, opened=outcome == "opened", actor="system", detail=f"restart: {outcome}")
    return outcome

