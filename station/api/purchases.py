"""Buying from the touchscreen: offers, start a purchase, follow it live, cancel before paying."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..compartments import offers
from ..db.models import Sale

router = APIRouter(tags=["buying"])


class OfferOut(BaseModel):
    compartment: int
    name: str
    gtin: str
    quantity: int
    price_cents: int
    deposit_cents: int
    total_cents: int = Field(description="what the whole compartment costs, deposit included")
    best_before: date | None
    temperature_class: str
    min_age: int | None
    available: bool = Field(description="false while the compartment's board is not answering")


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compartments: list[int] = Field(min_length=1, max_length=20, description="compartment numbers as on the doors")


class Message(BaseModel):
    at: float
    text: str


class PurchaseOut(BaseModel):
    sale_id: str
    state: str
    message: str | None = None
    messages: list[Message] = []
    total_cents: int | None = None
    booked_cents: int | None = None


class ErrorOut(BaseModel):
    error: str
    message: str


def _service(request: Request) -> Any:
    service = request.app.state.station.purchases if request.app.state.station else None
    if service is None:
        raise HTTPException(503, {"error": "unavailable", "message": "Kartenzahlung ist nicht eingerichtet"})
    return service


def _error(exc: Exception) -> HTTPException:
    code = getattr(exc, "code", "invalid")
    status = {"busy": 409, "not_available": 409, "too_late": 409, "not_found": 404}.get(code, 422)
    return HTTPException(status, {"error": code, "message": str(exc)})


@router.get("/offers", response_model=list[OfferOut], summary="What is for sale now")
async def get_offers(request: Request) -> list[OfferOut]:
    station = request.app.state.station
    found = await station.db.read(offers)
    down = set(station.lockwall.unavailable_compartments()) if station.lockwall else set()
    return [
        OfferOut(
            compartment=o.compartment,
            name=o.name,
            gtin=o.gtin,
            quantity=o.quantity,
            price_cents=o.price_cents,
            deposit_cents=o.deposit_cents,
            total_cents=o.total_cents,
            best_before=o.best_before,
            temperature_class=o.temperature_class,
            min_age=o.min_age,
            available=o.compartment not in down,
        )
        for o in found
    ]


@router.post(
    "/purchases",
    status_code=202,
    response_model=PurchaseOut,
    responses={409: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    summary="Start a purchase: reserve the compartments and ask for the card",
)
async def start_purchase(body: PurchaseIn, request: Request) -> PurchaseOut:
    from ..purchase import PurchaseError

    service = _service(request)
    try:
        sale_id = await service.begin(body.compartments)
    except PurchaseError as exc:
        raise _error(exc) from None
    return await get_purchase(sale_id, request)


@router.get(
    "/purchases/{sale_id}",
    response_model=PurchaseOut,
    responses={404: {"model": ErrorOut}},
    summary="A purchase's state and what to tell the shopper",
)
async def get_purchase(sale_id: str, request: Request) -> PurchaseOut:
    service = _service(request)
    sale = await service.db.read(lambda s: s.get(Sale, sale_id))
    if sale is None:
        raise HTTPException(404, {"error": "not_found", "message": "no such purchase"})
    live = service.board.get(sale_id)
    data = live.as_dict() if live else {"sale_id": sale_id, "messages": [], "message": None}
    data.update(state=sale.state, total_cents=sale.total_cents, booked_cents=sale.booked_cents)
    return PurchaseOut.model_validate(data)


@router.get(
    "/purchases/{sale_id}/events",
    summary="Live progress as server-sent events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def purchase_events(sale_id: str, request: Request) -> StreamingResponse:
    service = _service(request)
    first = await get_purchase(sale_id, request)

    async def stream() -> AsyncIterator[str]:
        version = -1
        yield f"data: {first.model_dump_json()}\n\n"
        for _ in range(600):  # at most ~10 minutes per connection; the browser reconnects
            item = await service.board.wait_change(sale_id, version, 1.0)
            if item is None:
                return
            if item.version != version:
                version = item.version
                yield f"data: {json.dumps(item.as_dict())}\n\n"
            if await request.is_disconnected():
                return

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.post(
    "/purchases/{sale_id}/cancel",
    response_model=PurchaseOut,
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
    summary="Cancel a purchase before the card is paid",
)
async def cancel_purchase(sale_id: str, request: Request) -> PurchaseOut:
    from ..purchase import PurchaseError

    service = _service(request)
    try:
        await service.cancel(sale_id)
    except PurchaseError as exc:
        raise _error(exc) from None
    return await get_purchase(sale_id, request)
