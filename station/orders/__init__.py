"""Orders and parcels for pick-up: the order flow and what may be done with an order."""

from .flow import ORDER, OrderState
from .service import NewOrder, OrderError, announce, cancel

__all__ = ["ORDER", "NewOrder", "OrderError", "OrderState", "announce", "cancel"]
