"""Volunteers register age-verified customer cards: the holder showed an ID, the card is held to the reader.

The station keeps the card UID's keyed hash and the verified minimum age only (no name, no birth
date, nothing from the ID). A staff badge cannot be registered as a customer card.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ..db.models import Volunteer as VolunteerRow
from ..purchase import age
from .errors import ApiError, responses
from .staff_auth import Volunteer, staff_service

router = APIRouter(prefix="/staff", tags=["staff: volunteers"])


class CustomerCardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    min_age: Literal[16, 18] = Field(description="the age the ID shows the holder has reached")
    id_checked: Literal[True] = Field(description="the volunteer saw an official photo ID of the holder")


class CustomerCardOut(BaseModel):
    customer_card_id: int
    min_age: int


@router.post("/customer-cards", operation_id="staff_register_customer_card", response_model=CustomerCardOut,
             responses=responses(400, 401, 403, 409, 422, 503),
             summary="Register the customer card just held to the reader as proving an age")
async def register_customer_card(body: CustomerCardIn, live: Volunteer, request: Request) -> CustomerCardOut:
    station = request.app.state.station
    purchases = getattr(station, "purchases", None)
    staff = staff_service(request)
    if purchases is None:
        raise ApiError(503, "unavailable", "Verkauf ist an dieser Station nicht eingerichtet")
    uid = purchases.age.take_tap_uid()
    if uid is None:
        raise ApiError(409, "no_badge", "Bitte die Kundenkarte an das Lesegerät halten")
    badge, digest = await asyncio.to_thread(_digests, staff.secret, uid)

    def register(session: Any) -> dict[str, Any]:
        if session.scalar(select(VolunteerRow.id).where(VolunteerRow.badge_hash == badge)) is not None:
            raise ApiError(409, "conflict", "Das ist ein Ausweis für Ehrenamtliche, keine Kundenkarte")
        return age.register_card(session, digest, body.min_age, live.actor)

    return CustomerCardOut(**await station.db.write(register))


def _digests(secret: Any, uid: str) -> tuple[str, str]:
    return secret.badge_digest(uid), secret.customer_card_digest(uid)
