"""Compartments: their status (one owner, `owner.py`), their contents and what is on offer."""

from .contents import Offer, StockError, load, offers, remove_all
from .flow import COMPARTMENT, Slot
from .owner import CompartmentError

__all__ = ["COMPARTMENT", "CompartmentError", "Offer", "Slot", "StockError", "load", "offers", "remove_all"]
