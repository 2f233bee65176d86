"""Buying: the persisted purchase state machine, its recovery, and live progress."""

from .service import PurchaseError, PurchaseService
from .states import FINAL, SaleState

__all__ = ["FINAL", "PurchaseError", "PurchaseService", "SaleState"]
