"""The volunteers' end-of-day report: read any local day, or send one to the platform now.

The body is the payload of the `report.end_of_day` event (docs/schemas/payload.end-of-day-report.v1.json);
`station.reports.endofday.receipt_data` turns it into what a printed `end_of_day` receipt needs.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from .errors import responses
from .staff import TaskOut, reports_service
from .staff_auth import IsoDate, Volunteer

router = APIRouter(prefix="/staff/reports", tags=["staff"])


class ProductSales(BaseModel):
    gtin: str | None
    name: str
    quantity: int
    goods_cents: int
    deposit_cents: int


class Sales(BaseModel):
    count: int = Field(description="finished (booked) purchases started that day")
    total_cents: int
    by_product: list[ProductSales]
    by_state: dict[str, int] = Field(description="purchases started that day by their state")


class TerminalRun(BaseModel):
    end_of_day_id: int
    at: datetime
    terminal_cents: int
    expected_cents: int | None
    difference_cents: int | None
    count: int | None


class Card(BaseModel):
    booked_count: int
    booked_cents: int
    terminal_end_of_day: list[TerminalRun] = Field(description="the card terminal's end-of-day runs that day")


class Loaded(BaseModel):
    at: datetime
    compartment: int
    gtin: str
    name: str
    quantity: int
    best_before: str | None
    use_by: str | None
    by: str


class Removed(BaseModel):
    at: datetime
    compartment: int
    gtin: str
    name: str
    quantity: int
    reason: str | None
    by: str


class Stock(BaseModel):
    loaded: list[Loaded]
    removed: list[Removed]
    loaded_items: int
    removed_items: int


class ZoneTemperatures(BaseModel):
    min_c: float | None
    max_c: float | None
    readings: int


class EndOfDayOut(BaseModel):
    day: date
    timezone: str
    from_: datetime = Field(alias="from")
    to: datetime
    made_at: datetime
    sales: Sales
    card: Card
    stock: Stock
    temperatures: dict[str, ZoneTemperatures] = Field(description="per zone, over its controllers' product probes")
    open_tasks: list[TaskOut]
    sent_by: str | None = Field(default=None, description="when sent: who sent it (system: the daily send)")
    audit_id: int | None = None

    model_config = ConfigDict(populate_by_name=True)


class ReportDayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    day: IsoDate | None = Field(default=None, description="local day; default: yesterday")


def _out(data: dict[str, Any]) -> EndOfDayOut:
    return EndOfDayOut.model_validate(data)


@router.get("/end-of-day", operation_id="staff_end_of_day", response_model=EndOfDayOut, response_model_by_alias=True,
            responses=responses(401, 403, 422, 503), summary="The end-of-day report of a local day")
async def end_of_day(live: Volunteer, request: Request,
                     day: Annotated[date | None, Query(description="local day; default: today so far")] = None,
                     ) -> EndOfDayOut:
    reports = reports_service(request)
    return _out(await reports.build(day or reports.clock.today()))


@router.post("/end-of-day", operation_id="staff_send_end_of_day", response_model=EndOfDayOut,
             response_model_by_alias=True, responses=responses(400, 401, 403, 422, 503),
             summary="Send a day's end-of-day report to the platform now (it also goes daily by itself)")
async def send_end_of_day(body: ReportDayIn, live: Volunteer, request: Request) -> EndOfDayOut:
    reports = reports_service(request)
    return _out(await reports.send(body.day or reports.clock.today() - timedelta(days=1), actor=live.actor))


class TemperaturePoint(BaseModel):
    at: datetime = Field(description="start of the time slice")
    min_c: float
    max_c: float
    mean_c: float


class FridgeTemperatures(BaseModel):
    fridge: str
    zone: str
    probe: str = Field(description="the product probe whose readings these are")
    limit_c: float | None = Field(description="the zone's limit; none for an ambient zone")
    ceiling_c: float | None = Field(description="a tolerated brief rise above the limit (frozen goods), or none")
    points: list[TemperaturePoint] = Field(description="time slices with readings, oldest first (gaps: no reading)")


class TemperaturesOut(BaseModel):
    since: datetime
    until: datetime
    fridges: list[FridgeTemperatures]


@router.get("/temperatures", operation_id="staff_temperatures", response_model=TemperaturesOut,
            responses=responses(401, 403, 422, 503),
            summary="Temperatures of the last hours per fridge with the zone limits (read from the HACCP log)")
async def temperatures(live: Volunteer, request: Request,
                       hours: Annotated[int, Query(ge=1, le=168, description="how far back")] = 24,
                       buckets: Annotated[int, Query(ge=4, le=288, description="time slices")] = 96,
                       ) -> TemperaturesOut:
    return TemperaturesOut.model_validate(await reports_service(request).temperatures(hours, buckets))
