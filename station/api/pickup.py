"""Customers collect orders and parcels: a typed code or a scanned QR / signed offline code, or their NFC card.

No log-in: the credential is the authorisation. Typed codes are throttled per keypad and per
station (5 failures: 1 minute pause, 10: 15 minutes, 20 in 24 hours: locked with an operator
alarm); scanned tokens and cards are counted apart, so a vandal typing codes cannot lock them out.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ..orders import OrderError
from ..pickup import DoorStep, PickupService
from ..staff import StaffError
from .errors import ApiError, responses
from .staff_auth import BadgeUid, Keypad

router = APIRouter(prefix="/pickup", tags=["pickup"])


class CollectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: Annotated[str, Field(min_length=1, max_length=1024, description=(
        "what was typed on the keypad (10-16 digits, the Abholcode) or scanned by the 2D scanner into the same "
        "field (a QR token, or a signed offline code `PU1.…`, possibly passed on to a neighbour)"))]


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    uid: BadgeUid | None = Field(default=None, description="simulated stations only: the card's UID, as if tapped")


class DoorStepOut(BaseModel):
    """What happened at the door: show `message`; `outcome` `opened` means the order is being taken out."""

    external_id: str = Field(description="the platform's order or parcel id")
    kind: Literal["order", "parcel"]
    compartment: int = Field(description="the number printed on the door")
    outcome: Literal["opened", "not_opened", "door_fault"] = Field(description=(
        "`opened`: the door opened; `not_opened`: nothing was sent, try again; `door_fault`: pulsed but never "
        "seen open (the compartment needs a check, call the operator)"))
    state: str = Field(description="the order's state now (collected, loaded, returned, expired, ...)")
    message: str = Field(description="German sentence for the screen, e.g. `Fach 3 ist offen – …`")


def pickup_service(request: Request) -> PickupService:
    station = request.app.state.station
    service = station.component("pickup") if station is not None else None
    if service is None:
        raise ApiError(503, "unavailable", "Abholen ist an dieser Station nicht eingerichtet")
    return service


def order_error(exc: Exception) -> ApiError:
    error = ApiError.from_service(exc)
    retry = getattr(exc, "retry_after_s", None)
    if retry:
        error.headers = {"Retry-After": str(retry)}
    return error


def door_step(step: DoorStep) -> DoorStepOut:
    return DoorStepOut(external_id=step.external_id, kind=step.kind,  # type: ignore[arg-type]
                       compartment=step.compartment, outcome=step.outcome,  # type: ignore[arg-type]
                       state=step.state, message=step.message)


@router.post("/collect", operation_id="pickup_collect", response_model=DoorStepOut,
             responses=responses(400, 401, 403, 404, 409, 422, 429, 503),
             summary="Collect an order with its pick-up code, QR token or signed offline code")
async def collect(body: CollectIn, request: Request, keypad: Keypad = "kiosk") -> DoorStepOut:
    """Opens the order's compartment (waits until the door opened or did not). A wrong code answers 401
    `wrong_code`; a used one 409 `order_state`; too many wrong codes 429 with `Retry-After`."""
    try:
        return door_step(await pickup_service(request).collect(body.code, keypad))
    except (OrderError, StaffError) as exc:  # StaffError: a keypad the station does not know
        raise order_error(exc) from None


@router.post("/card", operation_id="pickup_card", response_model=DoorStepOut,
             responses=responses(400, 401, 403, 404, 409, 422, 429, 503),
             summary="Collect an order with the customer's NFC card (the tap on the reader)")
async def card(body: CardIn, request: Request) -> DoorStepOut:
    """The last tap on the reader (at most `[staff] badge_tap_valid_s` old) is used once; 409 `no_badge`
    when there is none."""
    try:
        return door_step(await pickup_service(request).collect_card(body.uid))
    except OrderError as exc:
        raise order_error(exc) from None
