"""Buying from the touchscreen: offers, start a purchase, follow it live, cancel before paying."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import date
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from ..compartments import offers
from ..db.models import Sale
from ..purchase import FINAL, PurchaseError
from ..purchase.apppay import UNAVAILABLE_TEXT
from ..vouchers import ledger as vouchers_ledger
from .errors import ApiError, responses
from .schema import WHOLE_FLOATS

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
    use_by: date | None = Field(default=None, description="use-by date: the goods leave sale at the start of it")
    marked_down: bool = Field(default=False, description="past its best-before date, sold at a reduced price")
    regular_price_cents: int | None = Field(default=None, description="the usual price when marked down")
    temperature_class: str
    min_age: int | None
    available: bool = Field(description="false while the compartment's board is not answering")


CompartmentNumber = Annotated[int, Field(ge=1, le=9999), WHOLE_FLOATS]  # as in the config's [[compartments]] id
VoucherCode = Annotated[str, Field(pattern=r"^[0-9]{13}$")]


class PurchaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # see schema.py
    compartments: list[CompartmentNumber] = Field(
        min_length=1,
        max_length=20,
        description="compartment numbers as on the doors, each at most once",
        json_schema_extra={"uniqueItems": True},
    )

    vouchers: list[VoucherCode] = Field(
        default_factory=list,
        max_length=5,
        description="voucher or credit codes (EAN-13) to pay with first; the card is asked for the rest only "
        "(not at all when they cover the total); redeemed only if goods are released",
        json_schema_extra={"uniqueItems": True},
    )

    pay_with: Literal["card", "app"] = Field(
        default="card",
        description="card: the terminal is asked at once; app: the answer carries a signed payment request to show "
        "as a QR code (`qr_url`), and the goods are released when the platform confirms it",
    )

    @field_validator("compartments")
    @classmethod
    def _each_once(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("each compartment may appear only once")
        return value

    @field_validator("vouchers")
    @classmethod
    def _each_voucher_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each voucher may appear only once")
        return value


class Message(BaseModel):
    at: float
    text: str


class ChangeVoucher(BaseModel):
    code: str
    amount_cents: int
    receipt_url: str | None


class AppRequest(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)
    schema_: str = Field(alias="schema", description="app-payment-request/1")
    body: str = Field(description="the request as JSON text: station_id, sale_id, amount_cents, currency, "
                      "min_age, issued_at, expires_at")
    sig: str = Field(description="base64 Ed25519 signature of the body's UTF-8 bytes (the station's app key)")


class PurchaseOut(BaseModel):
    sale_id: str
    state: str
    message: str | None = None
    messages: list[Message] = []
    total_cents: int | None = None
    booked_cents: int | None = None
    credit_cents: int | None = Field(default=None, description="vouchers applied (redeemed if goods are released)")
    card_cents: int | None = Field(default=None, description="what the card terminal is asked for (0: not at all)")
    receipt_id: str | None = Field(default=None, description="the digital receipt, once the purchase is done")
    receipt_url: str | None = Field(default=None, description="its page (show it as a QR code)")
    change: list[ChangeVoucher] = Field(default=[], description="a credit above the goods' value comes back as this")
    paid_by: str | None = Field(default=None, description="card, app or credit, once paid")
    min_age: int | None = Field(default=None, description="the highest minimum age of the goods (16 or 18)")
    age_proof: str | None = Field(default=None, description="what proved the age: customer_card or app")
    app_request: AppRequest | None = Field(default=None, description="while waiting for the app: the signed "
                                           "payment request (what the QR code carries)")
    qr_url: str | None = Field(default=None, description="the QR code of `app_request` as SVG")


class PaymentMethods(BaseModel):
    card: bool = Field(description="the card terminal is there")
    app: bool = Field(description="paying by app works now (it needs the link to the platform)")
    age_proofs: list[str] = Field(description="ways to prove an age here: customer_card, app (terminal: not "
                                  "offered, the terminal reports no age)")
    message: str | None = Field(default=None, description="what to tell the shopper when the app is not usable")


SaleId = Annotated[str, Path(min_length=1, max_length=64, description="the sale_id POST /api/purchases answered")]


# Each server-sent event's `data` is a PurchaseOut as JSON (OpenAPI 3.1: contentMediaType/contentSchema).
EVENT_SCHEMA = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/PurchaseOut"},
        },
    },
}
# The sale_id of a started purchase leads to its other routes (documented, and followed by stateful tests).
SALE_LINKS = {
    name: {"operationId": operation, "parameters": {"sale_id": "$response.body#/sale_id"}}
    for name, operation in (("GetPurchase", "get_purchase"), ("PurchaseEvents", "purchase_events"),
                            ("CancelPurchase", "cancel_purchase"))
}  # fmt: skip


def _service(request: Request) -> Any:
    service = request.app.state.station.purchases if request.app.state.station else None
    if service is None:
        raise ApiError(503, "unavailable", "Kartenzahlung ist an dieser Station nicht eingerichtet")
    return service


@router.get(
    "/offers",
    operation_id="get_offers",
    response_model=list[OfferOut],
    responses=responses(),
    summary="What is for sale now",
)
async def get_offers(request: Request) -> Response:
    station = request.app.state.station
    clock = getattr(station, "clock", None)  # the station's day decides what is past its date
    found = await station.db.read(partial(offers, today=clock.today() if clock else None))
    down = set(station.lockwall.unavailable_compartments()) if station.lockwall else set()
    rows = [
        {"compartment": o.compartment, "name": o.name, "gtin": o.gtin, "quantity": o.quantity,
         "price_cents": o.price_cents, "deposit_cents": o.deposit_cents, "total_cents": o.total_cents,
         "best_before": o.best_before, "use_by": o.use_by, "marked_down": o.marked_down,
         "regular_price_cents": o.regular_price_cents if o.marked_down else None,
         "temperature_class": o.temperature_class, "min_age": o.min_age, "available": o.compartment not in down}
        for o in found
    ]  # fmt: skip
    # Checked and written as JSON in one pass of pydantic's core: every screen polls this for every
    # compartment, and a model object per offer (checked again by FastAPI) cost the event loop twice that.
    return Response(_OFFERS.dump_json(_OFFERS.validate_python(rows)), media_type="application/json")


_OFFERS = TypeAdapter(list[OfferOut])


@router.post(
    "/purchases",
    operation_id="start_purchase",
    status_code=202,
    response_model=PurchaseOut,
    responses={
        202: {"description": "Started: follow it with the links", "links": SALE_LINKS},
        **responses(400, 403, 404, 409, 422, 429, 503),
    },
    summary="Start a purchase: reserve the compartments, apply vouchers, ask the card (or the app) for the rest",
)
async def start_purchase(body: PurchaseIn, request: Request) -> PurchaseOut:
    service = _service(request)
    try:
        if body.pay_with == "app":
            sale_id = await service.begin(body.compartments, body.vouchers, pay_with="app")
        else:
            sale_id = await (service.begin(body.compartments, body.vouchers) if body.vouchers
                             else service.begin(body.compartments))
    except PurchaseError as exc:
        raise ApiError.from_service(exc) from None
    return await get_purchase(sale_id, request)


@router.get(
    "/purchases/{sale_id}",
    operation_id="get_purchase",
    response_model=PurchaseOut,
    responses=responses(404, 422, 503),
    summary="A purchase's state and what to tell the shopper",
)
async def get_purchase(sale_id: SaleId, request: Request) -> PurchaseOut:
    service = _service(request)
    sale = await service.db.read(lambda s: s.get(Sale, sale_id))
    if sale is None:
        raise ApiError(404, "not_found", "Diesen Kauf gibt es nicht")
    live = service.board.get(sale_id)
    data = live.as_dict() if live else {"sale_id": sale_id, "messages": [], "message": None}
    data.update(state=sale.state, total_cents=sale.total_cents, booked_cents=sale.booked_cents,
                credit_cents=getattr(sale, "credit_cents", None), card_cents=getattr(sale, "card_cents", None),
                paid_by=sale.paid_by, min_age=sale.min_age, age_proof=sale.age_proof)
    if sale.state == "app_requested":
        data["app_request"] = await service.db.read(lambda s: service.app.request_in(s, sale_id))
        data["qr_url"] = f"/api/purchases/{sale_id}/qr.svg"
    desk = getattr(request.app.state.station, "receipts", None)
    if desk is not None and sale.state in FINAL:
        data.update(await service.db.read(lambda s: _receipts_of(s, desk, sale_id)))
    return PurchaseOut.model_validate(data)


def _receipts_of(session: Any, desk: Any, sale_id: str) -> dict[str, Any]:
    receipt = desk.for_reference(session, sale_id, "purchase")
    change = []
    for voucher in vouchers_ledger.change_of(session, sale_id):
        voucher_receipt = desk.for_reference(session, voucher.id, "deposit_voucher")
        change.append({"code": voucher.code, "amount_cents": voucher.amount_cents,
                       "receipt_url": None if voucher_receipt is None else desk.url(voucher_receipt.id)})
    return {"receipt_id": None if receipt is None else receipt.id,
            "receipt_url": None if receipt is None else desk.url(receipt.id), "change": change}


@router.get(
    "/purchases/{sale_id}/events",
    operation_id="purchase_events",
    summary="Live progress as server-sent events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "`data:` lines, each a PurchaseOut as JSON, until the purchase ends or ~10 minutes pass",
            "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
        },
        **responses(404, 422, 503),
    },
)
async def purchase_events(sale_id: SaleId, request: Request) -> StreamingResponse:
    service = _service(request)
    first = await get_purchase(sale_id, request)

    async def stream() -> AsyncIterator[str]:
        version = -1
        yield f"data: {first.model_dump_json()}\n\n"
        if first.state in FINAL:  # nothing more will happen: do not keep the connection open
            return
        for _ in range(600):  # at most ~10 minutes per connection; the browser reconnects
            item = await service.board.wait_change(sale_id, version, 1.0)
            if item is None:
                return
            if item.version != version:
                version = item.version
                yield f"data: {json.dumps(item.as_dict())}\n\n"
                if item.state in FINAL:
                    return
            if await request.is_disconnected():
                return

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.post(
    "/purchases/{sale_id}/cancel",
    operation_id="cancel_purchase",
    response_model=PurchaseOut,
    responses=responses(404, 409, 422, 503),
    summary="Cancel a purchase before the card is paid",
)
async def cancel_purchase(sale_id: SaleId, request: Request) -> PurchaseOut:
    service = _service(request)
    try:
        await service.cancel(sale_id)
    except PurchaseError as exc:
        raise ApiError.from_service(exc) from None
    return await get_purchase(sale_id, request)


@router.get(
    "/purchases/{sale_id}/qr.svg",
    operation_id="purchase_qr",
    summary="The QR code of a purchase's app payment request",
    response_class=Response,
    responses={200: {"description": "SVG; its content is the signed request as JSON text",
                     "content": {"image/svg+xml": {"schema": {"type": "string"}}}}, **responses(404, 422, 503)},
)
async def purchase_qr(sale_id: SaleId, request: Request) -> Response:
    service = _service(request)
    sale = await service.db.read(lambda s: s.get(Sale, sale_id))
    signed = await service.db.read(lambda s: service.app.request_in(s, sale_id)) if sale else None
    if sale is None or sale.state != "app_requested" or signed is None:
        raise ApiError(404, "not_found", "Für diesen Kauf gibt es keine offene App-Zahlung")
    return Response(app_qr_svg(signed), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def app_qr_svg(signed: dict[str, str]) -> bytes:
    """The QR code (error correction M, SVG) of the signed request's compact JSON."""
    import segno  # on first use: megabytes an idle station does not need

    buffer = io.BytesIO()
    segno.make(json.dumps(signed, separators=(",", ":")), error="m").save(buffer, kind="svg", scale=4,
                                                                        xmldecl=False)
    return buffer.getvalue()


@router.get(
    "/payment-methods",
    operation_id="payment_methods",
    response_model=PaymentMethods,
    responses=responses(503),
    summary="How the shopper can pay right now, and which proofs of age count",
)
async def payment_methods(request: Request) -> PaymentMethods:
    service = _service(request)
    app = bool(service.app.available())
    return PaymentMethods(card=True, app=app, age_proofs=["customer_card", *(["app"] if app else [])],
                          message=None if app else UNAVAILABLE_TEXT)
