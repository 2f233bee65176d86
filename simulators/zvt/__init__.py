"""Simulated unattended card terminal speaking ZVT (TCP and serial from one core).

    sim = ZvtSimulator(seed=7)
    url = await sim.start_tcp()          # or: path = await sim.start_pty()
    sim.script_next(Outcome.DECLINE)     # the next card is declined
    ... station pays ...
    assert sim.ledger.count("payment", "booked") == 1

Default behaviour: amounts ending in 99 cents are declined (05), amounts above 1000 EUR too (C3),
everything else is approved; receipt and trace numbers count up from 1.
"""

from .channels import SerialFaults, TcpFaults
from .ledger import CARDS, Ledger, Transaction
from .script import Outcome, Script, SimConfig
from .server import ZvtSimulator

__all__ = [
    "CARDS",
    "Ledger",
    "Outcome",
    "Script",
    "SerialFaults",
    "SimConfig",
    "TcpFaults",
    "Transaction",
    "ZvtSimulator",
]
