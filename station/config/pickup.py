"""Configuration of the pick-up of orders and parcels (`[pickup]`)."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, field_validator

from .base import Section


def public_key_bytes(text: str) -> bytes:
    """An Ed25519 public key given as hex (64 characters) or base64."""
    return bytes.fromhex(text) if len(text) == 64 else base64.b64decode(text, validate=True)


class PickupConfig(Section):
    """Signed offline codes and how often expiry is looked at."""

    platform_keys: dict[str, str] = Field(
        default_factory=dict,
        description="issuer name -> Ed25519 public key (hex or base64), pinned: signed offline pick-up codes "
        "(`PU1.…`) are accepted only when signed by one of these keys; none: offline codes are refused",
    )
    offline_max_validity_days: int = Field(
        default=30, ge=1, le=90, description="a signed offline code valid for longer than this is refused"
    )

    @field_validator("platform_keys")
    @classmethod
    def _check_keys(cls, keys: dict[str, str]) -> dict[str, str]:
        for issuer, text in keys.items():
            try:
                raw = public_key_bytes(text)
            except (ValueError, binascii.Error):
                raise ValueError(f"platform key {issuer!r} is neither hex nor base64") from None
            if len(raw) != 32:
                raise ValueError(f"platform key {issuer!r}: an Ed25519 public key has 32 bytes, not {len(raw)}")
        return keys
