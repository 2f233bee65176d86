"""Deposit returns at the station: the return session flow and its service (the machine protocol is `deposit/`)."""

from .flow import FINAL, RETURN, ReturnState
from .service import DepositError, DepositService

__all__ = ["FINAL", "RETURN", "DepositError", "DepositService", "ReturnState"]
