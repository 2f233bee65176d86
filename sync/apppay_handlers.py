"""Command handlers for paying by app and for age-verified customer cards.

`confirm_app_payment` is checked and committed by the purchase service in the same transaction as
the command's result (a confirmation delivered twice has one outcome, stored and re-sent); the doors
open only after that commit. A refused confirmation answers `failed` with the reason and the
`refund_id` of the refund request it caused (`app.refund_requested` in the outbox).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.orm import Session

from station.purchase import age, refunds
from station.purchase.apppay import Confirmation, Verdict

from . import inbox
from . import params as P
from .inbox import DONE, FAILED
from .router import CommandContext, CommandError, CommandRouter

CONFIRM_MAX_LIFETIME_S = 600.0  # a confirmation older than any payment request is worthless


def register_app_handlers(router: CommandRouter) -> None:
    router.register("confirm_app_payment", confirm_app_payment, params=P.ConfirmAppPayment,
                    max_lifetime_s=CONFIRM_MAX_LIFETIME_S)
    router.register("close_app_refund", close_app_refund, params=P.CloseAppRefund)
    router.register("register_customer_card", register_customer_card, params=P.RegisterCustomerCard)
    router.register("revoke_customer_card", revoke_customer_card, params=P.RevokeCustomerCard)


def _purchases(ctx: CommandContext) -> Any:
    service = getattr(ctx.services, "purchases", None) if ctx.services else None
    if service is None or service.app.signer is None:
        raise CommandError("not_supported", "paying by app is not set up on this station")
    return service


async def confirm_app_payment(p: P.ConfirmAppPayment, ctx: CommandContext) -> dict[str, Any]:
    service = _purchases(ctx)
    confirmation = Confirmation(p.payment_id, p.sale_id, p.station_id, p.amount_cents, p.age_verified)

    def record(session: Session, verdict: Verdict) -> None:
        result = {"sale_id": p.sale_id, "payment_id": p.payment_id, "accepted": verdict.accepted,
                  "refund_id": verdict.refund_id, "sale_state": verdict.sale_state}
        status = DONE if verdict.accepted else FAILED
        detail = None if verdict.accepted else _REFUSAL_TEXT.get(verdict.reason or "", verdict.reason)
        envelope = ctx.envelope(status, result, reason=None if verdict.accepted else verdict.reason, detail=detail)
        inbox.record(session, ctx.cmd, status, envelope)
        ctx.finished = envelope

    await service.app.confirm(confirmation, ctx.actor, also=record)
    assert ctx.finished is not None
    return dict(ctx.finished["result"])


_REFUSAL_TEXT = {
    refunds.LATE: "the payment request had expired; the payment is asked back",
    refunds.WRONG_AMOUNT: "the amount differs from the payment request; the payment is asked back",
    refunds.WRONG_STATION: "the payment request is another station's; the payment is asked back",
    refunds.NOT_WAITING: "the sale is not waiting for a payment (cancelled, expired or paid); asked back",
    refunds.UNKNOWN_SALE: "this station has no such sale; the payment is asked back",
    refunds.NO_AGE_PROOF: "the goods need an age check the confirmation does not carry; asked back",
    "already_used": "this payment was used before; nothing opened again",
}


async def close_app_refund(p: P.CloseAppRefund, ctx: CommandContext) -> dict[str, Any]:
    def _apply(session: Session) -> dict[str, Any]:
        try:
            return refunds.close(session, p.refund_id, p.refunded, reference=p.reference, actor=ctx.actor)
        except LookupError as exc:
            raise CommandError("unknown_refund", str(exc)) from None

    return await ctx.transact(_apply)


async def _card_digest(ctx: CommandContext, uid: str) -> str:
    staff = ctx.services.staff if ctx.services else None
    if staff is None:
        raise CommandError("not_supported", "the station key is not available on this station")
    return str(await asyncio.to_thread(staff.secret.customer_card_digest, uid))


async def register_customer_card(p: P.RegisterCustomerCard, ctx: CommandContext) -> dict[str, Any]:
    digest = await _card_digest(ctx, p.uid)
    return await ctx.transact(lambda s: age.register_card(s, digest, p.min_age, f"{ctx.actor}/{p.checked_by}"))


async def revoke_customer_card(p: P.RevokeCustomerCard, ctx: CommandContext) -> dict[str, Any]:
    digest = await _card_digest(ctx, p.uid)

    def _apply(session: Session) -> dict[str, Any]:
        try:
            return age.revoke_card(session, digest, ctx.actor)
        except LookupError as exc:
            raise CommandError("unknown_card", str(exc)) from None

    return await ctx.transact(_apply)
