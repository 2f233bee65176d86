"""The pick-up confirmation of an order: its digital receipt, and a print job when the station has a printer.

Called by the pick-up flow in the transaction that records the collection, so the confirmation
exists exactly when the collection does.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from ..db.models import Order
from ..db.types import utcnow
from ..receipts import PickupConfirmation
from .desk import ReceiptDesk

KIND = "pickup"


def create_pickup_receipt(
    session: Session, desk: ReceiptDesk, order_id: int, compartments: Sequence[int], *, items: Sequence[str] = (),
    queue: bool = True,
) -> tuple[str, str | None]:
    """Store the order's pick-up confirmation (and queue a print); returns (receipt id, print job id or None)."""
    order = session.get_one(Order, order_id)
    details = order.details or {}

    def build(url: str) -> PickupConfirmation:
        return PickupConfirmation(
            shop=desk.shop, order_number=order.external_id, at=order.picked_up_at or utcnow(),
            compartments=tuple(compartments), items=tuple(items or details.get("items", ())),
            recipient=details.get("recipient"), paid_cents=order.amount_due_cents or None, digital_receipt_url=url,
        )  # fmt: skip

    receipt_id = desk.create(session, KIND, build, reference=order.external_id)
    return receipt_id, desk.enqueue(session, receipt_id) if queue else None
