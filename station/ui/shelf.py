"""Every compartment of the wall as the buy screen shows it: for sale, sold out, blocked, ...

`GET /api/offers` lists only what can be bought; the grid also shows the doors that cannot, and
why, so a shopper sees "Ausverkauft" instead of a gap. Prices and products stay in the offers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..coldchain.transitions import blocked_compartments
from ..db.models import Compartment, CompartmentStatus
from ..stock import offers

ShelfState = Literal["for_sale", "sold_out", "reserved", "blocked", "needs_check", "unavailable"]


class ShelfCompartment(BaseModel):
    compartment: int
    size: str
    zone: str | None
    state: ShelfState


def _state(comp: Compartment, cold_blocked: set[int], unreachable: set[int], sellable: set[int]) -> ShelfState:
    if comp.id in cold_blocked:
        return "needs_check"  # cold-chain alarm: the goods wait for a volunteer's corrective action
    if comp.status in (CompartmentStatus.BLOCKED, CompartmentStatus.OUT_OF_ORDER, CompartmentStatus.OPEN):
        return "blocked"
    if comp.id in unreachable:
        return "unavailable"  # its lock board does not answer
    if comp.status == CompartmentStatus.RESERVED:
        return "reserved"
    if comp.id in sellable:
        return "for_sale"
    return "sold_out"


def shelf(session: Session, configured: Iterable[int], unreachable: Iterable[int]) -> list[ShelfCompartment]:
    """The configured compartments in door order with their state (run inside `Database.read`)."""
    wanted = set(configured)
    cold_blocked = blocked_compartments(session)
    down = set(unreachable)
    sellable = {offer.compartment for offer in offers(session)}
    rows = session.scalars(select(Compartment).where(Compartment.id.in_(wanted)).order_by(Compartment.id))
    return [
        ShelfCompartment(compartment=c.id, size=c.size, zone=c.zone, state=_state(c, cold_blocked, down, sellable))
        for c in rows
    ]
