"""What may be done with orders: announce (from the platform) and cancel. Runs in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..compartments import owner
from ..db.models import Order
from ..db.types import utcnow
from ..flows.engine import created, transition
from .flow import ORDER, OrderState


class OrderError(ValueError):
    """A change the order does not allow; `code` is machine-readable (unknown_order, order_state, ...)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def announce(
    session: Session,
    external_id: str,
    *,
    kind: str,
    actor: str,
    compartment_id: int | None = None,
    amount_due_cents: int = 0,
    expires_at: datetime | None = None,
    code_hmac: str | None = None,
    details: dict[str, Any] | None = None,
    reference: str | None = None,
) -> dict[str, Any]:
    """A new order (idempotent on `external_id`: a repeat answers the existing order, `created` False)."""
    existing = session.execute(select(Order.id, Order.state).where(Order.external_id == external_id)).first()
    if existing is not None:
        return {"order_id": existing.id, "external_id": external_id, "state": existing.state, "created": False}
    if compartment_id is not None:
        try:
            owner.status(session, compartment_id)
        except owner.CompartmentError:
            raise OrderError("unknown_compartment", f"no compartment {compartment_id}") from None
    order_id = session.execute(
        insert(Order).values(external_id=external_id, kind=kind, compartment_id=compartment_id, code_hmac=code_hmac,
                             state=OrderState.ANNOUNCED.value, amount_due_cents=amount_due_cents, created_at=utcnow(),
                             expires_at=expires_at, details=details or {}).returning(Order.id)
    ).scalar_one()
    created(session, ORDER, order_id, actor=actor, reason="remote", reference=reference)
    return {"order_id": order_id, "external_id": external_id, "state": OrderState.ANNOUNCED.value, "created": True}


def cancel(session: Session, external_id: str, *, actor: str, reason: str | None = None,
           reference: str | None = None) -> dict[str, Any]:
    order = session.execute(select(Order.id, Order.state).where(Order.external_id == external_id)).first()
    if order is None:
        raise OrderError("unknown_order", f"no order {external_id!r}")
    if order.state == OrderState.CANCELLED:
        return {"external_id": external_id, "state": order.state, "changed": False}
    if not ORDER.allows(OrderState(order.state), OrderState.CANCELLED):
        raise OrderError("order_state", f"order {external_id!r} is {order.state}: it cannot be cancelled any more")
    transition(session, ORDER, order.id, OrderState.CANCELLED, actor=actor, reason="remote", reference=reference,
               why=reason)
    return {"external_id": external_id, "state": OrderState.CANCELLED.value, "changed": True}
