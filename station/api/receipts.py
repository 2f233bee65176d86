"""Digital receipts: the page a QR code leads to, its data as JSON, the QR code itself, and printing on request.

Receipt ids are 128 random bits (`station/printing/desk.py`): the page may show payment data, so
it is reachable only by whoever holds the link (the shopper's screen or paper).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from ..printing.html import qr_svg
from ..vouchers import VoucherError
from ..vouchers.receipt import KIND as VOUCHER_RECEIPT
from .errors import ApiError, responses

router = APIRouter(tags=["receipts"])

ReceiptId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{22}$", description="the receipt's id (22 URL-safe characters, 128 bits)")
]
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


class ReceiptOut(BaseModel):
    receipt_id: str
    kind: str = Field(description="purchase, deposit_voucher, pickup, restock_report, end_of_day")
    reference: str | None = Field(description="what it is the receipt of: a sale, a voucher, an order")
    created_at: datetime
    url: str = Field(description="the page (what the QR code holds)")
    print_state: str | None = Field(description="the newest print job: queued, sending, printed, unconfirmed, "
                                                "expired; null: never printed")
    data: dict[str, Any] = Field(description="the template data, as the printed receipt was rendered from it")


class PrintOut(BaseModel):
    receipt_id: str
    job_id: str


def _desk(request: Request) -> Any:
    station = request.app.state.station
    desk = getattr(station, "receipts", None) if station is not None else None
    if desk is None:
        raise ApiError(503, "unavailable", "Digitale Belege sind an dieser Station nicht eingerichtet")
    return desk


async def _receipt(request: Request, receipt_id: str) -> tuple[Any, Any]:
    desk = _desk(request)
    receipt = await request.app.state.station.db.read(lambda s: desk.get(s, receipt_id))
    if receipt is None:
        raise ApiError(404, "not_found", "Diesen Beleg gibt es nicht")
    return desk, receipt


@router.get(
    "/receipts/{receipt_id}",
    operation_id="receipt_page",
    response_class=Response,  # the page is text/html (below); errors stay JSON ErrorOut
    responses={200: {"description": "The receipt as a page", "content": {"text/html": {"schema": {"type": "string"}}}},
               **responses(404, 422, 503)},
    summary="The digital receipt (what the QR code on the screen or on paper opens)",
)
async def receipt_page(receipt_id: ReceiptId, request: Request) -> HTMLResponse:
    desk, receipt = await _receipt(request, receipt_id)
    return HTMLResponse(desk.html(receipt), headers=NO_STORE)


@router.get("/receipts/{receipt_id}/data", operation_id="receipt_data", response_model=ReceiptOut,
            responses=responses(404, 422, 503), summary="The digital receipt's data as JSON")
async def receipt_data(receipt_id: ReceiptId, request: Request) -> ReceiptOut:
    desk, receipt = await _receipt(request, receipt_id)
    print_state = await request.app.state.station.db.read(lambda s: desk.print_state(s, receipt_id))
    return ReceiptOut(receipt_id=receipt.id, kind=receipt.kind, reference=receipt.reference,
                      created_at=receipt.created_at, url=desk.url(receipt.id), print_state=print_state,
                      data=receipt.data)


@router.get(
    "/receipts/{receipt_id}/qr",
    operation_id="receipt_qr",
    response_class=Response,
    responses={200: {"description": "A QR code (SVG) holding the receipt's URL, for the screen",
                     "content": {"image/svg+xml": {"schema": {"type": "string"}}}},
               **responses(404, 422, 503)},
    summary="The receipt's QR code",
)
async def receipt_qr(receipt_id: ReceiptId, request: Request) -> Response:
    desk, receipt = await _receipt(request, receipt_id)
    return Response(qr_svg(desk.url(receipt.id)), media_type="image/svg+xml", headers=NO_STORE)


@router.post("/receipts/{receipt_id}/print", operation_id="print_receipt", status_code=202, response_model=PrintOut,
             responses=responses(404, 409, 422, 503), summary="Print the receipt (a pending print is reused)")
async def print_receipt(receipt_id: ReceiptId, request: Request) -> PrintOut:
    desk, receipt = await _receipt(request, receipt_id)
    station = request.app.state.station
    printing = getattr(station, "printing", None)
    if printing is None or not desk.has_printer:
        raise ApiError(503, "unavailable", "An dieser Station ist kein Drucker eingerichtet")
    if receipt.kind == VOUCHER_RECEIPT:  # only a voucher that can still be redeemed is printed again
        vouchers = getattr(station, "vouchers", None)
        if vouchers is None:
            raise ApiError(503, "unavailable", "Pfandbons gibt es an dieser Station nicht")
        try:
            result = await vouchers.reprint(receipt.data["code"])
        except VoucherError as exc:
            raise ApiError.from_service(exc) from None
        return PrintOut(receipt_id=result["receipt_id"], job_id=result["job_id"])
    job_id = await station.db.write(lambda s: desk.enqueue(s, receipt_id, actor="shopper"))
    printing.wake()
    return PrintOut(receipt_id=receipt_id, job_id=job_id)
