"""Every compartment of the wall as the buy screen shows it: for sale, sold out, blocked, ...

`GET /api/offers` lists only what can be bought; the grid also shows the doors that cannot, and
why, so a shopper sees "Ausverkauft" instead of a gap. Prices and products stay in the offers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..compartments import offers
from ..compartments.flow import Slot
from ..db.models import Compartment

ShelfState = Literal["for_sale", "sold_out", "reserved", "occupied", "blocked", "needs_check", "unavailable"]
_IN_USE = {Slot.RESTOCKING, Slot.ASSIGNED, Slot.HOLDING, Slot.COLLECTING}  # a volunteer's or an order's


class ShelfCompartment(BaseModel):
    compartment: int
    size: str
    zone: str | None
    state: ShelfState = Field(
        description="for_sale (see /api/offers), sold_out (empty), reserved (being bought), occupied (an order, "
        "a volunteer), blocked (cold chain, operator, out of service), needs_check (contents unknown or past "
        "their date: a volunteer checks), unavailable (its lock board does not answer)"
    )


def _state(comp: Compartment, unreachable: set[int], sellable: set[int]) -> ShelfState:
    status = Slot(comp.status)
    if comp.blocked_reason or status is Slot.OUT_OF_SERVICE:
        return "blocked"
    if status is Slot.NEEDS_CHECK:
        return "needs_check"
    if comp.id in unreachable:
        return "unavailable"
    if status is Slot.RESERVED:
        return "reserved"
    if status in _IN_USE:
        return "occupied"
    if comp.id in sellable:
        return "for_sale"
    # Loaded but not offered: goods past their date (or a product taken off the list) wait for a volunteer.
    return "needs_check" if status is Slot.LOADED else "sold_out"


def shelf(session: Session, configured: Iterable[int], unreachable: Iterable[int]) -> list[ShelfCompartment]:
    """The configured compartments in door order with their state (run inside `Database.read`)."""
    down = set(unreachable)
    sellable = {offer.compartment for offer in offers(session)}
    rows = session.scalars(select(Compartment).where(Compartment.id.in_(set(configured))).order_by(Compartment.id))
    return [ShelfCompartment(compartment=c.id, size=c.size, zone=c.zone, state=_state(c, down, sellable)) for c in rows]
