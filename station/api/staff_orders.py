"""Orders and parcels for couriers, producers, volunteers and operators: list, announce, load, drop, return.

Couriers (role `courier`, their own Kennnummer and PIN or badge) load what the platform announced
and drop parcels; volunteers also take back orders nobody collected; operators may announce orders
here too (the platform normally does it with `create_order`). Codes are taken in clear only to be
stored as keyed hashes; no answer ever contains a code or its hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import Order
from ..orders import NewOrder, OrderError
from ..orders.flow import OrderState
from ..pickup import credentials
from ..pickup.credentials import Kind
from .errors import responses
from .pickup import DoorStepOut, door_step, order_error, pickup_service
from .staff_auth import Loader, Operator, Volunteer

router = APIRouter(prefix="/staff", tags=["orders"])

ExternalId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                                 description="the platform's order or parcel id (for a parcel: its label)")]
Size = Literal["S", "M", "L", "XL"]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    external_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: Literal["order", "parcel"] = "order"
    size: Size | None = Field(default=None, description="smallest compartment size it fits in")
    zone: str | None = Field(default=None, min_length=1, max_length=64, description="temperature zone; none: ambient")
    compartment: int | None = Field(default=None, ge=1, le=9999, description="use this compartment")
    customer_ref: str | None = Field(default=None, max_length=64)
    items: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    expires_at: Annotated[AwareDatetime, Field(strict=False)] | None = Field(
        default=None, description="valid until, ISO 8601 with time zone; then a volunteer takes it back")
    pickup_code: str | None = Field(default=None, pattern=r"^\d{10,16}$", description="typed code, 10-16 digits")
    qr_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{22,86}$", description="≥ 128 bits")
    card_uid: str | None = Field(default=None, pattern=r"^([0-9A-Fa-f]{2}){4,10}$", description="customer card")


class ParcelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    external_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                             description="the parcel's label (tracking number)")
    size: Size = Field(description="the smallest compartment size it fits in")
    customer_ref: str | None = Field(default=None, max_length=64, description="recipient, as the label names it")


class OrderOut(BaseModel):
    """An order or parcel as staff see it (never a code or its hash)."""

    external_id: str
    kind: Literal["order", "parcel"]
    state: Literal["announced", "assigned", "loading", "loaded", "collecting", "collected", "expired",
                   "returning", "returned", "cancelled"]
    compartment: int | None = Field(description="assigned compartment (none while announced)")
    size: str | None
    zone: str | None
    customer_ref: str | None
    items: list[Any]
    expires_at: datetime | None
    loaded_by: str | None
    loaded_at: datetime | None
    collected_at: datetime | None


def _out(order: Order) -> OrderOut:
    return OrderOut(external_id=order.external_id, kind=order.kind, state=order.state,  # type: ignore[arg-type]
                    compartment=order.compartment_id, size=order.size, zone=order.zone,
                    customer_ref=order.customer_ref, items=order.items or [], expires_at=order.expires_at,
                    loaded_by=order.loaded_by, loaded_at=order.loaded_at, collected_at=order.picked_up_at)


@router.get("/orders", operation_id="staff_orders", response_model=list[OrderOut],
            responses=responses(401, 403, 422, 503),
            summary="Orders and parcels, newest first (filter by state, e.g. `assigned` to load, `expired`)")
async def list_orders(live: Loader, request: Request,
                      state: Annotated[list[OrderState] | None, Query(description="only these states")] = None,
                      limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[OrderOut]:
    query = select(Order).order_by(Order.id.desc()).limit(limit)
    if state:
        query = query.where(Order.state.in_([s.value for s in state]))
    rows = await pickup_service(request).db.read(lambda s: [_out(o) for o in s.scalars(query)])
    return list(rows)


@router.get("/orders/{external_id}", operation_id="staff_order", response_model=OrderOut,
            responses=responses(401, 403, 404, 422, 503), summary="One order or parcel")
async def get_order(external_id: ExternalId, live: Loader, request: Request) -> OrderOut:
    def read(session: Session) -> OrderOut | None:
        order = session.scalar(select(Order).where(Order.external_id == external_id))
        return _out(order) if order is not None else None

    found = await pickup_service(request).db.read(read)
    if found is None:
        raise order_error(OrderError("unknown_order", f"Die Sendung {external_id} kennt die Station nicht"))
    return found


@router.post("/orders", operation_id="staff_order_announce", response_model=OrderOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503),
             summary="Announce an order (operators; the platform uses `create_order`); assigned at once if one fits")
async def announce(body: OrderIn, live: Operator, request: Request) -> OrderOut:
    service = pickup_service(request)
    secret = service.staff.secret

    def digest(kind: Kind, value: str | None) -> str | None:
        return credentials.digest(secret, kind, value) if value is not None else None

    new = NewOrder(body.external_id, kind=body.kind, size=body.size, zone=body.zone, customer_ref=body.customer_ref,
                   items=body.items, compartment_id=body.compartment, expires_at=body.expires_at,
                   code_hmac=digest(Kind.CODE, body.pickup_code), qr_hmac=digest(Kind.QR, body.qr_token),
                   card_hmac=digest(Kind.CARD, body.card_uid))  # fmt: skip
    try:
        await service.announce(new, actor=live.actor)
    except OrderError as exc:
        raise order_error(exc) from None
    return await get_order(body.external_id, live, request)


@router.post("/orders/{external_id}/load", operation_id="staff_order_load", response_model=DoorStepOut,
             responses=responses(401, 403, 404, 409, 422, 503),
             summary="Open the order's compartment to load it (waits for the door); `opened`: it counts as loaded")
async def load(external_id: ExternalId, live: Loader, request: Request) -> DoorStepOut:
    """Put the order in and shut the door. `not_opened`: try again (the order stays assigned)."""
    try:
        return door_step(await pickup_service(request).load(external_id, actor=live.actor))
    except OrderError as exc:
        raise order_error(exc) from None


@router.post("/parcels", operation_id="staff_parcel_drop", response_model=DoorStepOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503),
             summary="Drop a parcel: a free compartment of its size opens; the platform is told (`order.loaded`)")
async def drop_parcel(body: ParcelIn, live: Loader, request: Request) -> DoorStepOut:
    """409 `not_available` when no compartment of that size (or larger) is free."""
    new = NewOrder(body.external_id, kind="parcel", size=body.size, customer_ref=body.customer_ref)
    try:
        return door_step(await pickup_service(request).drop_parcel(new, actor=live.actor))
    except OrderError as exc:
        raise order_error(exc) from None


@router.post("/orders/{external_id}/return", operation_id="staff_order_return", response_model=DoorStepOut,
             responses=responses(401, 403, 404, 409, 422, 503),
             summary="Take an expired order out of its compartment (volunteers): `opened` means it goes back")
async def take_back(external_id: ExternalId, live: Volunteer, request: Request) -> DoorStepOut:
    try:
        return door_step(await pickup_service(request).take_back(external_id, actor=live.actor))
    except OrderError as exc:
        raise order_error(exc) from None
