"""Volunteers, operators and couriers: accounts, PIN and badge log-in, sessions, throttling."""

from . import admin
from .accounts import Account, AccountError, Role, actor_for
from .errors import StaffError
from .service import LiveSession, LoginResult, StaffService

__all__ = [
    "Account",
    "AccountError",
    "LiveSession",
    "LoginResult",
    "Role",
    "StaffError",
    "StaffService",
    "actor_for",
    "admin",
]
