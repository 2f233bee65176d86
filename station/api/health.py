"""GET /api/health: per-component status, outbox depth, simulated or real hardware."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from .errors import responses

router = APIRouter(tags=["health"])


class ComponentStatus(BaseModel):
    status: Literal["up", "degraded", "down"]
    simulated: bool
    detail: dict[str, Any]


class OutboxStatus(BaseModel):
    pending: int | None
    oldest_pending_at: str | None


class OverlayStatus(BaseModel):
    """The operator's config overlay: applied at this start, rejected (does not fit the file), or none."""

    state: Literal["none", "applied", "rejected"]
    sha256: str | None
    version: str | None
    detail: str | None


class HealthReport(BaseModel):
    station_id: str
    version: str
    status: Literal["up", "degraded", "down"]
    simulated: bool
    notice: str | None
    outbox: OutboxStatus
    config_overlay: OverlayStatus
    components: dict[str, ComponentStatus]


@router.get(
    "/health",
    operation_id="get_health",
    response_model=HealthReport,
    responses=responses(),
    summary="Health of every component",
)
async def get_health(request: Request) -> HealthReport:
    # On the event loop, not in a worker thread: the components' state is the loop's, and the one
    # database read is awaited there without two more thread hops.
    return HealthReport.model_validate(await request.app.state.station.health_report())
