"""Simulated deposit return machine (interface v1) with a scripted shopper; see `bus.DepositBusSimulator`."""

from .bus import DepositBusSimulator
from .machine import Container, InsertResult, SimFaults, SimulatedDepositMachine
from .shopper import CATALOGUE, FeedReport, Shopper, demo_gtin

__all__ = [
    "CATALOGUE",
    "Container",
    "DepositBusSimulator",
    "FeedReport",
    "InsertResult",
    "Shopper",
    "SimFaults",
    "SimulatedDepositMachine",
    "demo_gtin",
]
