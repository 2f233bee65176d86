"""The only writer of compartment status and holds: every change is an arrow of `flow.COMPARTMENT`.

Each function runs inside the caller's transaction (the flow that causes the change commits it
together with its own arrow). Functions are named after what happened, not after the status they
set, so a caller cannot pick a status the situation does not justify.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from ..config import CompartmentConfig
from ..db.models import Compartment, CompartmentContent, CompartmentHold, Order, Priority
from ..db.types import utcnow
from ..flows.engine import InvalidTransition, created, transition
from ..journal import audit
from ..outbox import record_event
from .flow import COMPARTMENT, Slot

NOT_CONFIGURED = "not_configured"  # hold kind: the compartment left the configuration
ORDER_ENDED = ("collected", "returned", "cancelled")  # the order flow's final states: it names no compartment


class CompartmentError(Exception):
    """A change the compartment's status or holds do not allow; the message says why (German for screens)."""


def status(session: Session, compartment: int) -> Slot:
    try:
        return COMPARTMENT.current(session, compartment)
    except LookupError:
        raise CompartmentError(f"Fach {compartment} gibt es nicht") from None


def blocked_reason(session: Session, compartment: int) -> str | None:
    return session.scalar(select(Compartment.blocked_reason).where(Compartment.id == compartment))


def _move(
    session: Session,
    compartment: int,
    target: Slot,
    *,
    expect: Iterable[Slot] | None = None,
    actor: str = "system",
    reason: str | None = None,
    reference: str | None = None,
    **details: Any,
) -> Slot:
    """One arrow; refusals become CompartmentError with the current status in plain words."""
    try:
        return transition(
            session, COMPARTMENT, compartment, target, actor=actor, reason=reason, reference=reference,
            expect=set(expect) if expect is not None else None, **details,
        )
    except InvalidTransition:
        raise CompartmentError(f"Fach {compartment} ist {status(session, compartment)}: {target} geht nicht") from None


def _has_goods(session: Session, compartment: int) -> bool:
    return (
        session.scalar(
            select(CompartmentContent.id).where(
                CompartmentContent.compartment_id == compartment, CompartmentContent.quantity > 0
            )
        )
        is not None
    )


def clear_contents(session: Session, compartment: int) -> None:
    """The goods left the compartment (released, discarded, removed): current contents only."""
    session.execute(delete(CompartmentContent).where(CompartmentContent.compartment_id == compartment))


# -- buying ---------------------------------------------------------------------------------------
def reserve_for_sale(session: Session, compartment: int, sale_id: str) -> None:
    """A purchase takes the goods: refused when blocked or not loaded."""
    if blocked_reason(session, compartment) is not None:
        raise CompartmentError(f"Fach {compartment} ist gesperrt")
    _move(session, compartment, Slot.RESERVED, expect={Slot.LOADED}, reference=sale_id)


def sale_settled(session: Session, compartment: int, sale_id: str, outcome: str) -> None:
    """The purchase ended: `released` (goods out), `not_released` (door stayed shut), `maybe` (unknown).

    `door_fault` (pulsed, never seen open) keeps the goods listed but needs a check: a stuck sensor
    could have hidden an opening. Only acts while the compartment is still reserved for a sale.
    """
    if status(session, compartment) is not Slot.RESERVED:
        return
    if outcome == "released":
        clear_contents(session, compartment)
        _move(session, compartment, Slot.EMPTY, reference=sale_id)
    elif outcome == "not_released":
        _move(session, compartment, Slot.LOADED, reference=sale_id)
    else:
        why = "door pulsed, opening not seen" if outcome == "door_fault" else "door may have opened unseen"
        _move(session, compartment, Slot.NEEDS_CHECK, reference=sale_id, why=why, sale_id=sale_id)


# -- orders and parcels ----------------------------------------------------------------------------
def assign_to_order(session: Session, compartment: int, order_ref: str, actor: str = "system") -> None:
    """Kept free for an order or parcel: only an empty compartment with no hold on it."""
    if blocked_reason(session, compartment) is not None:
        raise CompartmentError(f"Fach {compartment} ist gesperrt")
    _move(session, compartment, Slot.ASSIGNED, expect={Slot.EMPTY}, actor=actor, reference=order_ref)


def order_unassigned(session: Session, compartment: int, order_ref: str, actor: str = "system") -> None:
    """The order was cancelled before it was loaded: free again."""
    if status(session, compartment) is Slot.ASSIGNED:
        _move(session, compartment, Slot.EMPTY, actor=actor, reference=order_ref)


def order_loaded(session: Session, compartment: int, order_ref: str, actor: str) -> None:
    _move(session, compartment, Slot.HOLDING, expect={Slot.ASSIGNED}, actor=actor, reference=order_ref)


def open_for_order(session: Session, compartment: int, order_ref: str, actor: str, *,
                   despite_hold: bool = False) -> None:
    """Opened to hand an order out: refused when held (cold chain, operator) or not holding.

    `despite_hold`: a volunteer taking an expired order back out (what a block asks for anyway).
    """
    reason = blocked_reason(session, compartment)
    if reason is not None and not despite_hold:
        raise CompartmentError(f"Fach {compartment} ist gesperrt ({reason})")
    _move(session, compartment, Slot.COLLECTING, expect={Slot.HOLDING}, actor=actor, reference=order_ref)


def order_settled(session: Session, compartment: int, order_ref: str, outcome: str) -> None:
    """The opening for an order ended: `taken` (it is out), `not_opened` (nothing sent), `door_fault` (unknown)."""
    if status(session, compartment) is not Slot.COLLECTING:
        return
    if outcome == "taken":
        clear_contents(session, compartment)
        _move(session, compartment, Slot.EMPTY, reference=order_ref)
    elif outcome == "not_opened":
        _move(session, compartment, Slot.HOLDING, reference=order_ref)
    else:
        _move(session, compartment, Slot.NEEDS_CHECK, reference=order_ref, why="door pulsed for a pick-up, "
              "opening not seen")


# -- volunteers -----------------------------------------------------------------------------------
def open_for_volunteer(session: Session, compartment: int, actor: str, purpose: str) -> None:
    """Opened to restock, clean or check. Refused while a live order names it: recording the contents
    would call it empty (or loaded with goods) under an order still waiting in it."""
    order = session.execute(
        select(Order.external_id).where(Order.compartment_id == compartment, Order.state.not_in(ORDER_ENDED))
    ).first()  # fmt: skip
    if order is not None:
        raise CompartmentError(f"In Fach {compartment} liegt noch die Bestellung {order.external_id} – "
                               "dieses Fach nicht zum Auffüllen oder Reinigen öffnen; bitte den Betreiber anrufen")
    _move(session, compartment, Slot.RESTOCKING, expect={Slot.EMPTY, Slot.LOADED, Slot.NEEDS_CHECK},
          actor=actor, reason=purpose)


def contents_recorded(session: Session, compartment: int, actor: str, *, reference: str | None = None) -> Slot:
    """After restocking or a check: loaded when goods are in it, else empty."""
    target = Slot.LOADED if _has_goods(session, compartment) else Slot.EMPTY
    current = status(session, compartment)
    if current is target:
        return current
    _move(session, compartment, target, expect={Slot.RESTOCKING, Slot.NEEDS_CHECK, Slot.EMPTY, Slot.LOADED},
          actor=actor, reference=reference)
    return target


def goods_removed(session: Session, compartment: int, actor: str, reason: str) -> None:
    """Everything taken out from the outside (cold-chain discard, a volunteer clearing it)."""
    clear_contents(session, compartment)
    if status(session, compartment) is Slot.LOADED:
        _move(session, compartment, Slot.EMPTY, actor=actor, reason=reason)


def needs_check(session: Session, compartment: int, why: str, *, actor: str = "system",
                reference: str | None = None) -> None:
    """Contents unknown (a forced door, an unconfirmed opening): not offered until checked."""
    if status(session, compartment) in (Slot.NEEDS_CHECK, Slot.OUT_OF_SERVICE):
        return
    _move(session, compartment, Slot.NEEDS_CHECK, actor=actor, reference=reference, why=why)


# -- recovery -------------------------------------------------------------------------------------
def recover_reserved(session: Session, compartment: int) -> None:
    """A reservation no purchase holds any more: back on sale (its purchase would have settled it)."""
    _move(session, compartment, Slot.LOADED, expect={Slot.RESERVED}, why="no purchase holds it after a restart")


def recover_restocking(session: Session, compartment: int) -> None:
    _move(session, compartment, Slot.NEEDS_CHECK, expect={Slot.RESTOCKING},
          why="restart between opening for a volunteer and recording the contents")


def recover_collecting(session: Session, compartment: int) -> None:
    _move(session, compartment, Slot.NEEDS_CHECK, expect={Slot.COLLECTING},
          why="restart during a pick-up that no flow holds any more")


# -- holds (blocks) -------------------------------------------------------------------------------
def hold(session: Session, compartment: int, kind: str, *, actor: str, reference: str | None = None,
         reason: str | None = None) -> bool:
    """Block sale and pick-up for `kind` (cold_chain, operator); False when that hold already exists."""
    status(session, compartment)
    exists = session.scalar(
        select(CompartmentHold.id).where(CompartmentHold.compartment_id == compartment, CompartmentHold.kind == kind)
    )
    if exists is not None:
        return False
    session.execute(
        insert(CompartmentHold).values(compartment_id=compartment, kind=kind, reference=reference, reason=reason,
                                       actor=actor, since=utcnow())
    )
    _summarise(session, compartment)
    _hold_event(session, True, compartment, kind, actor, reference, reason)
    return True


def release_hold(session: Session, compartment: int, kind: str, *, actor: str, reference: str | None = None) -> bool:
    """Lift the `kind` hold; False when there was none."""
    gone = session.execute(
        delete(CompartmentHold).where(CompartmentHold.compartment_id == compartment, CompartmentHold.kind == kind)
    ).rowcount  # type: ignore[attr-defined]
    if not gone:
        return False
    _summarise(session, compartment)
    _hold_event(session, False, compartment, kind, actor, reference, None)
    return True


def holds(session: Session, compartment: int) -> list[CompartmentHold]:
    return list(session.scalars(select(CompartmentHold).where(CompartmentHold.compartment_id == compartment)))


def _summarise(session: Session, compartment: int) -> None:
    rows = session.execute(
        select(CompartmentHold.kind, CompartmentHold.reference, CompartmentHold.reason)
        .where(CompartmentHold.compartment_id == compartment)
        .order_by(CompartmentHold.kind)
    ).all()
    summary = "; ".join(f"{kind}:{reason or ref or ''}" for kind, ref, reason in rows) or None
    session.execute(
        update(Compartment).where(Compartment.id == compartment).values(blocked_reason=summary, updated_at=utcnow())
    )


def _hold_event(session: Session, blocked: bool, compartment: int, kind: str, actor: str, reference: str | None,
                reason: str | None) -> None:
    action = "compartment.blocked" if blocked else "compartment.unblocked"
    payload = {
        "compartment": compartment,
        "kind": kind,
        "reason": reason,
        "reference": reference,
        "actor": actor,
        "status": str(status(session, compartment)),
        "blocked_reason": blocked_reason(session, compartment),
    }
    payload["audit_id"] = audit(session, action, f"compartment:{compartment}", actor=actor, reason=kind,
                                reference=reference, details=payload, emit=False)
    record_event(session, action, payload, priority=Priority.STOCK)


# -- service ----------------------------------------------------------------------------------------
def out_of_service(session: Session, compartment: int, why: str, actor: str = "system") -> None:
    if status(session, compartment) is not Slot.OUT_OF_SERVICE:
        _move(session, compartment, Slot.OUT_OF_SERVICE, actor=actor, why=why)


def back_in_service(session: Session, compartment: int, actor: str = "system") -> None:
    if status(session, compartment) is Slot.OUT_OF_SERVICE:
        _move(session, compartment, Slot.NEEDS_CHECK, actor=actor, why="back in service")


def sync_configured(session: Session, configured: Iterable[CompartmentConfig]) -> None:
    """New compartments start empty; changed ones are updated; ones no longer configured go out of service."""
    now = utcnow()
    existing = {c.id: c for c in session.scalars(select(Compartment))}
    seen = set()
    for cfg in configured:
        seen.add(cfg.id)
        comp = existing.get(cfg.id)
        place = (cfg.bus, cfg.board, cfg.lock, cfg.size, cfg.zone)
        if comp is None:
            session.execute(
                insert(Compartment).values(id=cfg.id, bus=cfg.bus, board=cfg.board, lock=cfg.lock, size=cfg.size,
                                           zone=cfg.zone, status=Slot.EMPTY.value, updated_at=now)
            )
            created(session, COMPARTMENT, cfg.id, why="configured")
            continue
        if (comp.bus, comp.board, comp.lock, comp.size, comp.zone) != place:
            session.execute(
                update(Compartment).where(Compartment.id == cfg.id).values(
                    bus=cfg.bus, board=cfg.board, lock=cfg.lock, size=cfg.size, zone=cfg.zone, updated_at=now
                )
            )
        if release_hold(session, cfg.id, NOT_CONFIGURED, actor="system"):
            back_in_service(session, cfg.id)
    for comp_id in existing:
        if comp_id not in seen and hold(session, comp_id, NOT_CONFIGURED, actor="system", reason="nicht konfiguriert"):
            out_of_service(session, comp_id, "not configured")
