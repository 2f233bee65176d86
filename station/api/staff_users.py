"""Operators' routes at the station: accounts (add, disable, new PIN, badge) and log-in locks.

A volunteer's or courier's session gets 403 `forbidden` on every route here. The same rules hold as
for `station users` on the command line and the platform's signed commands (staff/admin.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ..staff import Account, Role, StaffError, admin
from .errors import responses
from .staff_auth import BadgeUid, Operator, Pin, api_error, staff_service

router = APIRouter(prefix="/staff", tags=["staff: operators"])

AccountId = Annotated[int, Path(ge=1, le=999_999, description="the account's number (Kennnummer)")]


class AccountOut(BaseModel):
    id: int
    name: str
    role: Literal["volunteer", "operator", "courier"]
    active: bool
    has_pin: bool
    has_badge: bool
    external_id: str | None
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    enrolment_pending: bool


class NewAccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=120)
    role: Literal["volunteer", "operator", "courier"] = "volunteer"
    pin: Pin | None = Field(default=None, description="typed by the new person at the kiosk")
    badge: Literal["none", "tap"] = Field(default="none", description="tap: the badge just tapped on the reader")
    uid: BadgeUid | None = None


class DisableIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str | None = Field(default=None, min_length=1, max_length=200)


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    pin: Pin


class BadgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    remove: bool = Field(default=False, description="true: the account loses its badge")
    uid: BadgeUid | None = None


class LockOut(BaseModel):
    scope: str = Field(description="keypad:<id>, pin:<account>, reader:<name>, badge:<account>; pick-up: "
                       "pickup-keypad:<id>, pickup-station:all, pickup-scanner:<id>")
    in_a_row: int
    failures_24h: int
    paused_until: datetime | None
    locked_since: datetime | None


class UnlockIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    scope: str = Field(pattern=r"^(keypad|pin|reader|badge|pickup-keypad|pickup-station|pickup-scanner)"
                       r":[A-Za-z0-9_.-]{1,64}$")


class UnlockOut(BaseModel):
    scope: str
    changed: bool


def _out(account: Account) -> AccountOut:
    return AccountOut.model_validate(account.as_dict())


async def _do(work: Any) -> Any:
    try:
        return await work
    except StaffError as exc:
        raise api_error(exc) from None


@router.get("/users", operation_id="staff_users", response_model=list[AccountOut],
            responses=responses(401, 403, 503), summary="Every account (operators)")
async def users(live: Operator, request: Request) -> list[AccountOut]:
    return [_out(a) for a in await admin.list_accounts(staff_service(request))]


@router.post("/users", operation_id="staff_user_add", response_model=AccountOut, status_code=201,
             responses=responses(400, 401, 403, 409, 422, 503), summary="Add an account (operators)")
async def add_user(body: NewAccountIn, live: Operator, request: Request) -> AccountOut:
    """Operators need a PIN and a badge; others a PIN or a badge."""
    work = admin.add(staff_service(request), live, name=body.name, role=Role(body.role), pin=body.pin,
                     badge_uid=body.uid, use_tap=body.badge == "tap")  # fmt: skip
    return _out(await _do(work))


@router.post("/users/{account_id}/disable", operation_id="staff_user_disable", response_model=AccountOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503), summary="Disable an account (operators)")
async def disable_user(account_id: AccountId, body: DisableIn, live: Operator, request: Request) -> AccountOut:
    return _out(await _do(admin.disable(staff_service(request), live, account_id, body.reason)))


@router.post("/users/{account_id}/pin", operation_id="staff_user_pin", response_model=AccountOut,
             responses=responses(400, 401, 403, 404, 422, 503),
             summary="Set a new PIN (operators; it also lifts the account's PIN lock)")
async def set_pin(account_id: AccountId, body: PinIn, live: Operator, request: Request) -> AccountOut:
    return _out(await _do(admin.reset_pin(staff_service(request), live, account_id, body.pin)))


@router.post("/users/{account_id}/badge", operation_id="staff_user_badge", response_model=AccountOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503),
             summary="Bind the badge just tapped to an account, or remove its badge (operators)")
async def set_badge(account_id: AccountId, body: BadgeIn, live: Operator, request: Request) -> AccountOut:
    work = admin.set_badge(staff_service(request), live, account_id, badge_uid=body.uid, remove=body.remove)
    return _out(await _do(work))


@router.get("/locks", operation_id="staff_locks", response_model=list[LockOut], responses=responses(401, 403, 503),
            summary="Keypads, readers and accounts with failed log-ins, pauses or locks (operators)")
async def locks(live: Operator, request: Request) -> list[LockOut]:
    return [LockOut.model_validate(row) for row in await admin.locks(staff_service(request))]


@router.post("/locks/unlock", operation_id="staff_unlock", response_model=UnlockOut,
             responses=responses(400, 401, 403, 422, 503), summary="Lift a log-in lock or pause (operators)")
async def unlock(body: UnlockIn, live: Operator, request: Request) -> UnlockOut:
    changed = await admin.unlock(staff_service(request), live, body.scope)
    return UnlockOut(scope=body.scope, changed=changed)
