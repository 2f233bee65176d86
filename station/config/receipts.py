"""Configuration of receipts: the shop header, the address digital receipts are reached at, what prints by itself.

[receipts]
base_url = "https://station-12.example.org"   # what a phone opens from the QR code
address = ["Hauptstraße 1", "12345 Musterdorf"]
operator = "Dorfladen eG"
"""

from __future__ import annotations

from pydantic import Field, field_validator

from .base import Section


class ReceiptsConfig(Section):
    """Printed and digital receipts (Beleg): header lines, the digital receipt address, automatic printing."""

    base_url: str | None = Field(
        default=None,
        max_length=200,
        description="start of the digital receipt URL in QR codes (http(s)://host[:port]); "
        "none: the station's own [http] address",
    )
    address: list[str] = Field(default_factory=list, max_length=4, description="address lines under the shop name")
    operator: str | None = Field(default=None, max_length=80, description="who runs the station (Betreiber)")
    vat_id: str | None = Field(default=None, max_length=20, description="USt-IdNr. printed on purchase receipts")
    print_purchases: bool = Field(
        default=True, description="print a receipt after every purchase (the digital one always exists)"
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")) or " " in value:
            raise ValueError(f"{value!r}: expected http://host[:port][/path] or https://…")
        return value.rstrip("/")
