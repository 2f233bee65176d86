"""Buying: the purchase flow (`flow.py`), its side effects (`service.py`), recovery and end-of-day."""

from .flow import FINAL, SALE, SaleState
from .service import PurchaseError, PurchaseService

__all__ = ["FINAL", "SALE", "PurchaseError", "PurchaseService", "SaleState"]
