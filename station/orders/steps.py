"""The door steps of an order (loading, collecting, returning) and expiry. Run in the caller's transaction.

Each `start_*` commits the order's arrow together with the compartment's own move before the
caller pulses the door; each `*_done` records what the door did. `door_outcome` reads the door
operations done for the order, which is how recovery decides after a crash.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..compartments import owner
from ..db.models import DoorOperation, Order
from ..db.types import utcnow
from ..flows.engine import transition
from ..lockwall import doors
from ..lockwall.doors import DoorState
from .flow import ORDER, OrderState, subject
from .service import OrderError, assign

St = OrderState


def _order(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise OrderError("unknown_order", "Diese Bestellung gibt es nicht")
    return order


# -- loading ------------------------------------------------------------------------------------------
def start_loading(session: Session, order_id: int, *, actor: str, unavailable: Collection[int] = ()) -> int:
    """assigned → loading (assigning first if it still waits for a compartment); returns the compartment."""
    order = _order(session, order_id)
    if order.state == St.ANNOUNCED.value and assign(session, order_id, actor=actor, unavailable=unavailable) is None:
        raise OrderError("not_available", "Für diese Sendung ist gerade kein passendes Fach frei")
    if order.state != St.ASSIGNED.value:
        raise OrderError("order_state", f"Diese Sendung ist {_word(order.state)}: Einlegen geht nicht")
    assert order.compartment_id is not None
    transition(session, ORDER, order_id, St.LOADING, actor=actor, compartment=order.compartment_id)
    return order.compartment_id


def loading_done(session: Session, order_id: int, *, opened: bool, actor: str, detail: str = "") -> None:
    """The door opened (the courier puts it in and shuts it): loaded. Otherwise back to assigned."""
    order = _order(session, order_id)
    assert order.compartment_id is not None
    if opened:
        owner.order_loaded(session, order.compartment_id, subject(order_id), actor)
        order.loaded_by, order.loaded_at = actor, utcnow()
        session.flush()
        transition(session, ORDER, order_id, St.LOADED, actor=actor, expect={St.LOADING})
    else:
        transition(session, ORDER, order_id, St.ASSIGNED, actor=actor, expect={St.LOADING}, why=detail)


# -- collecting ---------------------------------------------------------------------------------------------
def start_collecting(session: Session, order_id: int, *, actor: str, via: str, now: datetime, **details: Any) -> int:
    """loaded → collecting with the compartment opened for the pick-up; returns the compartment.

    Refused when expired, or when the compartment is held (a chilled order is never handed out from a
    compartment whose cold chain is blocked).
    """
    order = _order(session, order_id)
    if order.state != St.LOADED.value:
        raise OrderError("order_state", _not_collectable(order.state))
    if order.expires_at is not None and order.expires_at <= now:
        raise OrderError("expired", "Die Abholfrist ist abgelaufen – bitte den Betreiber anrufen")
    assert order.compartment_id is not None
    try:
        owner.open_for_order(session, order.compartment_id, subject(order_id), actor)
    except owner.CompartmentError:
        raise OrderError("blocked", f"Fach {order.compartment_id} ist gerade gesperrt (z. B. Kühlung gestört) – "
                         "bitte den Betreiber anrufen") from None
    transition(session, ORDER, order_id, St.COLLECTING, actor=actor, expect={St.LOADED}, via=via,
               compartment=order.compartment_id, **details)
    return order.compartment_id


def collecting_done(session: Session, order_id: int, outcome: str, *, actor: str = "system", **details: Any) -> str:
    """`opened` → collected (once); `not_opened` → loaded; `door_fault` → loaded, compartment needs a check."""
    order = _order(session, order_id)
    if order.state != St.COLLECTING.value:
        return order.state  # already settled (recovery and the request raced): exactly once
    assert order.compartment_id is not None
    ref = subject(order_id)
    if outcome == "opened":
        owner.order_settled(session, order.compartment_id, ref, "taken")
        order.picked_up_at, order.collected_by = utcnow(), actor
        session.flush()
        transition(session, ORDER, order_id, St.COLLECTED, actor=actor, **details)
        return St.COLLECTED.value
    owner.order_settled(session, order.compartment_id, ref, outcome)
    transition(session, ORDER, order_id, St.LOADED, actor=actor, door=outcome, **details)
    return St.LOADED.value


# -- expiry and return -------------------------------------------------------------------------------------
def expire_due(session: Session, now: datetime) -> list[int]:
    """Orders past their valid-until: loaded ones expire (a task asks a volunteer to take them out), others end."""
    due = list(session.scalars(
        select(Order.id).where(Order.state == St.LOADED.value, Order.expires_at.is_not(None), Order.expires_at <= now)
    ))  # fmt: skip
    for order_id in due:
        transition(session, ORDER, order_id, St.EXPIRED, why="past valid-until")
    return due + _cancel_unloaded_due(session, now)


def _cancel_unloaded_due(session: Session, now: datetime) -> list[int]:
    """Orders never loaded by their valid-until end cancelled; the compartment kept for one is free again."""
    due = session.execute(
        select(Order.id, Order.compartment_id).where(
            Order.state.in_([St.ANNOUNCED.value, St.ASSIGNED.value]),
            Order.expires_at.is_not(None),
            Order.expires_at <= now,
        )
    ).all()
    for order_id, compartment_id in due:
        if compartment_id is not None:
            owner.order_unassigned(session, compartment_id, subject(order_id), actor="system")
        transition(session, ORDER, order_id, St.CANCELLED, why="past valid-until before it was loaded")
    return [order_id for order_id, _ in due]


def start_returning(session: Session, order_id: int, *, actor: str) -> int:
    order = _order(session, order_id)
    if order.state != St.EXPIRED.value:
        raise OrderError("order_state", f"Diese Bestellung ist {_word(order.state)}: zurücknehmen geht nicht")
    assert order.compartment_id is not None
    owner.open_for_order(session, order.compartment_id, subject(order_id), actor, despite_hold=True)
    transition(session, ORDER, order_id, St.RETURNING, actor=actor, compartment=order.compartment_id)
    return order.compartment_id


def returning_done(session: Session, order_id: int, outcome: str, *, actor: str = "system") -> str:
    order = _order(session, order_id)
    if order.state != St.RETURNING.value:
        return order.state
    assert order.compartment_id is not None
    owner.order_settled(session, order.compartment_id, subject(order_id), "taken" if outcome == "opened" else outcome)
    target = St.RETURNED if outcome == "opened" else St.EXPIRED
    transition(session, ORDER, order_id, target, actor=actor, door=outcome)
    return target.value


# -- what the doors did (recovery) ---------------------------------------------------------------------------
OPENED_STATES = (DoorState.OPENED, DoorState.CLOSED, DoorState.MAYBE_OPENED)


def door_outcome(session: Session, order_id: int, reason: str) -> str | None:
    """What the door for this order's current step did: `opened`, `not_opened`, `door_fault`, or None
    while its operation is unfinished (the door recovery has not read its board yet).

    Only operations since the order entered this step count (an earlier attempt's failure does not).
    """
    order = _order(session, order_id)
    since = order.updated_at
    query = select(DoorOperation.state, DoorOperation.attempts).where(
        DoorOperation.reason == reason, DoorOperation.reference == subject(order_id))
    if since is not None:
        query = query.where(DoorOperation.created_at >= since)
    ops = session.execute(query.order_by(DoorOperation.id)).all()
    if not ops:
        return "not_opened"  # the crash came before the door's intent was committed: nothing was pulsed
    state, attempts = DoorState(ops[-1].state), ops[-1].attempts
    if state in doors.UNSEEN:
        return None
    if state in OPENED_STATES:
        return "opened"
    if state is DoorState.FAILED and attempts > 0:
        return "door_fault"
    return "not_opened"  # nothing sent, or untouched (the item sensor shows it still in)


def unfinished_compartments(session: Session) -> set[int]:
    """Compartments an order in a door step holds (it settles them itself; compartment recovery leaves them)."""
    states = [St.LOADING.value, St.COLLECTING.value, St.RETURNING.value]
    return set(session.scalars(select(Order.compartment_id).where(Order.state.in_(states),
                                                                  Order.compartment_id.is_not(None))))


_WORDS = {"announced": "angekündigt", "assigned": "noch nicht eingelegt", "loading": "wird gerade eingelegt",
          "loaded": "im Fach", "collecting": "wird gerade abgeholt", "collected": "schon abgeholt",
          "expired": "abgelaufen", "returning": "wird gerade zurückgenommen", "returned": "zurückgegangen",
          "cancelled": "storniert"}  # fmt: skip


def _word(state: str) -> str:
    return _WORDS.get(state, state)


def _not_collectable(state: str) -> str:
    if state == St.COLLECTED.value:
        return "Diese Bestellung wurde schon abgeholt – der Code gilt nur einmal"
    if state in (St.EXPIRED.value, St.RETURNING.value, St.RETURNED.value):
        return "Die Abholfrist ist abgelaufen – bitte den Betreiber anrufen"
    if state == St.CANCELLED.value:
        return "Diese Bestellung wurde storniert"
    if state == St.COLLECTING.value:
        return "Dieses Fach öffnet gerade"
    return "Diese Bestellung ist noch nicht im Fach – bitte später noch einmal versuchen"
