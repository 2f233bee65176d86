"""Vouchers at the touchscreen: check a typed or scanned code before using it, print a voucher again.

A voucher is spent by naming its code in `POST /api/purchases` (`vouchers`): the card is asked for
the rest only, and the voucher is redeemed only when the purchase releases goods.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ..vouchers import VoucherError
from .errors import ApiError, responses

router = APIRouter(tags=["vouchers"])

CODE_PATTERN = r"^[0-9][0-9 -]{11,18}[0-9]$"  # 13 digits as printed; people type spaces or dashes


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    code: str = Field(pattern=CODE_PATTERN, description="the voucher's 13-digit EAN-13, typed or scanned")


class VoucherOut(BaseModel):
    voucher_id: str
    code: str
    serial: str
    amount_cents: int = Field(description="what the voucher is worth (from the station's ledger, not the code)")
    state: Literal["issued", "held", "redeemed", "void"]
    redeemable: bool = Field(description="it can pay for a purchase now")
    medium: Literal["paper", "credit"]
    origin: str


class ReprintOut(BaseModel):
    voucher: VoucherOut
    receipt_id: str
    receipt_url: str
    job_id: str | None = Field(description="the print job (a pending one is reused: never two at a time)")


Code = Annotated[str, Path(pattern=CODE_PATTERN, description="the voucher's 13-digit code")]


def _service(request: Request) -> Any:
    station = request.app.state.station
    service = getattr(station, "vouchers", None) if station is not None else None
    if service is None:
        raise ApiError(503, "unavailable", "Pfandbons gibt es an dieser Station nicht")
    return service


def _answer(exc: VoucherError) -> ApiError:
    if exc.code == "not_found":  # the code names a voucher; its message says which kind of thing is missing
        return ApiError(404, "not_found", str(exc))
    return ApiError.from_service(exc)


def _voucher(data: dict[str, Any]) -> VoucherOut:
    return VoucherOut.model_validate({key: data[key] for key in VoucherOut.model_fields})


@router.post("/vouchers/check", operation_id="check_voucher", response_model=VoucherOut,
             responses=responses(400, 404, 422, 429, 503),
             summary="What a voucher is worth and whether it can pay now (changes nothing)")
async def check_voucher(body: CodeIn, request: Request) -> VoucherOut:
    try:
        found = await _service(request).check(body.code)
    except VoucherError as exc:
        raise _answer(exc) from None
    return _voucher(found.as_dict())


@router.post("/vouchers/{code}/print", operation_id="reprint_voucher", status_code=202, response_model=ReprintOut,
             responses=responses(404, 409, 422, 503),
             summary="Print a voucher again: the same code, so it still pays only once")
async def reprint_voucher(code: Code, request: Request) -> ReprintOut:
    try:
        result = await _service(request).reprint(code)
    except VoucherError as exc:
        raise _answer(exc) from None
    return ReprintOut(voucher=_voucher(result["voucher"]), receipt_id=result["receipt_id"],
                      receipt_url=result["receipt_url"], job_id=result["job_id"])
