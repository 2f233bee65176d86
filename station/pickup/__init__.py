"""Pick-up of orders and parcels: loading, collection by code, QR, card or signed offline code, return."""

from .offline import OfflineVerifier
from .service import DoorStep, PickupService

__all__ = ["DoorStep", "OfflineVerifier", "PickupService"]
