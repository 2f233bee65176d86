"""Signed offline pick-up codes: minted by the platform, verified at the station without asking anyone.

A code is `PU1.<claims>.<signature>` (base64url without padding). The claims are JSON:

    {"iss": "platform", "st": "<station id>", "o": "<order external id>", "jti": "<token id>",
     "exp": <unix seconds>, "hk": "<holder's Ed25519 public key, base64url>" (optional)}

signed (Ed25519, over the exact claim bytes) by a key pinned in `[pickup] platform_keys`. The
station checks: a pinned issuer and a good signature, its own station id, not expired (and not valid
for longer than `offline_max_validity_days`), not revoked (`revoke_pickup_codes`), not used before.
The order must be in its compartment (`loaded`); its own codes need not be known to the station, so a
code minted while the station was offline works.

Delegation: the holder passes the code to a neighbour by appending `.D.<grant>.<signature>`, where
the grant `{"jti": "<same token id>", "to": "<name>", "exp": <unix seconds>}` is signed with the
holder's key `hk`. The station checks it like the code, and the audit and the `order.collected`
event name the delegate. Without `hk` a code cannot be delegated (but can still be handed on as is).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config.pickup import PickupConfig, public_key_bytes
from ..db.models import Order, PickupToken
from ..journal import audit
from ..orders.service import OrderError

PREFIX = "PU1."
REFUSED = "Dieser Abholcode gilt hier nicht"


@dataclass(frozen=True)
class Claim:
    order: str  # the order's external id
    token_id: str
    holder: str  # "holder", or the delegate's name
    delegation: dict[str, Any] | None


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OfflineVerifier:
    """Checks signed offline codes against the pinned platform keys and the stored used/revoked ids."""

    def __init__(self, config: PickupConfig, station_id: str) -> None:
        self.station_id = station_id
        self.max_validity = timedelta(days=config.offline_max_validity_days)
        self.keys = {issuer: Ed25519PublicKey.from_public_bytes(public_key_bytes(text))
                     for issuer, text in config.platform_keys.items()}  # fmt: skip

    def check(self, session: Session, token: str, now: datetime) -> Claim:
        """The claim of a valid code; OrderError (with a plain message) for every refusal."""
        parts = token.removeprefix(PREFIX).split(".")
        if len(parts) not in (2, 5) or (len(parts) == 5 and parts[2] != "D"):
            raise OrderError("wrong_code", "Dieser Code ist nicht lesbar – bitte erneut scannen")
        claims = self._decoded(parts[0])
        issuer = claims.get("iss")
        if issuer not in self.keys or not _signed_by(self.keys[issuer], parts[0], parts[1]):
            raise OrderError("wrong_code", REFUSED)
        if claims.get("st") != self.station_id:
            raise OrderError("wrong_station", "Dieser Abholcode gehört zu einer anderen Station")
        expires = _time(claims.get("exp"))
        if expires is None or expires <= now:
            raise OrderError("expired", "Dieser Abholcode ist abgelaufen")
        if expires - now > self.max_validity:
            raise OrderError("wrong_code", REFUSED)
        token_id, order = str(claims.get("jti") or ""), str(claims.get("o") or "")
        if not token_id or not order:
            raise OrderError("wrong_code", REFUSED)
        seen = session.get(PickupToken, token_id)
        if seen is not None:
            if seen.state == "revoked":
                raise OrderError("revoked", "Dieser Abholcode wurde zurückgezogen – bitte den Betreiber anrufen")
            raise OrderError("order_state", "Dieser Abholcode wurde schon benutzt – er gilt nur einmal")
        if session.scalar(select(Order.id).where(Order.external_id == order)) is None:
            raise OrderError("unknown_order", "Diese Bestellung liegt an dieser Station nicht bereit")
        delegation = self._delegation(claims, parts, now) if len(parts) == 5 else None
        return Claim(order, token_id, delegation["to"] if delegation else "holder", delegation)

    @staticmethod
    def _decoded(claims_text: str) -> dict[str, Any]:
        try:
            claims = json.loads(unb64(claims_text))
        except (ValueError, binascii.Error):
            raise OrderError("wrong_code", "Dieser Code ist nicht lesbar – bitte erneut scannen") from None
        if not isinstance(claims, dict):
            raise OrderError("wrong_code", REFUSED)
        return claims

    def _delegation(self, claims: dict[str, Any], parts: list[str], now: datetime) -> dict[str, Any]:
        holder_key = claims.get("hk")
        if not isinstance(holder_key, str):
            raise OrderError("wrong_code", "Dieser Abholcode darf nicht weitergegeben werden")
        try:
            key = Ed25519PublicKey.from_public_bytes(unb64(holder_key))
        except (ValueError, binascii.Error):
            raise OrderError("wrong_code", REFUSED) from None
        if not _signed_by(key, parts[3], parts[4]):
            raise OrderError("wrong_code", "Die Weitergabe dieses Codes ist nicht gültig")
        grant = self._decoded(parts[3])
        expires = _time(grant.get("exp"))
        if grant.get("jti") != claims.get("jti") or not isinstance(grant.get("to"), str) or not grant["to"]:
            raise OrderError("wrong_code", "Die Weitergabe dieses Codes ist nicht gültig")
        if expires is None or expires <= now:
            raise OrderError("expired", "Die Weitergabe dieses Codes ist abgelaufen")
        return {"to": grant["to"][:64], "exp": expires.isoformat()}

    @staticmethod
    def use(session: Session, token_id: str, order_id: int, now: datetime) -> None:
        """Spend the code in the transaction that starts the pick-up (a second use finds it)."""
        if session.get(PickupToken, token_id) is not None:
            raise OrderError("order_state", "Dieser Abholcode wurde schon benutzt – er gilt nur einmal")
        external_id = session.get_one(Order, order_id).external_id
        session.add(PickupToken(token_id=token_id, state="used", order_external_id=external_id, at=now))
        session.flush()


def revoke(session: Session, token_ids: list[str], *, actor: str, reference: str | None, now: datetime) -> int:
    """Put codes on the revocation list (a used one stays used); returns how many were new."""
    added = 0
    for token_id in token_ids:
        if session.get(PickupToken, token_id) is None:
            session.add(PickupToken(token_id=token_id, state="revoked", at=now))
            added += 1
    session.flush()
    audit(session, "pickup.codes_revoked", "pickup", actor=actor, reference=reference,
          details={"token_ids": token_ids, "added": added})
    return added


def _signed_by(key: Ed25519PublicKey, data_text: str, sig_text: str) -> bool:
    try:
        key.verify(unb64(sig_text), unb64(data_text))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def _time(value: Any) -> datetime | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return datetime.fromtimestamp(value, UTC)
