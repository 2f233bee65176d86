"""Byte-exact simulator of Kerong lock boards (CU16 and CU48) with a door model and fault knobs."""

from .board import BoardFaults, SimBoard
from .bus import LockBusSimulator
from .door import SimLock

__all__ = ["BoardFaults", "LockBusSimulator", "SimBoard", "SimLock"]
