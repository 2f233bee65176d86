"""The order flow (orders and parcels waiting for pick-up), persisted in `orders.state`.

    announced ──fitting compartment free──► assigned ──door opened for loading──► loading
        │                                     │  ▲                                 │ door confirmed open
        ▼                                     ▼  └──── door did not open / restart ┤
    cancelled ■ ◄─────────────────────────────┘                                    ▼
                                    loaded ──code, QR, card or signed code──► collecting ──door opened──► collected ■
                                      │  ▲                                        │
                                      │  └──────────── door did not open ─────────┘
                                      │ past valid-until (or cancelled once loaded)
                                      ▼
                                   expired ──a volunteer opens it──► returning ──door opened──► returned ■
                                      ▲                                  │
                                      └────────── door did not open ─────┘

Every arrow that precedes a door pulse (`loading`, `collecting`, `returning`) is committed before
the pulse, together with the compartment's own move (`compartments.owner`). Parcels are orders of
kind `parcel`: a courier drops one into a free compartment of its size, the flow starts at
`announced` and runs on at once to `loaded`.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Order
from ..flows.engine import Arrow, Flow


class OrderState(enum.StrEnum):
    ANNOUNCED = "announced"  # known, no compartment free for it yet
    ASSIGNED = "assigned"  # a compartment is kept for it
    LOADING = "loading"  # its door is being opened for the courier
    LOADED = "loaded"  # waits in its compartment for the customer
    COLLECTING = "collecting"  # a credential was accepted; its door is being opened
    COLLECTED = "collected"
    EXPIRED = "expired"  # not collected in time: a volunteer takes it out
    RETURNING = "returning"  # its door is being opened for the volunteer
    RETURNED = "returned"
    CANCELLED = "cancelled"


St = OrderState
DOOR_STEPS = {St.LOADING: "loading", St.COLLECTING: "pickup", St.RETURNING: "return"}  # state -> door reason


def _payload(session: Session, order_id: Any, details: dict[str, Any]) -> dict[str, Any]:
    order = session.execute(
        select(Order.external_id, Order.kind, Order.compartment_id, Order.amount_due_cents, Order.expires_at,
               Order.customer_ref, Order.size, Order.zone)
        .where(Order.id == order_id)
    ).one()  # fmt: skip
    return {
        "order_id": order_id,
        "external_id": order.external_id,
        "kind": order.kind,
        "compartment_id": order.compartment_id,
        "amount_due_cents": order.amount_due_cents,
        "expires_at": order.expires_at.isoformat() if order.expires_at else None,
        "customer_ref": order.customer_ref,
        "size": order.size,
        "zone": order.zone,
        **details,
    }


ORDER = Flow(
    name="order",
    table=Order.__table__,  # type: ignore[arg-type]
    model=Order,
    states=OrderState,
    arrows=[
        Arrow(None, St.ANNOUNCED, "the platform announced it (or a courier dropped a parcel)", event="order.created"),
        Arrow(St.ANNOUNCED, St.ASSIGNED, "a free compartment that fits is kept for it", event="order.assigned"),
        Arrow(St.ANNOUNCED, St.CANCELLED, "the platform cancelled it, or it was not loaded by its valid-until",
              event="order.cancelled"),
        Arrow(St.ASSIGNED, St.CANCELLED, "cancelled by the platform, or not loaded by its valid-until",
              event="order.cancelled"),
        Arrow(St.ASSIGNED, St.LOADING, "door opening for loading committed before the pulse"),
        Arrow(St.LOADING, St.LOADED, "the door opened for the courier: it is in", event="order.loaded"),
        Arrow(St.LOADING, St.ASSIGNED, "the door did not open for loading (or a restart came first)"),
        Arrow(St.LOADED, St.COLLECTING, "a valid credential; door opening committed before the pulse"),
        Arrow(St.COLLECTING, St.COLLECTED, "the door opened for the customer", event="order.collected"),
        Arrow(St.COLLECTING, St.LOADED, "the door did not open: the credential stays valid"),
        Arrow(St.LOADED, St.EXPIRED, "past valid-until, or cancelled once loaded: a task for volunteers",
              event="order.expired"),
        Arrow(St.EXPIRED, St.RETURNING, "a volunteer takes it out; door opening committed before the pulse"),
        Arrow(St.RETURNING, St.RETURNED, "the door opened for the volunteer: it goes back", event="order.returned"),
        Arrow(St.RETURNING, St.EXPIRED, "the door did not open for the volunteer"),
    ],
    final=frozenset({St.COLLECTED, St.RETURNED, St.CANCELLED}),
    resting=frozenset({St.ANNOUNCED, St.ASSIGNED, St.LOADED, St.EXPIRED}),
    recovery={
        St.LOADING: "after the door recovery, its door operation decides: opened (or maybe opened) → loaded; "
        "none, failed or untouched → assigned (the courier loads again)",
        St.COLLECTING: "after the door recovery: opened, closed or maybe opened → collected (once); none or "
        "nothing sent → loaded; pulsed, never seen open → loaded and the compartment needs a check",
        St.RETURNING: "after the door recovery: opened → returned; otherwise expired (a volunteer tries again)",
    },
    payload=_payload,
)


def subject(order_id: int) -> str:
    """The door operations' reference for this order."""
    return f"order:{order_id}"
