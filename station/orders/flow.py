"""The order flow (orders and parcels waiting for pick-up), persisted in `orders.state`.

    announced ──► cancelled ■

The platform announces an order over the command channel and may cancel it. Assignment,
loading and collection are added by the pick-up work on this same table.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Order
from ..flows.engine import Arrow, Flow


class OrderState(enum.StrEnum):
    ANNOUNCED = "announced"
    CANCELLED = "cancelled"


def _payload(session: Session, order_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    order = session.execute(
        select(Order.external_id, Order.kind, Order.compartment_id, Order.amount_due_cents, Order.expires_at)
        .where(Order.id == order_id)
    ).one()
    return {
        "order_id": order_id,
        "external_id": order.external_id,
        "kind": order.kind,
        "compartment_id": order.compartment_id,
        "amount_due_cents": order.amount_due_cents,
        "expires_at": order.expires_at.isoformat() if order.expires_at else None,
        **details,
    }


ORDER = Flow(
    name="order",
    table=Order.__table__,  # type: ignore[arg-type]
    model=Order,
    states=OrderState,
    arrows=[
        Arrow(None, OrderState.ANNOUNCED, "the platform announced it", event="order.created"),
        Arrow(OrderState.ANNOUNCED, OrderState.CANCELLED, "the platform cancelled it", event="order.cancelled"),
    ],
    final=frozenset({OrderState.CANCELLED}),
    resting=frozenset({OrderState.ANNOUNCED}),
    recovery={},
    payload=_payload,
    stamp=None,
)
