"""What an operator does with accounts and locks at the station (the API's operator routes).

The same rules as `station users` on the command line and the platform's signed commands: a PIN
meets `pins.check_new_pin`, a badge belongs to one account, the last operator stays. Hashes are
computed on the `pin-hash` thread, the change is committed with its audit entry, and only then are
the sessions of a disabled account ended.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from . import accounts, throttle
from .accounts import Account, AccountError, Role
from .errors import StaffError
from .pins import PinRejected, check_new_pin
from .service import LiveSession, StaffService


def _checked_pin(pin: str) -> str:
    try:
        check_new_pin(pin)
    except PinRejected as exc:
        raise StaffError("weak_pin", str(exc)) from None
    return pin


async def _write(staff: StaffService, fn: Any) -> Any:
    try:
        return await staff.db.write(fn)
    except AccountError as exc:
        raise StaffError(exc.code, str(exc)) from None


async def add(staff: StaffService, by: LiveSession, *, name: str, role: Role, pin: str | None,
              badge_uid: str | None, use_tap: bool) -> Account:
    """A new account with a PIN and/or a badge (the reader's last tap, or a UID on a simulated station)."""
    pin_hash = await staff.hasher.hash(_checked_pin(pin)) if pin is not None else None
    badge_hash = None
    if use_tap or badge_uid is not None:
        uid = await staff.badge_uid(badge_uid)
        badge_hash = await staff.hasher.badge(uid)
        staff.consume_tap(uid)
    if role is Role.OPERATOR and (pin_hash is None or badge_hash is None):
        raise StaffError("invalid", "Ein Betreiberkonto braucht PIN und Ausweis")
    return await _write(staff, lambda s: accounts.add(s, name=name, role=role, actor=by.actor, pin_hash=pin_hash,
                                                      badge_hash=badge_hash))  # fmt: skip


async def disable(staff: StaffService, by: LiveSession, account_id: int, reason: str | None) -> Account:
    if account_id == by.account.id:
        raise StaffError("invalid", "Das eigene Konto kann man nicht sperren")
    account = await _write(staff, lambda s: accounts.disable(s, account_id, actor=by.actor, reason=reason))
    await staff.end_sessions_of(account_id, "account disabled")
    return account


async def reset_pin(staff: StaffService, by: LiveSession, account_id: int, pin: str) -> Account:
    """A new PIN (typed by its owner at the kiosk); it also lifts that account's PIN lock."""
    pin_hash = await staff.hasher.hash(_checked_pin(pin))

    def write(session: Session) -> Account:
        account = accounts.set_pin(session, account_id, pin_hash, actor=by.actor)
        throttle.unlock(session, throttle.pin_scope(account_id), actor=by.actor)
        return account

    return await _write(staff, write)


async def set_badge(staff: StaffService, by: LiveSession, account_id: int, *, badge_uid: str | None,
                    remove: bool) -> Account:
    """Bind the reader's last tap (or a simulated UID) to an account, or remove its badge."""
    badge_hash = None
    uid = None
    if not remove:
        uid = await staff.badge_uid(badge_uid)
        badge_hash = await staff.hasher.badge(uid)
    account = await _write(staff, lambda s: accounts.set_badge(s, account_id, badge_hash, actor=by.actor))
    if uid is not None:
        staff.consume_tap(uid)
    if remove:
        await staff.end_sessions_of(account_id, "badge removed")
    return account


async def unlock(staff: StaffService, by: LiveSession, scope: str) -> bool:
    return bool(await staff.db.write(lambda s: throttle.unlock(s, scope, actor=by.actor)))


async def locks(staff: StaffService) -> list[dict[str, Any]]:
    now = staff.clock.now()
    return await staff.db.read(lambda s: throttle.states(s, now))


async def list_accounts(staff: StaffService) -> list[Account]:
    return await staff.db.read(accounts.list_accounts)
