"""Restocking from the touchscreen: open a compartment, record goods in (with dates) and out, close it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from ..restock import RestockService, RestockView
from ..restock.report import restock_report
from ..staff import StaffError
from .errors import ApiError, responses
from .schema import WHOLE_FLOATS
from .staff_auth import IsoDate, Volunteer, api_error

router = APIRouter(prefix="/staff/restocks", tags=["staff"])

RestockId = Annotated[int, Path(ge=1, le=2**31, description="the id POST /api/staff/restocks answered")]


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    compartment: Annotated[int, Field(ge=1, le=9999), WHOLE_FLOATS]
    purpose: Literal["restock", "clean"] = "restock"


class LoadIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    gtin: str = Field(pattern=r"^(\d{8}|\d{12,14})$", description="chosen from the catalogue or scanned")
    quantity: Annotated[int, Field(ge=1, le=999), WHOLE_FLOATS]
    best_before: IsoDate | None = Field(default=None, description="Mindesthaltbarkeitsdatum")
    use_by: IsoDate | None = Field(default=None, description="Verbrauchsdatum: leaves sale at the start of that day")
    lot: str | None = Field(default=None, min_length=1, max_length=64, description="the producer's lot, if any")


class RemoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: Literal["expired", "damaged", "recalled", "other"]


class ContentOut(BaseModel):
    gtin: str
    name: str
    quantity: int
    best_before: str | None
    use_by: str | None
    lot: str | None
    loaded_by: str


class RestockOut(BaseModel):
    id: int
    compartment: int
    purpose: str
    state: Literal["requested", "opened", "closed", "failed", "interrupted", "abandoned"]
    account_id: int
    compartment_status: str
    contents: list[ContentOut]
    created_at: datetime
    closed_at: datetime | None


class ReportLine(BaseModel):
    compartment: int
    product: str
    gtin: str
    added: int
    removed: int
    best_before: str | None
    use_by: str | None
    lot: str | None
    reason: str | None


class RestockReportOut(BaseModel):
    """The fields of a printed restock report (`station.receipts` kind `restock_report`)."""

    restock_id: int
    compartment: int
    state: str
    volunteer: str
    at: datetime
    lines: list[ReportLine]
    added_total: int
    removed_total: int
    open_tasks: list[str]


def _service(request: Request) -> RestockService:
    service = request.app.state.station.component("restock")
    if service is None:
        raise ApiError(503, "unavailable", "Auffüllen ist an dieser Station nicht eingerichtet")
    return service


def _out(view: RestockView) -> RestockOut:
    return RestockOut.model_validate(
        {"id": view.id, "compartment": view.compartment, "purpose": view.purpose, "state": view.state,
         "account_id": view.account_id, "compartment_status": view.compartment_status, "contents": view.contents,
         "created_at": view.created_at, "closed_at": view.closed_at}
    )  # fmt: skip


async def _call(work: Any) -> RestockOut:
    try:
        return _out(await work)
    except StaffError as exc:
        raise api_error(exc) from None


@router.post("", operation_id="staff_restock_open", response_model=RestockOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503),
             summary="Open a compartment to restock or clean it (waits until the door opened or did not)")
async def open_restock(body: OpenIn, live: Volunteer, request: Request) -> RestockOut:
    """`state` `opened`: record goods, then close. `failed`: the door did not open (the compartment keeps
    its goods; if a pulse may have opened it unseen it needs a check)."""
    return await _call(_service(request).open(live, body.compartment, body.purpose))


@router.get("", operation_id="staff_restocks_open", response_model=list[RestockOut],
            responses=responses(401, 403, 503), summary="Restocking sessions open right now (e.g. after a reload)")
async def open_restocks(live: Volunteer, request: Request) -> list[RestockOut]:
    return [_out(view) for view in await _service(request).open_restocks()]


@router.get("/{restock_id}", operation_id="staff_restock_get", response_model=RestockOut,
            responses=responses(401, 403, 404, 422, 503), summary="A restocking session and the compartment's contents")
async def get_restock(restock_id: RestockId, live: Volunteer, request: Request) -> RestockOut:
    return await _call(_service(request).view(restock_id))


@router.post("/{restock_id}/load", operation_id="staff_restock_load", response_model=RestockOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503),
             summary="Record goods put in: product (GTIN), quantity, best-before or use-by date, lot")
async def load(restock_id: RestockId, body: LoadIn, live: Volunteer, request: Request) -> RestockOut:
    service = _service(request)
    try:
        await service.load(live, restock_id, gtin=body.gtin, quantity=body.quantity, best_before=body.best_before,
                           use_by=body.use_by, lot=body.lot)  # fmt: skip
    except StaffError as exc:
        raise api_error(exc) from None
    return await _call(service.view(restock_id))


@router.post("/{restock_id}/remove", operation_id="staff_restock_remove", response_model=RestockOut,
             responses=responses(400, 401, 403, 404, 409, 422, 503),
             summary="Record that everything in the compartment was taken out, and why")
async def remove(restock_id: RestockId, body: RemoveIn, live: Volunteer, request: Request) -> RestockOut:
    service = _service(request)
    try:
        await service.remove(live, restock_id, body.reason)
    except StaffError as exc:
        raise api_error(exc) from None
    return await _call(service.view(restock_id))


@router.post("/{restock_id}/close", operation_id="staff_restock_close", response_model=RestockOut,
             responses=responses(401, 403, 404, 409, 422, 503),
             summary="The contents are recorded: the compartment becomes loaded or empty and is offered again")
async def close(restock_id: RestockId, live: Volunteer, request: Request) -> RestockOut:
    return await _call(_service(request).close(live, restock_id))


@router.get("/{restock_id}/report", operation_id="staff_restock_report", response_model=RestockReportOut,
            responses=responses(401, 403, 404, 422, 503), summary="What a restock report prints")
async def report(restock_id: RestockId, live: Volunteer, request: Request) -> RestockReportOut:
    reports = request.app.state.station.component("reports")
    tasks = [f"{t.where}: {t.what}" for t in await reports.tasks()] if reports is not None else []
    data = await _service(request).db.read(lambda s: restock_report(s, restock_id, tasks))
    if data is None:
        raise ApiError(404, "not_found", "Dieses Auffüllen gibt es nicht")
    return RestockReportOut.model_validate(data)
