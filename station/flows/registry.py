"""Every flow on the engine, for the documentation and the tests that hold each one to its table."""

from __future__ import annotations

from typing import Any

from .engine import Flow


def all_flows() -> list[Flow[Any]]:
    """Imported here, not at module load: the flow modules import the engine."""
    from ..coldchain.transitions import BLOCK
    from ..compartments.flow import COMPARTMENT
    from ..lockwall.doors import DOOR
    from ..orders.flow import ORDER
    from ..purchase.flow import SALE
    from ..restock.flow import RESTOCK
    from ..staff.sessions import SESSION

    return [SALE, DOOR, COMPARTMENT, BLOCK, ORDER, RESTOCK, SESSION]
