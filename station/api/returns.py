"""Returning bottles from the touchscreen: start a return, follow the count live, finish, choose the pay-out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..deposit import FINAL
from ..deposit.service import DepositError
from .errors import ApiError, responses

router = APIRouter(tags=["returning"])


class Amounts(BaseModel):
    single_use_cents: int
    reusable_cents: int
    crate_cents: int


class DepositStatusOut(BaseModel):
    ready: bool = Field(description="a return can start now")
    reason: str | None = Field(description="why not (German, for the screen)")
    machine_state: str | None = Field(description="ready, session, busy, bin_full, fault, out_of_order; null: silent")
    current_return_id: str | None
    donation_recipient: str | None = Field(description="offer 'donate' with this name; null: no donation here")
    amounts: Amounts


class ReturnItemOut(BaseModel):
    kind: Literal["single_use", "reusable", "crate"]
    label: str
    count: int
    deposit_cents: int = Field(description="paid per container of this line")


class ReturnVoucherOut(BaseModel):
    voucher_id: str
    code: str = Field(description="EAN-13 printed as the barcode; typed or scanned at the till")
    amount_cents: int
    medium: Literal["paper", "credit"]
    state: str
    receipt_id: str | None
    receipt_url: str | None = Field(description="the digital voucher (show it as a QR code)")
    print_state: str | None = Field(description="queued, sending, printed, unconfirmed, expired; null: not printed")


class ReturnOut(BaseModel):
    return_id: str
    state: Literal["open", "counting", "choosing", "voucher", "credit", "donated", "cancelled"]
    count: int
    total_cents: int
    items: list[ReturnItemOut]
    choice: str | None
    vouchers: list[ReturnVoucherOut]
    message: str | None = None
    created_at: str


class ChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    choice: Literal["voucher", "credit", "donation"] = Field(
        description="voucher: printed Pfandbon · credit: spend it at this station now · donation: give it away"
    )


ReturnId = Annotated[str, Path(min_length=1, max_length=64, description="the return_id POST /api/returns answered")]
EVENT_SCHEMA = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": {"$ref": "#/components/schemas/ReturnOut"}},
    },
}  # fmt: skip
RETURN_LINKS = {
    name: {"operationId": operation, "parameters": {"return_id": "$response.body#/return_id"}}
    for name, operation in (("GetReturn", "get_return"), ("ReturnEvents", "return_events"),
                            ("FinishReturn", "finish_return"), ("ChooseReturn", "choose_return"))
}  # fmt: skip


def _service(request: Request) -> Any:
    station = request.app.state.station
    service = getattr(station, "deposit", None) if station is not None else None
    if service is None:
        raise ApiError(503, "unavailable", "Leergut-Rückgabe ist an dieser Station nicht eingerichtet")
    return service


async def _call(coro: Any) -> Any:
    try:
        return await coro
    except DepositError as exc:
        raise ApiError.from_service(exc) from None


@router.get("/deposit", operation_id="get_deposit_status", response_model=DepositStatusOut,
            responses=responses(503), summary="The return machine: can a return start now, and what it shows")
async def get_deposit_status(request: Request) -> DepositStatusOut:
    return DepositStatusOut.model_validate(_service(request).status())


@router.post(
    "/returns",
    operation_id="start_return",
    status_code=202,
    response_model=ReturnOut,
    responses={202: {"description": "Started: follow it with the links", "links": RETURN_LINKS},
               **responses(409, 503)},
    summary="Start a return: the machine opens its intake",
)
async def start_return(request: Request) -> ReturnOut:
    service = _service(request)
    return_id = await _call(service.begin())
    return ReturnOut.model_validate(await _call(service.view(return_id)))


@router.get("/returns/{return_id}", operation_id="get_return", response_model=ReturnOut,
            responses=responses(404, 422, 503), summary="A return: containers so far, total, pay-out")
async def get_return(return_id: ReturnId, request: Request) -> ReturnOut:
    return ReturnOut.model_validate(await _call(_service(request).view(return_id)))


@router.get(
    "/returns/{return_id}/events",
    operation_id="return_events",
    summary="Live count as server-sent events",
    response_class=StreamingResponse,
    responses={
        200: {"description": "`data:` lines, each a ReturnOut as JSON, until the return is settled or ~10 minutes "
              "pass; a client that does not accept text/event-stream gets the current view once",
              "content": {"text/event-stream": {"schema": EVENT_SCHEMA}}},
        **responses(404, 422, 503),
    },
)
async def return_events(return_id: ReturnId, request: Request) -> StreamingResponse:
    service = _service(request)
    first = await get_return(return_id, request)

    # A browser's EventSource asks for text/event-stream and gets the live count; any other client gets the
    # current view once (a counting return can last minutes: nothing should hang on it by accident).
    live = "text/event-stream" in request.headers.get("accept", "")

    async def stream() -> AsyncIterator[str]:
        yield f"data: {first.model_dump_json()}\n\n"
        if first.state in FINAL or not live:
            return
        version = (service.board.get(return_id) or {}).get("version", 0)
        for _ in range(600):  # at most ~10 minutes per connection; the browser reconnects
            view = await service.board.wait_change(return_id, version, 1.0)
            if view is not None and view["version"] != version:
                version = view["version"]
                yield f"data: {json.dumps(ReturnOut.model_validate(view).model_dump(mode='json'))}\n\n"
                if view["state"] in FINAL:
                    return
            if await request.is_disconnected():
                return

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.post("/returns/{return_id}/finish", operation_id="finish_return", response_model=ReturnOut,
             responses=responses(404, 409, 422, 503),
             summary="The shopper is done: close the intake; the total is then final")
async def finish_return(return_id: ReturnId, request: Request) -> ReturnOut:
    return ReturnOut.model_validate(await _call(_service(request).finish(return_id)))


@router.post("/returns/{return_id}/choice", operation_id="choose_return", response_model=ReturnOut,
             responses=responses(400, 404, 409, 422, 503),
             summary="Pay out: a printed voucher, a credit for a purchase now, or a donation")
async def choose_return(return_id: ReturnId, body: ChoiceIn, request: Request) -> ReturnOut:
    return ReturnOut.model_validate(await _call(_service(request).choose(return_id, body.choice)))
