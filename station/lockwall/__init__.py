"""The locker wall: compartments, their lock boards, and door supervision."""

from .doors import DoorOutcome, DoorResult, DoorState
from .service import LockWall

__all__ = ["DoorOutcome", "DoorResult", "DoorState", "LockWall"]
