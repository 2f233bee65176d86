"""The age-check screen asks whether a customer card was held to the reader (before paying by card).

It says only that a card waits; whether that card proves the age is decided when the purchase
starts (`403 age_check_required` otherwise), so nothing about the card or its holder is revealed here.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from .errors import ApiError, responses

router = APIRouter(tags=["purchases"])


class AgeCardOut(BaseModel):
    card_waiting: bool = Field(description=(
        "a card was held to the reader (at most `[app_payment] age_card_tap_valid_s` ago) and the next "
        "purchase will use it as its proof of age"))


@router.get("/age-check/card", operation_id="age_check_card", response_model=AgeCardOut, responses=responses(503),
            summary="Whether a customer card on the reader waits to prove the age for the next purchase")
async def age_card(request: Request) -> AgeCardOut:
    purchases = getattr(request.app.state.station, "purchases", None)
    if purchases is None:
        raise ApiError(503, "unavailable", "Verkauf ist an dieser Station nicht eingerichtet")
    return AgeCardOut(card_waiting=purchases.age.has_tap())
