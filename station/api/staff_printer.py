"""Volunteers see the receipt printer's state and what to do (change the paper roll, close the cover, call)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from .errors import responses
from .staff_auth import Volunteer

router = APIRouter(prefix="/staff", tags=["staff"])

State = Literal["ok", "paper_near_end", "paper_out", "cover_open", "not_answering", "fault", "unknown", "none"]
NOT_ANSWERING = {"port_unavailable", "no_answer", "invalid_reply"}


class PrinterOut(BaseModel):
    state: State = Field(description=(
        "`ok`; `paper_near_end` (change the roll soon); `paper_out`; `cover_open`; `not_answering` (power, cable); "
        "`fault` (another fault, see `faults`); `unknown` (not asked yet); `none` (no printer at this station)"))
    faults: list[str] = Field(description="every fault the last status round found, most specific first")
    detail: str | None = Field(default=None, description="the driver's words on the last status, for a technician")
    queued: int = Field(description="receipts waiting to be printed")


def printer_state(faults: list[str], near_end: bool) -> State:
    """The one state the screen explains (the most specific fault first)."""
    if not faults:
        return "paper_near_end" if near_end else "ok"
    first = faults[0]
    if first in ("paper_out", "cover_open"):
        return first  # type: ignore[return-value]
    return "not_answering" if first in NOT_ANSWERING else "fault"


@router.get("/printer", operation_id="staff_printer", response_model=PrinterOut, responses=responses(401, 403),
            summary="The receipt printer's state as of its last status round, and the receipts waiting")
async def printer(live: Volunteer, request: Request) -> PrinterOut:
    service = getattr(request.app.state.station, "printing", None)
    if service is None:
        return PrinterOut(state="none", faults=[], queued=0)
    status = service.last_status
    if status is None:
        return PrinterOut(state="unknown", faults=[], queued=service.queued)
    faults = [fault.value for fault in status.faults]
    return PrinterOut(state=printer_state(faults, status.paper_near_end), faults=faults, detail=status.detail,
                      queued=service.queued)
