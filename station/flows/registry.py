"""Every flow on the engine, for the documentation and the tests that hold each one to its table."""

from __future__ import annotations

from typing import Any

from .engine import Flow


def all_flows() -> list[Flow[Any]]:
    """Imported here, not at module load: the flow modules import the engine."""
    from ..coldchain.transitions import BLOCK
    from ..compartments.flow import COMPARTMENT
    from ..deposit.flow import RETURN
    from ..lockwall.doors import DOOR
    from ..orders.flow import ORDER
    from ..printing.flow import PRINT_JOB
    from ..purchase.flow import SALE
    from ..purchase.refunds import REFUND
    from ..restock.flow import RESTOCK
    from ..staff.sessions import SESSION
    from ..vouchers.flow import VOUCHER

    return [SALE, DOOR, COMPARTMENT, BLOCK, ORDER, RETURN, VOUCHER, PRINT_JOB, RESTOCK, SESSION, REFUND]
