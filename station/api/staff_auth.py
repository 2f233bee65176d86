"""How staff routes know who is asking: the session token, the keypad, and the role checks.

The token from a log-in comes back either in the `X-Staff-Session` header or in the `staff_session`
cookie (HttpOnly, SameSite=Strict, path /api/staff; the kiosk UI is served from the same origin).
A request without a valid, unexpired session gets 401; a volunteer on an operator's route gets
403. The keypad a PIN is typed on is named by the `X-Keypad` header (default `kiosk`; the ids a
station accepts are `[staff] keypads`): PIN guesses are throttled per keypad and per account.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader
from pydantic import BeforeValidator, Field

from ..staff import LiveSession, Role, StaffError, StaffService
from .errors import ApiError

SESSION_HEADER = "X-Staff-Session"
SESSION_COOKIE = "staff_session"
KEYPAD_HEADER = "X-Keypad"

_header = APIKeyHeader(
    name=SESSION_HEADER, auto_error=False, scheme_name="StaffSessionHeader",
    description="the `token` a log-in answered (the kiosk may use the cookie instead)",
)  # fmt: skip
_cookie = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, scheme_name="StaffSessionCookie",
    description="set by every log-in (HttpOnly, SameSite=Strict, path /api/staff), cleared by the log-out",
)  # fmt: skip

Keypad = Annotated[
    str,
    Header(alias=KEYPAD_HEADER, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
           description="which keypad the PIN was typed on (`[staff] keypads`); PIN guesses are throttled per keypad"),
]  # fmt: skip


def _date_text(value: Any) -> Any:
    """Dates come as ISO text only (`2026-12-24`), never as numbers."""
    if not isinstance(value, str):
        raise ValueError("a date is text such as 2026-12-24")
    return value


IsoDate = Annotated[date, Field(strict=False), BeforeValidator(_date_text)]
Pin = Annotated[str, Field(pattern=r"^\d{6,12}$", description="6-12 digits")]
BadgeUid = Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{2}){4,10}$",
                                description="simulated stations only: a badge UID in hex, as if tapped")]


def staff_service(request: Request) -> StaffService:
    station = request.app.state.station
    service = station.component("staff") if station is not None else None
    if service is None:
        raise ApiError(503, "unavailable", "Anmeldung ist an dieser Station nicht eingerichtet")
    return service


def api_error(exc: StaffError) -> ApiError:
    """The staff service's refusal as an answer; a throttle pause adds Retry-After."""
    error = ApiError.from_service(exc)
    if exc.retry_after_s:
        error.headers = {"Retry-After": str(exc.retry_after_s)}
    return error


async def current_session(
    request: Request,
    header: Annotated[str | None, Security(_header)] = None,
    cookie: Annotated[str | None, Security(_cookie)] = None,
) -> LiveSession:
    staff = staff_service(request)
    try:
        return await staff.authenticate(header or cookie)
    except StaffError as exc:
        raise api_error(exc) from None


Current = Annotated[LiveSession, Depends(current_session)]


def _needs(live: LiveSession, roles: tuple[Role, ...], what: str) -> LiveSession:
    if live.role not in roles:
        raise ApiError(403, "forbidden", f"{what} dürfen nur {' und '.join(_ROLE_WORDS[r] for r in roles)}")
    return live


_ROLE_WORDS = {Role.VOLUNTEER: "Ehrenamtliche", Role.OPERATOR: "Betreiber", Role.COURIER: "Lieferanten"}


async def volunteer_session(live: Current) -> LiveSession:
    """Volunteers and operators: restocking, tasks, corrective actions, reports."""
    return _needs(live, (Role.VOLUNTEER, Role.OPERATOR), "Das")


async def operator_session(live: Current) -> LiveSession:
    """Operators only: accounts and locks."""
    return _needs(live, (Role.OPERATOR,), "Das")


async def loader_session(live: Current) -> LiveSession:
    """Couriers, producers (courier role), volunteers and operators: loading orders and parcels."""
    return _needs(live, (Role.COURIER, Role.VOLUNTEER, Role.OPERATOR), "Das")


Volunteer = Annotated[LiveSession, Depends(volunteer_session)]
Loader = Annotated[LiveSession, Depends(loader_session)]
Operator = Annotated[LiveSession, Depends(operator_session)]
