"""The compartment's status and its arrow table: what a compartment is being used for right now.

Blocks (cold chain, operator) are not a status: they are holds on top of any status, kept in
`compartment_holds` and summarised in `compartments.blocked_reason` (see `owner.py`). A blocked
compartment is neither sold nor handed out, whatever its status.

    empty ──restock──► restocking ──contents recorded──► loaded | empty
    loaded ──sale──► reserved ──released──► empty
                         │ ──not released──► loaded
                         └─ ──maybe opened / door fault──► needs_check
    empty ──order──► assigned ──loaded──► holding ──pick-up──► collecting ──► empty | holding | needs_check
    any at rest ──door forced, maybe opened──► needs_check ──a person records the contents──► loaded | empty | holding
    any at rest ──not configured, operator──► out_of_service ──back──► needs_check
"""

from __future__ import annotations

import enum

from ..db.models import Compartment
from ..flows.engine import Arrow, Flow


class Slot(enum.StrEnum):
    EMPTY = "empty"
    LOADED = "loaded"  # goods for sale in it
    RESERVED = "reserved"  # its goods are being bought
    RESTOCKING = "restocking"  # opened for a volunteer (restock, clean, remove)
    ASSIGNED = "assigned"  # kept for an order or parcel not loaded yet
    HOLDING = "holding"  # an order or parcel waits in it for collection
    COLLECTING = "collecting"  # opened for a pick-up
    NEEDS_CHECK = "needs_check"  # contents unknown: a door may have opened unseen; not offered
    OUT_OF_SERVICE = "out_of_service"  # not configured, or taken out by an operator


AT_REST = frozenset(
    {Slot.EMPTY, Slot.LOADED, Slot.ASSIGNED, Slot.HOLDING, Slot.NEEDS_CHECK, Slot.OUT_OF_SERVICE}
)


def _arrows() -> list[Arrow[Slot]]:
    a: list[Arrow[Slot]] = [
        Arrow(None, Slot.EMPTY, "configured for the first time"),
        # restocking and cleaning by a volunteer
        *(Arrow(s, Slot.RESTOCKING, "opened by a volunteer") for s in (Slot.EMPTY, Slot.LOADED, Slot.NEEDS_CHECK)),
        # a volunteer's recording is also the check a needs_check compartment waited for
        Arrow(Slot.RESTOCKING, Slot.LOADED, "contents recorded, goods in it", clears="compartment.needs_check"),
        Arrow(Slot.RESTOCKING, Slot.EMPTY, "contents recorded, nothing in it", clears="compartment.needs_check"),
        # buying
        Arrow(Slot.LOADED, Slot.RESERVED, "goods reserved by a purchase", audit=False),
        Arrow(Slot.RESERVED, Slot.EMPTY, "the purchase released the goods", audit=False),
        Arrow(Slot.RESERVED, Slot.LOADED, "the purchase ended without opening it", audit=False),
        # goods removed from the outside (discarded by the cold chain, all taken out by a volunteer)
        Arrow(Slot.LOADED, Slot.EMPTY, "all goods removed"),
        Arrow(Slot.EMPTY, Slot.LOADED, "goods recorded in it"),
        # orders and parcels
        Arrow(Slot.EMPTY, Slot.ASSIGNED, "kept free for an order or parcel"),
        Arrow(Slot.ASSIGNED, Slot.EMPTY, "order cancelled before loading"),
        Arrow(Slot.ASSIGNED, Slot.HOLDING, "order or parcel loaded"),
        Arrow(Slot.HOLDING, Slot.COLLECTING, "opened for a pick-up", audit=False),
        Arrow(Slot.COLLECTING, Slot.EMPTY, "collected", audit=False),
        Arrow(Slot.COLLECTING, Slot.HOLDING, "did not open for the pick-up"),
        Arrow(Slot.HOLDING, Slot.EMPTY, "order taken back by a volunteer (returned)"),
    ]
    # contents unknown: an unconfirmed opening, a forced door, a door fault, a crash mid-restock
    for source in (Slot.EMPTY, Slot.LOADED, Slot.RESERVED, Slot.RESTOCKING, Slot.ASSIGNED, Slot.HOLDING,
                   Slot.COLLECTING):
        a.append(
            Arrow(
                source,
                Slot.NEEDS_CHECK,
                "contents unknown: not offered until a person records them",
                event="compartment.needs_check",
                alarm="compartment.needs_check",
            )
        )
    for target, why in ((Slot.LOADED, "checked: goods in it"), (Slot.EMPTY, "checked: empty"),
                        (Slot.HOLDING, "checked: the order is in it")):
        a.append(Arrow(Slot.NEEDS_CHECK, target, why, event="compartment.checked", clears="compartment.needs_check"))
    for source in [s for s in Slot if s in AT_REST and s is not Slot.OUT_OF_SERVICE]:  # enum order: stable docs
        a.append(Arrow(source, Slot.OUT_OF_SERVICE, "taken out of service", event="compartment.out_of_service"))
    a.append(Arrow(Slot.OUT_OF_SERVICE, Slot.NEEDS_CHECK, "back in service; contents unknown until checked",
                   event="compartment.needs_check", alarm="compartment.needs_check"))
    return a


COMPARTMENT = Flow(
    name="compartment",
    table=Compartment.__table__,  # type: ignore[arg-type]
    model=Compartment,
    states=Slot,
    state="status",
    arrows=_arrows(),
    final=frozenset(),
    resting=AT_REST,
    recovery={
        Slot.RESERVED: "the purchase holding it settles it; with no purchase left, back to loaded",
        Slot.RESTOCKING: "a crash between opening and recording the contents: needs_check",
        Slot.COLLECTING: "the pick-up holding it settles it; with none left, needs_check",
    },
    payload=lambda session, key, details: {"compartment": key, **details},
)

