"""What may be done with orders: announce, assign a compartment, cancel. Runs in the caller's transaction."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..compartments import owner
from ..compartments.flow import Slot
from ..db.models import Compartment, Order
from ..db.types import utcnow
from ..flows.engine import created, transition
from .flow import ORDER, OrderState, subject

SIZES = ("S", "M", "L", "XL")  # smallest first: an order takes the smallest free compartment it fits in
LIVE = [s.value for s in (OrderState.ASSIGNED, OrderState.LOADING, OrderState.LOADED, OrderState.COLLECTING,
                          OrderState.EXPIRED, OrderState.RETURNING)]  # an order in these states owns its compartment


class OrderError(ValueError):
    """A change the order does not allow; `code` is machine-readable (unknown_order, order_state, ...)."""

    def __init__(self, code: str, detail: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.retry_after_s = retry_after_s  # a throttle pause runs (the API sends Retry-After)


@dataclass(frozen=True)
class NewOrder:
    """An order or parcel as the platform (or a courier, for a parcel) announces it."""

    external_id: str
    kind: str = "order"
    size: str | None = None
    zone: str | None = None
    customer_ref: str | None = None
    items: list[Any] = field(default_factory=list)
    compartment_id: int | None = None  # named by the platform
    amount_due_cents: int = 0
    expires_at: datetime | None = None
    code_hmac: str | None = None  # keyed hashes (station key), never the codes
    qr_hmac: str | None = None
    card_hmac: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def announce(session: Session, new: NewOrder, *, actor: str, reference: str | None = None,
             unavailable: Collection[int] = ()) -> dict[str, Any]:
    """A new order, assigned at once when a compartment fits (idempotent on `external_id`: `created` False)."""
    existing = session.execute(select(Order.id, Order.state).where(Order.external_id == new.external_id)).first()
    if existing is not None:
        return {"order_id": existing.id, "external_id": new.external_id, "state": existing.state, "created": False}
    if new.compartment_id is not None:
        try:
            owner.status(session, new.compartment_id)
        except owner.CompartmentError:
            raise OrderError("unknown_compartment", f"no compartment {new.compartment_id}") from None
    if new.size is not None and new.size not in SIZES:
        raise OrderError("invalid", f"size {new.size!r}: one of {', '.join(SIZES)}")
    now = utcnow()
    order_id = ORDER.insert(session, {
        "external_id": new.external_id, "kind": new.kind, "compartment_id": None, "code_hmac": new.code_hmac,
        "qr_hmac": new.qr_hmac, "card_hmac": new.card_hmac, "state": OrderState.ANNOUNCED.value,
        "amount_due_cents": new.amount_due_cents, "created_at": now, "updated_at": now, "expires_at": new.expires_at,
        "details": new.details, "size": new.size, "zone": new.zone, "customer_ref": new.customer_ref,
        "items": new.items, "wanted_compartment": new.compartment_id,
    })  # fmt: skip
    created(session, ORDER, order_id, actor=actor, reason="remote", reference=reference)
    state = OrderState.ANNOUNCED
    if assign(session, order_id, actor=actor, unavailable=unavailable) is not None:
        state = OrderState.ASSIGNED
    return {"order_id": order_id, "external_id": new.external_id, "state": state.value, "created": True}


def free_compartment(session: Session, size: str | None, zone: str | None,
                     unavailable: Collection[int] = ()) -> int | None:
    """The smallest empty compartment of the zone that the size fits in, with no hold (cold chain, operator).

    `empty` excludes one that needs a check; `unavailable` names compartments whose board is down. One a
    live order still names is never given out again (e.g. emptied by a volunteer after a door fault).
    """
    fits = SIZES[SIZES.index(size):] if size is not None else SIZES
    rows = session.execute(
        select(Compartment.id, Compartment.size).where(
            Compartment.status == Slot.EMPTY.value, Compartment.blocked_reason.is_(None),
            Compartment.zone.is_(None) if zone is None else Compartment.zone == zone, Compartment.size.in_(fits),
        )
    ).all()  # fmt: skip
    taken = set(session.scalars(
        select(Order.compartment_id).where(Order.state.in_(LIVE), Order.compartment_id.is_not(None))))
    candidates = sorted((SIZES.index(s), c) for c, s in rows if c not in unavailable and c not in taken)
    return candidates[0][1] if candidates else None


def assign(session: Session, order_id: int, *, actor: str = "system", unavailable: Collection[int] = ()) -> int | None:
    """Keep a compartment for an announced order: the one the platform named, else a free one that fits.

    Returns the compartment, or None when none is free now (the order stays announced; the pick-up
    service tries again).
    """
    order = session.get_one(Order, order_id)
    if order.state != OrderState.ANNOUNCED.value:
        return order.compartment_id
    if order.wanted_compartment is not None:
        chosen: int | None = order.wanted_compartment
        if owner.status(session, order.wanted_compartment) is not Slot.EMPTY or owner.blocked_reason(
            session, order.wanted_compartment
        ) is not None:
            return None
    else:
        chosen = free_compartment(session, order.size, order.zone, unavailable)
        if chosen is None:
            return None
    assert chosen is not None
    owner.assign_to_order(session, chosen, subject(order_id), actor=actor)
    order.compartment_id = chosen
    session.flush()
    transition(session, ORDER, order_id, OrderState.ASSIGNED, actor=actor, compartment=chosen)
    return chosen


def waiting_for_compartment(session: Session) -> list[int]:
    """Announced orders, oldest first (assignment is tried again when a compartment frees up)."""
    return list(session.scalars(
        select(Order.id).where(Order.state == OrderState.ANNOUNCED.value).order_by(Order.id)
    ))  # fmt: skip


def cancel(session: Session, external_id: str, *, actor: str, reason: str | None = None,
           reference: str | None = None) -> dict[str, Any]:
    """Cancelled: before loading it ends (its compartment is free again); once loaded it expires (to go back)."""
    order = session.execute(select(Order.id, Order.state, Order.compartment_id)
                            .where(Order.external_id == external_id)).first()  # fmt: skip
    if order is None:
        raise OrderError("unknown_order", f"no order {external_id!r}")
    state = OrderState(order.state)
    if state in (OrderState.CANCELLED, OrderState.EXPIRED):
        return {"external_id": external_id, "state": order.state, "changed": False}
    if state is OrderState.LOADED:
        transition(session, ORDER, order.id, OrderState.EXPIRED, actor=actor, reason="remote", reference=reference,
                   why=reason or "cancelled by the platform", cancelled=True)
        return {"external_id": external_id, "state": OrderState.EXPIRED.value, "changed": True}
    if not ORDER.allows(state, OrderState.CANCELLED):
        raise OrderError("order_state", f"order {external_id!r} is {order.state}: it cannot be cancelled any more")
    if order.compartment_id is not None:
        owner.order_unassigned(session, order.compartment_id, subject(order.id), actor=actor)
    transition(session, ORDER, order.id, OrderState.CANCELLED, actor=actor, reason="remote", reference=reference,
               why=reason)
    return {"external_id": external_id, "state": OrderState.CANCELLED.value, "changed": True}


def by_external_id(session: Session, external_id: str) -> Order | None:
    return session.scalar(select(Order).where(Order.external_id == external_id))
