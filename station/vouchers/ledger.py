"""The voucher ledger: issue, check, hold for a purchase, settle with it, redeem or void for the platform.

Every function runs in the caller's transaction (`Database.write`), so issuing a voucher commits
together with what caused it (the end of a return, the change of a purchase) and before anything is
printed. The amount paid always comes from the ledger row, never from the scanned code; the code
only finds the row, and a code whose serial exists with another amount is an alteration (alarm).

Refusals are `VoucherError(code, message)`; when a refusal is worth an alarm (the same voucher
presented again, an altered code) the error carries it, and the caller records it in a transaction
of its own (the refused transaction rolls back).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from deposit.voucher import MAX_AMOUNT_CENTS, VoucherCodeError, build_code, parse_code, random_serial

from ..db.models import Voucher
from ..db.types import utcnow
from ..flows.engine import created, transition
from ..journal import raise_alarm
from ..receipts.formatting import euro
from .flow import VOUCHER, VoucherState

MAX_CREDIT_CENTS = MAX_AMOUNT_CENTS  # one purchase takes at most 99,99 € of vouchers: any change fits one voucher
_SYSTEM_RANDOM = random.SystemRandom()


class VoucherError(Exception):
    """A voucher that cannot be used now; `code` maps to the API answer, the message is for the screen."""

    def __init__(self, code: str, message: str, *, alarm: tuple[str, str, dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.alarm = alarm  # (kind, subject, details) to record after the refused transaction


@dataclass(frozen=True)
class VoucherView:
    voucher_id: str
    code: str
    serial: str
    amount_cents: int
    state: str
    medium: str
    origin: str
    sale_id: str | None
    redeemed_by: str | None

    @property
    def redeemable(self) -> bool:
        return self.state == VoucherState.ISSUED

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "redeemable": self.redeemable}


def view(voucher: Voucher) -> VoucherView:
    return VoucherView(voucher.id, voucher.code, voucher.serial, voucher.amount_cents, voucher.state, voucher.medium,
                       voucher.origin, voucher.sale_id, voucher.redeemed_by)


def split_amount(total_cents: int) -> list[int]:
    """Voucher amounts for a total: as few as possible, each at most 99,99 € (the code has four digits)."""
    if total_cents <= 0:
        return []
    full, rest = divmod(total_cents, MAX_AMOUNT_CENTS)
    return [MAX_AMOUNT_CENTS] * full + ([rest] if rest else [])


# -- issuing ----------------------------------------------------------------------------------------
def issue(
    session: Session,
    amount_cents: int,
    *,
    prefix: int,
    origin: str,
    medium: str,
    actor: str = "system",
    reference: str | None = None,
    deposit_return_id: str | None = None,
    issued_for: str | None = None,
    rng: random.Random | None = None,
) -> Voucher:
    """Store a new voucher (state issued) with a random serial and its EAN-13 code; returns the row."""
    if medium not in ("paper", "credit"):
        raise ValueError(f"voucher medium must be paper or credit, not {medium!r}")

    def taken(serial: int) -> bool:
        return session.scalar(select(Voucher.id).where(Voucher.serial == f"{serial:06d}")) is not None

    serial = random_serial(rng or _SYSTEM_RANDOM, taken)
    code = build_code(prefix, serial, amount_cents)
    now = utcnow()
    voucher_id = str(uuid.uuid4())
    session.execute(
        insert(Voucher).values(
            id=voucher_id, serial=f"{serial:06d}", code=code, amount_cents=amount_cents,
            state=VoucherState.ISSUED.value, origin=origin, medium=medium, deposit_return_id=deposit_return_id,
            issued_for=issued_for or deposit_return_id, issued_at=now, updated_at=now,
        )
    )  # fmt: skip
    created(session, VOUCHER, voucher_id, actor=actor, reason=origin, reference=reference)
    return session.get_one(Voucher, voucher_id)


# -- finding and checking -------------------------------------------------------------------------------
def normalise(code: str) -> str:
    """The 13 digits of a typed or scanned code (spaces and dashes people type are dropped)."""
    return "".join(ch for ch in code.strip() if ch not in " -")


def find(session: Session, code: str) -> Voucher:
    """The ledger row for a code; VoucherError not_found for anything else (with an alarm for an altered code).

    A misread (check digit) and a code of another shop are "no such voucher" too: the message tells which.
    """
    text = normalise(code)
    try:
        prefix = int(text[:2]) if text[:2].isdigit() else -1
        parsed = parse_code(text, prefix)
    except VoucherCodeError:
        raise VoucherError("not_found", "Das ist keine gültige Pfandbon-Nummer – bitte prüfen") from None
    voucher = session.scalar(select(Voucher).where(Voucher.serial == f"{parsed.serial:06d}"))
    if voucher is None:
        raise VoucherError("not_found", "Diesen Pfandbon kennt die Station nicht")
    if voucher.code != text:  # the serial is real, the amount (or prefix) is not: an altered copy
        raise VoucherError(
            "not_found",
            "Dieser Pfandbon ist ungültig",
            alarm=("voucher.altered", f"voucher:{voucher.id}", {"presented": text, "serial": voucher.serial}),
        )
    return voucher


def check(session: Session, code: str) -> VoucherView:
    """What a code is worth and whether it can be redeemed; changes nothing."""
    return view(find(session, code))


def _refuse_used(voucher: Voucher, presented_for: str) -> VoucherError:
    """The refusal for a voucher presented again after it was redeemed or voided (a copy or a photo?)."""
    alarm = ("voucher.presented_again", f"voucher:{voucher.id}",
             {"code": voucher.code, "state": voucher.state, "redeemed_by": voucher.redeemed_by,
              "presented_for": presented_for})  # fmt: skip
    if voucher.state == VoucherState.VOID:
        return VoucherError("already_redeemed", "Dieser Pfandbon ist ungültig", alarm=alarm)
    return VoucherError("already_redeemed", "Dieser Pfandbon wurde bereits eingelöst", alarm=alarm)


# -- a purchase ---------------------------------------------------------------------------------------------
def hold_for_sale(session: Session, codes: Iterable[str], sale_id: str, *, actor: str = "shopper") -> list[Voucher]:
    """Hold each voucher for `sale_id` (issued → held); all or nothing, at most 99,99 € together."""
    held: list[Voucher] = []
    seen: set[str] = set()
    for code in codes:
        voucher = find(session, code)
        if voucher.id in seen:
            raise VoucherError("invalid", "Derselbe Pfandbon ist zweimal angegeben")
        seen.add(voucher.id)
        if voucher.state == VoucherState.HELD:
            raise VoucherError("busy", "Dieser Pfandbon wird gerade bei einem anderen Einkauf verwendet")
        if voucher.state != VoucherState.ISSUED:
            raise _refuse_used(voucher, f"sale:{sale_id}")
        transition(session, VOUCHER, voucher.id, VoucherState.HELD, actor=actor, expect={VoucherState.ISSUED},
                   reason="sale", reference=sale_id)
        voucher.sale_id = sale_id
        held.append(voucher)
    total = sum(v.amount_cents for v in held)
    if total > MAX_CREDIT_CENTS:
        raise VoucherError("invalid", f"Höchstens {euro(MAX_CREDIT_CENTS)} Pfandbons je Einkauf")
    session.flush()
    return held


def held_by(session: Session, sale_id: str, states: Iterable[str] = (VoucherState.HELD,)) -> list[Voucher]:
    return list(
        session.scalars(
            select(Voucher).where(Voucher.sale_id == sale_id, Voucher.state.in_([str(s) for s in states]))
            .order_by(Voucher.issued_at, Voucher.id)
        )
    )


def settle_for_sale(session: Session, sale_id: str, released_cents: int) -> Voucher | None:
    """The sale reached its outcome: redeem its vouchers if goods were released, else give them back.

    A credit larger than the released goods leaves change: a new voucher (a credit, same prefix) for
    the rest, returned so the purchase can show or print it. Runs in the sale's final transaction.
    """
    held = held_by(session, sale_id)
    if not held:
        return None
    now = utcnow()
    if released_cents <= 0:
        for voucher in held:
            transition(session, VOUCHER, voucher.id, VoucherState.ISSUED, reason="sale", reference=sale_id,
                       why="the purchase ended without goods")
            voucher.sale_id = None
        session.flush()  # the sale's event (plain SQL) must not see a given-back voucher as still its own
        return None
    for voucher in held:
        voucher.redeemed_by, voucher.redeemed_at = sale_id, now
        session.flush()
        transition(session, VOUCHER, voucher.id, VoucherState.REDEEMED, actor="shopper", reason="sale",
                   reference=sale_id, redeemed_for_cents=min(released_cents, voucher.amount_cents))
    change = sum(v.amount_cents for v in held) - released_cents
    if change <= 0:
        return None
    return issue(session, change, prefix=int(held[0].code[:2]), origin="change", medium="credit", reference=sale_id,
                 issued_for=sale_id)


def change_of(session: Session, sale_id: str) -> list[Voucher]:
    """The change voucher(s) a sale left."""
    return list(session.scalars(select(Voucher).where(Voucher.issued_for == sale_id, Voucher.origin == "change")))


def credit_used(credit_cents: int, released_cents: int) -> int:
    """What a sale's vouchers paid: nothing without goods, else the credit up to the released goods' value."""
    return 0 if released_cents <= 0 else min(credit_cents, released_cents)


# -- the platform -------------------------------------------------------------------------------------------
def redeem(session: Session, code: str, *, actor: str, reference: str) -> dict[str, Any]:
    """Redeem outside a purchase (the platform, for a voucher taken to the village shop); idempotent per reference.

    The same reference again answers the first redemption (`repeated`); any other is refused.
    """
    voucher = find(session, code)
    if voucher.state == VoucherState.REDEEMED and voucher.redeemed_by == reference:
        return {**view(voucher).as_dict(), "repeated": True}
    if voucher.state == VoucherState.HELD:
        raise VoucherError("busy", "held by a purchase in progress at the station")
    if voucher.state != VoucherState.ISSUED:
        raise _refuse_used(voucher, reference)
    session.execute(
        update(Voucher).where(Voucher.id == voucher.id).values(redeemed_by=reference, redeemed_at=utcnow())
    )
    transition(session, VOUCHER, voucher.id, VoucherState.REDEEMED, actor=actor, expect={VoucherState.ISSUED},
               reason="redeem", reference=reference)
    session.refresh(voucher)
    return {**view(voucher).as_dict(), "repeated": False}


def void(session: Session, code: str, *, actor: str, reason: str, reference: str | None = None) -> dict[str, Any]:
    """Void an issued voucher (lost, printed by mistake); voiding it again answers the same."""
    voucher = find(session, code)
    if voucher.state == VoucherState.VOID:
        return {**view(voucher).as_dict(), "repeated": True}
    if voucher.state == VoucherState.HELD:
        raise VoucherError("busy", "held by a purchase in progress at the station")
    if voucher.state != VoucherState.ISSUED:
        raise VoucherError("already_redeemed", "already redeemed: it cannot be voided")
    transition(session, VOUCHER, voucher.id, VoucherState.VOID, actor=actor, expect={VoucherState.ISSUED},
               reason="void", reference=reference, why=reason)
    session.refresh(voucher)
    return {**view(voucher).as_dict(), "repeated": False}


def record_refusal(session: Session, error: VoucherError) -> None:
    """Write the alarm a refusal carries (in its own transaction: the refused one rolled back)."""
    if error.alarm is not None:
        kind, subject, details = error.alarm
        raise_alarm(session, kind, subject, severity="warning", details=details)
