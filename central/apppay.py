"""The platform's side of paying by app (reference consumer): verify a station's payment request, confirm it.

The shopper's app (not built here) scans the QR code, which carries the station's signed request
(`app-payment-request/1`). The platform verifies it with the station's pinned app key, takes the
payment, and confirms exactly that sale and amount with the signed `confirm_app_payment` command.
Tests and the demo use `confirm_request` as the platform would.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.signing import parse_public_key, verify

from .console import BrokerAccess, send_command

PAYMENT_REQUEST = "app-payment-request/1"


class RequestInvalid(Exception):
    """The QR content is not a payment request signed by the station's app key."""


def read_request(qr_text: str | dict[str, Any], station_key: str | None) -> dict[str, Any]:
    """The request's body; with `station_key` (the pinned app key) its signature must verify."""
    envelope = json.loads(qr_text) if isinstance(qr_text, str) else qr_text
    if not isinstance(envelope, dict) or envelope.get("schema") != PAYMENT_REQUEST:
        raise RequestInvalid(f"not an {PAYMENT_REQUEST} envelope")
    body_text, sig = envelope.get("body"), envelope.get("sig")
    if not isinstance(body_text, str) or not isinstance(sig, str):
        raise RequestInvalid("body and sig must be strings")
    if station_key is not None and not verify(parse_public_key(station_key), body_text, sig):
        raise RequestInvalid("the signature does not verify with the station's app key")
    body = json.loads(body_text)
    if not isinstance(body, dict):
        raise RequestInvalid("the body is not a JSON object")
    return body


def confirmation_params(body: dict[str, Any], *, payment_id: str | None = None,
                        age_verified: int | None = None, amount_cents: int | None = None) -> dict[str, Any]:
    """`confirm_app_payment` params for a request body (amount_cents: only to test a wrong amount)."""
    params: dict[str, Any] = {
        "payment_id": payment_id or f"pay-{uuid.uuid4()}",
        "sale_id": body["sale_id"],
        "station_id": body["station_id"],
        "amount_cents": body["amount_cents"] if amount_cents is None else amount_cents,
    }
    if age_verified is not None:
        params["age_verified"] = age_verified
    return params


async def confirm_request(access: BrokerAccess, key: Ed25519PrivateKey, *, issuer: str, issuer_seq: int,
                          params: dict[str, Any], station_id: str | None = None, repeat: int = 1,
                          wait_s: float = 15.0) -> list[dict[str, Any]]:
    """Send `confirm_app_payment` (to the request's station unless `station_id` says otherwise)."""
    return await send_command(access, key, issuer=issuer, issuer_seq=issuer_seq,
                              station_id=station_id or params["station_id"], action="confirm_app_payment",
                              params=params, lifetime_s=120.0, wait_s=wait_s, repeat=repeat)
