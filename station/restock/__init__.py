"""Restocking: a volunteer opens a compartment, records goods in and out with their dates, closes it."""

from .flow import PURPOSES, REMOVAL_REASONS, RESTOCK, RestockState
from .service import RestockService, RestockView

__all__ = ["PURPOSES", "REMOVAL_REASONS", "RESTOCK", "RestockService", "RestockState", "RestockView"]
