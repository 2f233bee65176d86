"""Configuration of paying by app and of the age checks (`station/purchase/apppay.py`, `age.py`)."""

from __future__ import annotations

from pydantic import Field

from .base import Section


class AppPaymentConfig(Section):
    """`[app_payment]`: the platform's app pays; the station signs the request with its station key."""

    enabled: bool = Field(default=True, description="offer paying by app (it also needs [mqtt]: the confirmation "
                          "comes over the command channel)")
    request_ttl_s: float = Field(default=180.0, ge=30, le=600, description="how long a payment request (QR code) "
                                 "is valid; a confirmation after that is refused and refunded")
    age_card_tap_valid_s: float = Field(default=120.0, ge=10, le=600, description="an age-verified customer card "
                                        "tapped this long before the purchase proves the age")
