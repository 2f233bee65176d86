"""Age checks for goods with `min_age` (16 or 18): which proofs count, and the audit of every attempt.

German youth protection law allows alcohol from an unattended machine only behind a technical age
check. A cart whose highest `min_age` is N is paid for only after one of these says "at least N":

- `customer_card`: a customer NFC card that a volunteer or operator registered after checking an ID;
  the station stores the card's keyed UID digest and the verified minimum age, nothing about the person.
  The card is held to the reader shortly before paying (`tap_valid_s`).
- `app`: the platform's payment confirmation says it verified the account holder's age (`age_verified`).
- `terminal`: the girocard age check through ZVT. The station's ZVT driver (`payments/zvt`) runs
  authorisations only and reads no age attribute from the terminal; the reference page on ZVT
  (shared/reference/zvt.md) names no age answer we could rely on. So this way is unavailable: the
  screen offers the other two. Whether a given terminal offers girocard youth protection over ZVT is
  to be confirmed with its vendor before it is added here.

Each check is audited with what it needed: the required age, the proof's kind and the verified age
(for a card, its row id): no UID, no birth date, no name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db.models import CustomerCard
from ..db.types import utcnow
from ..journal import audit

CUSTOMER_CARD, APP, TERMINAL = "customer_card", "app", "terminal"
TAP_VALID_S = 120.0


@dataclass(frozen=True)
class Proof:
    kind: str
    verified_age: int
    card_id: int | None = None


def refusal_text(required: int, app_available: bool) -> str:
    """What the screen says when a cart needs an age check (plain words, German first)."""
    ways = "Bitte halten Sie Ihre geprüfte Kundenkarte an das Lesegerät"
    if app_available:
        ways += " oder bezahlen Sie mit der App"
    return f"Dieser Einkauf enthält Waren ab {required} Jahren. {ways}. Mit der Bankkarte allein geht es hier nicht."


class AgeGate:
    """Remembers the last customer-card tap and says which proof a cart has."""

    def __init__(self, secret: Any = None, *, tap_valid_s: float = TAP_VALID_S) -> None:
        self.secret, self.tap_valid_s = secret, tap_valid_s
        self._tap: tuple[str, float] | None = None

    def on_tap(self, tap: Any) -> None:
        """An NFC tap (a `TagRead`): kept for `tap_valid_s`, only in memory."""
        self._tap = (tap.uid_hex, time.monotonic())

    def tapped(self, uid_hex: str) -> bool:
        """This card is the fresh tap (for the screen and tests: "card read")."""
        return self._tap is not None and self._tap[0] == uid_hex and time.monotonic() - self._tap[1] <= self.tap_valid_s

    def has_tap(self) -> bool:
        """A card was held to the reader and not used yet (for the screen: "card read"); nothing else is told."""
        return self._tap is not None and time.monotonic() - self._tap[1] <= self.tap_valid_s

    def take_tap(self) -> str | None:
        """The fresh tap's digest (used once: the next purchase needs its own tap)."""
        uid = self.take_tap_uid()
        return None if uid is None or self.secret is None else str(self.secret.customer_card_digest(uid))

    def take_tap_uid(self) -> str | None:
        """The fresh tap's UID (used once), for registering the card; never stored."""
        if self._tap is None:
            return None
        uid, at = self._tap
        self._tap = None
        return None if time.monotonic() - at > self.tap_valid_s else uid

    @staticmethod
    def card_proof(session: Session, digest: str | None) -> Proof | None:
        if digest is None:
            return None
        card = session.scalar(select(CustomerCard).where(CustomerCard.uid_digest == digest,
                                                         CustomerCard.revoked_at.is_(None)))
        return None if card is None else Proof(CUSTOMER_CARD, card.min_age, card.id)


def audit_check(session: Session, sale_id: str | None, required: int, proof: Proof | None, *, passed: bool,
                method: str, why: str | None = None) -> None:
    """One audit entry (sent to the platform) per age check, passed or refused."""
    details: dict[str, Any] = {"required_age": required, "method": method,
                               "proof": proof.kind if proof else None,
                               "verified_age": proof.verified_age if proof else None}
    if proof is not None and proof.card_id is not None:
        details["customer_card_id"] = proof.card_id
    if why:
        details["why"] = why
    audit(session, "age_check.passed" if passed else "age_check.refused", f"sale:{sale_id or '-'}",
          actor="shopper", reason="age_check", reference=sale_id, details=details)


def register_card(session: Session, digest: str, min_age: int, registered_by: str) -> dict[str, Any]:
    """Register (or re-register with a new age) an ID-checked customer card; audited, no personal data."""
    card = session.scalar(select(CustomerCard).where(CustomerCard.uid_digest == digest))
    if card is None:
        card = CustomerCard(uid_digest=digest, min_age=min_age, registered_by=registered_by, registered_at=utcnow())
        session.add(card)
    else:
        card.min_age, card.registered_by, card.registered_at, card.revoked_at = min_age, registered_by, utcnow(), None
    session.flush()
    audit(session, "customer_card.registered", f"customer_card:{card.id}", actor=registered_by,
          reason="age_verified", details={"min_age": min_age})
    return {"customer_card_id": card.id, "min_age": min_age}


def revoke_card(session: Session, digest: str, actor: str) -> dict[str, Any]:
    card = session.scalar(select(CustomerCard).where(CustomerCard.uid_digest == digest))
    if card is None:
        raise LookupError("no such customer card")
    if card.revoked_at is None:
        card.revoked_at = utcnow()
        audit(session, "customer_card.revoked", f"customer_card:{card.id}", actor=actor, reason="revoked")
    return {"customer_card_id": card.id, "revoked": True}


class AgeRefused(Exception):
    """A cart with goods from `required` years on and no proof that counts for this way of paying."""

    def __init__(self, required: int, text: str) -> None:
        super().__init__(text)
        self.required = required


def check_cart(session: Session, sale_id: str, required: int | None, digest: str | None, pay_with: str,
               app_available: bool) -> str | None:
    """Before payment: the proof that counts (its kind), None when the app must bring it; raises AgeRefused.

    A card payment needs a customer card tapped just before; an app payment may bring the platform's
    age check with its confirmation (the payment request says the age it needs).
    """
    if not required:
        return None
    proof = AgeGate.card_proof(session, digest)
    if proof is not None and proof.verified_age >= required:
        audit_check(session, sale_id, required, proof, passed=True, method=pay_with)
        return proof.kind
    if pay_with == APP:
        return None  # checked when the confirmation arrives: it must carry age_verified >= required
    raise AgeRefused(required, refusal_text(required, app_available))
