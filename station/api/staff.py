"""Volunteers' routes: log-in (PIN, badge, enrolment code), log-out, who am I, tasks, catalogue,
corrective actions of the cold chain, the end-of-day report.

Authentication and roles: see `staff_auth.py`. Restocking: `staff_restock.py`. Operators' account
and lock management: `staff_users.py`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ..db.models import Product
from ..restock.service import PERISHABLE
from ..staff import LiveSession, LoginResult, StaffError
from .errors import ApiError, responses
from .schema import WHOLE_FLOATS
from .staff_auth import (
    SESSION_COOKIE,
    BadgeUid,
    Current,
    Keypad,
    Pin,
    Volunteer,
    api_error,
    staff_service,
)

router = APIRouter(prefix="/staff", tags=["staff"])


# -- models ------------------------------------------------------------------------------------------
class PinLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    account_id: Annotated[int, Field(ge=1, le=999_999, description="the person's number (Kennnummer)"), WHOLE_FLOATS]
    pin: Pin


class BadgeLoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    pin: Pin | None = Field(default=None, description="operators: required; volunteers: checked when given")
    uid: BadgeUid | None = None


class EnrolIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: str = Field(pattern=r"^\d{10,16}$", description="the one-time enrolment code from the platform")
    pin: Pin


class PersonOut(BaseModel):
    id: int
    name: str
    role: Literal["volunteer", "operator", "courier"]


class SessionOut(BaseModel):
    session_id: int
    person: PersonOut
    method: Literal["pin", "badge", "badge+pin", "enrolment"]
    keypad: str
    started_at: datetime
    expires_at: datetime = Field(description="when the session ends unless another request comes first")
    idle_timeout_s: float


class LoginOut(SessionOut):
    token: str = Field(description="send it back as the X-Staff-Session header (or use the cookie set here)")


class TapOut(BaseModel):
    tap_waiting: bool = Field(description="a badge was tapped on the reader and not used yet: call login/badge")


class TaskOut(BaseModel):
    code: str = Field(description="machine code, e.g. goods.use_by_reached, compartment.needs_check")
    subject: str
    where: str
    what: str
    todo: str
    since: datetime
    severity: Literal["info", "warning", "critical"]
    compartment: int | None


class ProductOut(BaseModel):
    gtin: str
    name: str
    price_cents: int
    temperature_class: str
    needs_date: bool = Field(description="perishable: a use-by or best-before date must be given when loading")
    past_best_before_price_cents: int | None


class CorrectiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    compartment: Annotated[int, Field(ge=1, le=9999), WHOLE_FLOATS]
    action: Literal["discarded", "kept"]
    reason: str | None = Field(default=None, min_length=1, max_length=200, description="kept: why it is safe")
    measured_c: Annotated[float, Field(strict=False, ge=-40, le=40)] | None = Field(
        default=None, description="kept: the product temperature measured now, °C"
    )


class CorrectiveOut(BaseModel):
    compartment: int
    action: str
    by: str
    by_name: str | None = None
    reason: str | None
    measured_c: float | None
    status: str
    discarded: list[dict[str, Any]]


# -- log-in and session ------------------------------------------------------------------------------------
def _session_out(live: LiveSession, idle_s: float) -> dict[str, Any]:
    return {
        "session_id": live.id,
        "person": {"id": live.account.id, "name": live.account.name, "role": str(live.role)},
        "method": live.method,
        "keypad": live.keypad,
        "started_at": live.started_at,
        "expires_at": live.last_seen + timedelta(seconds=idle_s),
        "idle_timeout_s": idle_s,
    }


def _logged_in(request: Request, response: Response, result: LoginResult) -> LoginOut:
    idle = staff_service(request).settings.session_idle_s
    response.set_cookie(SESSION_COOKIE, result.token, httponly=True, samesite="strict", path="/api/staff")
    return LoginOut(token=result.token, **_session_out(result.session, idle))


LOGIN = responses(400, 401, 403, 409, 422, 429, 503)


@router.post("/login/pin", operation_id="staff_login_pin", response_model=LoginOut, responses=LOGIN,
             summary="Log in with Kennnummer and PIN (volunteers, couriers)")
async def login_pin(body: PinLoginIn, request: Request, response: Response, keypad: Keypad = "kiosk") -> LoginOut:
    try:
        result = await staff_service(request).login_pin(body.account_id, body.pin, keypad)
    except StaffError as exc:
        raise api_error(exc) from None
    return _logged_in(request, response, result)


@router.post("/login/badge", operation_id="staff_login_badge", response_model=LoginOut, responses=LOGIN,
             summary="Log in with the badge just tapped on the reader (operators: plus PIN)")
async def login_badge(body: BadgeLoginIn, request: Request, response: Response,
                      keypad: Keypad = "kiosk") -> LoginOut:
    """Uses the last tap on the station's NFC reader (at most `[staff] badge_tap_valid_s` old, used once).
    `uid` instead of a tap is accepted only on a simulated station (403 `simulation_only` otherwise)."""
    try:
        result = await staff_service(request).login_badge(body.uid, body.pin, keypad)
    except StaffError as exc:
        raise api_error(exc) from None
    return _logged_in(request, response, result)


@router.post("/enrol", operation_id="staff_enrol", response_model=LoginOut, responses=LOGIN,
             summary="Turn a one-time enrolment code from the platform into one's own PIN, and log in")
async def enrol(body: EnrolIn, request: Request, response: Response, keypad: Keypad = "kiosk") -> LoginOut:
    try:
        result = await staff_service(request).enrol(body.code, body.pin, keypad)
    except StaffError as exc:
        raise api_error(exc) from None
    return _logged_in(request, response, result)


@router.get("/badge", operation_id="staff_badge_tap", response_model=TapOut, responses=responses(503),
            summary="Whether a badge tap waits to be used for a log-in")
async def badge_tap(request: Request) -> TapOut:
    return TapOut(tap_waiting=staff_service(request).has_fresh_tap())


@router.post("/logout", operation_id="staff_logout", status_code=204, responses=responses(401, 503),
             summary="End the session")
async def logout(live: Current, request: Request, response: Response) -> Response:
    await staff_service(request).logout(live)
    answer = Response(status_code=204)
    answer.delete_cookie(SESSION_COOKIE, path="/api/staff")
    return answer


@router.get("/me", operation_id="staff_me", response_model=SessionOut, responses=responses(401, 503),
            summary="Who is logged in, and until when")
async def me(live: Current, request: Request) -> SessionOut:
    return SessionOut(**_session_out(live, staff_service(request).settings.session_idle_s))


# -- tasks and catalogue --------------------------------------------------------------------------------------
def reports_service(request: Request) -> Any:
    service = request.app.state.station.component("reports")
    if service is None:
        raise ApiError(503, "unavailable", "Aufgaben und Berichte sind an dieser Station nicht eingerichtet")
    return service


@router.get("/tasks", operation_id="staff_tasks", response_model=list[TaskOut], responses=responses(401, 403, 503),
            summary="What needs a person now (closes by itself when done)")
async def tasks(live: Volunteer, request: Request) -> list[TaskOut]:
    return [TaskOut(**t.as_dict()) for t in await reports_service(request).tasks()]


@router.get("/products", operation_id="staff_products", response_model=list[ProductOut],
            responses=responses(401, 403, 503), summary="The active catalogue, to choose or scan goods from")
async def products(live: Volunteer, request: Request) -> list[ProductOut]:
    rows = await request.app.state.station.db.read(
        lambda s: list(s.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.name)))
    )
    return [ProductOut(gtin=p.gtin, name=p.name, price_cents=p.price_cents, temperature_class=p.temperature_class,
                       needs_date=p.temperature_class in PERISHABLE,
                       past_best_before_price_cents=p.past_best_before_price_cents) for p in rows]  # fmt: skip


# -- cold chain ---------------------------------------------------------------------------------------------------
COLD_CHAIN_TEXTS = [  # (part of the service's message, status, German)
    ("is not blocked", 409, "Dieses Fach ist nicht wegen der Kühlung gesperrt"),
    ("no compartment", 404, "Dieses Fach gibt es nicht"),
    ("needs a reason", 422, "Zum Behalten bitte einen Grund angeben"),
    ("measured product temperature", 422, "Zum Behalten bitte die gemessene Temperatur der Ware angeben"),
    ("discard the goods", 422, "Die gemessene Temperatur liegt über dem Grenzwert – die Ware bitte entsorgen"),
    ("unknown now", 422, "Die Temperatur der Kühlzone ist gerade unbekannt – die Ware kann nicht behalten werden"),
    ("fix the fridge first", 422, "Die Kühlzone ist noch zu warm – erst das Gerät in Ordnung bringen oder entsorgen"),
]


def _cold_chain_error(exc: Exception) -> ApiError:
    text = str(exc)
    for part, status, german in COLD_CHAIN_TEXTS:
        if part in text:
            code = {409: "not_available", 404: "not_found", 422: "invalid"}[status]
            return ApiError(status, code, german)
    return ApiError(422, "invalid", f"Korrekturmaßnahme nicht möglich ({text})")


@router.post("/corrective-actions", operation_id="staff_corrective_action", response_model=CorrectiveOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503),
             summary="Record a cold-chain corrective action: discarded, or kept with reason and measured °C")
async def corrective_action(body: CorrectiveIn, live: Volunteer, request: Request) -> CorrectiveOut:
    coldchain = request.app.state.station.coldchain
    if coldchain is None:
        raise ApiError(503, "unavailable", "An dieser Station gibt es keine Kühlung")
    from ..coldchain import ColdChainError

    try:
        payload = await coldchain.record_corrective_action(
            body.compartment, body.action, live.actor, body.reason, body.measured_c, name=live.account.name
        )
    except ColdChainError as exc:
        raise _cold_chain_error(exc) from None
    return CorrectiveOut.model_validate(payload)
