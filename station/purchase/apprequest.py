"""Signed app payment requests (what the QR code carries) and signed refund requests.

The station signs with an Ed25519 key derived from its station key (`staff.secret_file`, the key that
already protects badge UIDs and PINs): seed = HMAC-SHA256(station key, "derive" 0x00 "app-payment/ed25519").
Nothing new to install or back up; the platform pins the public key (`station ops app-key` prints it).

Envelope, the same form as signed commands (docs/mqtt.md "App payments"):
`{"schema": "<kind>/1", "body": "<JSON text>", "sig": "<base64 Ed25519 signature of the body's UTF-8 bytes>"}`.
The body travels as text, so the signed bytes are exactly the bytes the platform verifies.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..db.types import to_db_time

PAYMENT_REQUEST = "app-payment-request/1"
REFUND_REQUEST = "app-refund-request/1"
PURPOSE = b"app-payment/ed25519"


class RequestSigner:
    """Signs the station's app payment and refund requests."""

    def __init__(self, seed: bytes | Callable[[], bytes]) -> None:
        self._seed = seed
        self._key: Ed25519PrivateKey | None = None

    @classmethod
    def from_secret(cls, secret: Any) -> RequestSigner:
        """From a `StationSecret`; the key file is read (or made) on first use, not here."""
        return cls(lambda: bytes(secret.derive(PURPOSE)))

    def key(self) -> Ed25519PrivateKey:
        if self._key is None:
            seed = self._seed if isinstance(self._seed, bytes) else self._seed()
            self._key = Ed25519PrivateKey.from_private_bytes(seed)
        return self._key

    def public_key(self) -> Ed25519PublicKey:
        return self.key().public_key()

    def public_key_text(self) -> str:
        """The raw 32-byte public key in base64 (what the platform pins)."""
        raw = self.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def sign(self, schema: str, body: dict[str, Any]) -> dict[str, str]:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
        return {"schema": schema, "body": text, "sig": base64.b64encode(self.key().sign(text.encode())).decode()}


def payment_request_body(station_id: str, sale_id: str, amount_cents: int, min_age: int | None,
                         issued_at: datetime, expires_at: datetime) -> dict[str, Any]:
    """What the platform needs to take the payment; its confirmation must name the same sale and amount."""
    return {
        "station_id": station_id,
        "sale_id": sale_id,
        "amount_cents": amount_cents,
        "currency": "EUR",
        "min_age": min_age,  # the app pays only for an account holder of this age (its confirmation says so)
        "issued_at": to_db_time(issued_at),
        "expires_at": to_db_time(expires_at),
    }


def verify_envelope(public: Ed25519PublicKey, envelope: dict[str, Any]) -> dict[str, Any]:
    """The body of a signed request; raises ValueError when the signature does not verify."""
    try:
        public.verify(base64.b64decode(envelope["sig"], validate=True), str(envelope["body"]).encode())
    except (InvalidSignature, KeyError, ValueError):
        raise ValueError("the signature does not verify with the station's key") from None
    body = json.loads(envelope["body"])
    if not isinstance(body, dict):
        raise ValueError("the body is not a JSON object")
    return body
