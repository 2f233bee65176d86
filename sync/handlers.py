"""Command handlers: catalogue, prices, orders, block/unblock, snapshot, config overlay, remote open, vouchers,
volunteers.

Handlers call the services' public functions and never write their tables. Database-only changes
run in `ctx.transact`, the same transaction that stores the command's result, so a command runs
exactly once. Business keys make re-applied changes harmless: GTIN for products, `external_id`
for orders. Remote opening commits its acceptance before the door is touched and is never re-run
(safety-and-sync.md §4.5).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from station import catalogue, orders
from station.coldchain.transitions import open_block
from station.compartments import owner
from station.db.types import utcnow
from station.journal import audit
from station.pickup import credentials as pickup_credentials
from station.pickup import offline as pickup_offline
from station.staff import accounts as staff_accounts
from station.vouchers import VoucherError
from station.vouchers import ledger as vouchers

from . import params as P
from .apppay_handlers import register_app_handlers
from .router import CommandContext, CommandError, CommandRouter
from .state import canonical_sha256, meta_get, meta_set

OPEN_TIMEOUT_S = 60.0
UNLOCK_MAX_LIFETIME_S = 300.0  # unlock windows 60-300 s (safety-and-sync.md §5.2)


class DoorOpener(Protocol):
    """The lock-wall service as seen by remote commands."""

    async def open(self, compartment_id: int, reason: str, reference: str | None) -> dict[str, Any]: ...


ColdChainRelease = Callable[[int, str, str], Awaitable[dict[str, Any]]]
"""(compartment, operator, reference) -> event payload: the cold-chain service's operator override."""


@dataclass
class CommandServices:
    door_opener: DoorOpener | None = None
    snapshot: Callable[[], Awaitable[dict[str, Any]]] | None = None
    validate_overlay: Callable[[dict[str, Any]], None] | None = None
    cold_chain_release: ColdChainRelease | None = None
    staff: Any = None  # station.staff.StaffService: hashes codes and badges, ends sessions of disabled accounts
    purchases: Any = None  # station.purchase.PurchaseService: app payment confirmations (apppay_handlers.py)


def register_handlers(router: CommandRouter) -> None:
    router.register(
        "open_compartment", open_compartment, params=P.OpenCompartment, max_lifetime_s=UNLOCK_MAX_LIFETIME_S
    )
    router.register("block_compartment", block_compartment, params=P.BlockCompartment)
    router.register("unblock_compartment", unblock_compartment, params=P.UnblockCompartment)
    router.register("set_catalogue", set_catalogue, params=P.SetCatalogue)
    router.register("set_prices", set_prices, params=P.SetPrices)
    router.register("create_order", create_order, params=P.CreateOrder)
    router.register("cancel_order", cancel_order, params=P.CancelOrder)
    router.register("revoke_pickup_codes", revoke_pickup_codes, params=P.RevokePickupCodes)
    router.register("request_snapshot", request_snapshot, params=P.RequestSnapshot)
    router.register("apply_config_overlay", apply_config_overlay, params=P.ApplyConfigOverlay)
    router.register("redeem_voucher", redeem_voucher, params=P.RedeemVoucher)
    router.register("void_voucher", void_voucher, params=P.VoidVoucher)
    router.register("add_volunteer", add_volunteer, params=P.AddVolunteer)
    router.register("disable_volunteer", disable_volunteer, params=P.DisableVolunteer)
    router.register("set_volunteer_badge", set_volunteer_badge, params=P.SetVolunteerBadge)
    register_app_handlers(router)


def _compartment(session: Session, compartment_id: int) -> None:
    try:
        owner.status(session, compartment_id)
    except owner.CompartmentError:
        raise CommandError("unknown_compartment", f"no compartment {compartment_id}") from None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


# -- doors ------------------------------------------------------------------------------------
async def open_compartment(p: P.OpenCompartment, ctx: CommandContext) -> dict[str, Any]:
    opener = ctx.services.door_opener if ctx.services else None
    if opener is None:
        raise CommandError("no_door_opener", "no door service is wired into sync on this station")
    await ctx.db.read(lambda s: _compartment(s, p.compartment_id))
    subject, cmd_id = f"compartment:{p.compartment_id}", ctx.cmd.cmd_id
    await ctx.accept(
        lambda s: audit(
            s,
            "remote_open.requested",
            subject,
            actor=ctx.actor,
            reason="remote",
            reference=p.reference,
            details={"cmd_id": cmd_id},
        )
    )
    try:
        outcome = await asyncio.wait_for(opener.open(p.compartment_id, "remote", p.reference), OPEN_TIMEOUT_S)
    except TimeoutError:
        detail = f"no answer from the door service in {OPEN_TIMEOUT_S:.0f} s; check the door before retrying"
        raise CommandError("door_outcome_unknown", detail) from None
    outcome = _jsonable(outcome)

    def _done(session: Session) -> dict[str, Any]:
        audit(
            session,
            "remote_open.result",
            subject,
            actor=ctx.actor,
            reason="remote",
            reference=p.reference,
            details={"cmd_id": cmd_id, "outcome": outcome},
        )
        return {"compartment_id": p.compartment_id, "reference": p.reference, "outcome": outcome}

    return await ctx.transact(_done)


def _set_blocked(
    ctx: CommandContext, compartment_id: int, blocked: bool, reason: str | None, reference: str | None
) -> Awaitable[dict[str, Any]]:
    """The operator's hold on a compartment (kind `operator`); other holds (cold chain) are untouched."""

    def _apply(session: Session) -> dict[str, Any]:
        _compartment(session, compartment_id)
        ref = reference or ctx.cmd.cmd_id
        if blocked:
            current = [h for h in owner.holds(session, compartment_id) if h.kind == "operator"]
            if current and current[0].reason == reason:
                changed = False
            else:
                if current:
                    owner.release_hold(session, compartment_id, "operator", actor=ctx.actor, reference=ref)
                changed = owner.hold(session, compartment_id, "operator", actor=ctx.actor, reference=ref,
                                     reason=reason)
        else:
            changed = owner.release_hold(session, compartment_id, "operator", actor=ctx.actor, reference=ref)
        return {
            "compartment_id": compartment_id,
            "status": str(owner.status(session, compartment_id)),
            "blocked_reason": owner.blocked_reason(session, compartment_id),
            "changed": changed,
        }

    return ctx.transact(_apply)


async def block_compartment(p: P.BlockCompartment, ctx: CommandContext) -> dict[str, Any]:
    return await _set_blocked(ctx, p.compartment_id, True, p.reason, p.reference)


async def unblock_compartment(p: P.UnblockCompartment, ctx: CommandContext) -> dict[str, Any]:
    if await ctx.db.read(lambda s: open_block(s, p.compartment_id) is not None):
        # A cold-chain block belongs to the cold-chain service: its override is audited there and
        # keeps its supervision in step (it would otherwise not re-block a still-warm compartment).
        release = ctx.services.cold_chain_release if ctx.services else None
        if release is None:
            raise CommandError("cold_chain_block", "blocked by the cold chain: record a corrective action")
        reference = p.reference or ctx.cmd.cmd_id
        await ctx.accept(
            lambda s: audit(
                s,
                "compartment.unblock_requested",
                f"compartment:{p.compartment_id}",
                actor=ctx.actor,
                reason="remote",
                reference=reference,
                details={"cmd_id": ctx.cmd.cmd_id},
            )
        )
        payload = await release(p.compartment_id, ctx.cmd.issuer, reference)  # the service adds 'operator:'
        return {"compartment_id": p.compartment_id, "changed": True, "cold_chain": _jsonable(payload)}
    return await _set_blocked(ctx, p.compartment_id, False, None, p.reference)


# -- catalogue and prices ----------------------------------------------------------------------
async def set_catalogue(p: P.SetCatalogue, ctx: CommandContext) -> dict[str, Any]:
    items = [catalogue.ProductData(**item.model_dump()) for item in p.products]
    return await ctx.transact(
        lambda s: catalogue.set_catalogue(s, items, replace=p.replace, actor=ctx.actor, reference=ctx.cmd.cmd_id)
    )


async def set_prices(p: P.SetPrices, ctx: CommandContext) -> dict[str, Any]:
    wanted = {item.gtin: item.price_cents for item in p.prices}

    def _apply(session: Session) -> dict[str, Any]:
        try:
            return catalogue.set_prices(session, wanted, actor=ctx.actor, reference=ctx.cmd.cmd_id)
        except catalogue.CatalogueError as exc:
            raise CommandError(exc.code, str(exc)) from None

    return await ctx.transact(_apply)


# -- orders --------------------------------------------------------------------------------------
async def create_order(p: P.CreateOrder, ctx: CommandContext) -> dict[str, Any]:
    staff = ctx.services.staff if ctx.services else None
    credentials = (p.pickup_code, p.qr_token, p.card_uid)
    if staff is None and any(c is not None for c in credentials):
        raise CommandError("not_supported", "this station keeps no key to store pick-up credentials with")

    def digest(kind: pickup_credentials.Kind, value: str | None) -> str | None:
        if value is None:
            return None
        assert staff is not None
        return pickup_credentials.digest(staff.secret, kind, value)

    new = orders.NewOrder(
        p.external_id, kind=p.kind, size=p.size, zone=p.zone, customer_ref=p.customer_ref, items=p.items,
        compartment_id=p.compartment_id, amount_due_cents=p.amount_due_cents, expires_at=p.expires_at,
        code_hmac=digest(pickup_credentials.Kind.CODE, p.pickup_code),
        qr_hmac=digest(pickup_credentials.Kind.QR, p.qr_token),
        card_hmac=digest(pickup_credentials.Kind.CARD, p.card_uid), details=p.details,
    )

    def _apply(session: Session) -> dict[str, Any]:
        try:
            return orders.announce(session, new, actor=ctx.actor, reference=ctx.cmd.cmd_id)
        except orders.OrderError as exc:
            raise CommandError(exc.code, str(exc)) from None

    return await ctx.transact(_apply)


async def revoke_pickup_codes(p: P.RevokePickupCodes, ctx: CommandContext) -> dict[str, Any]:
    def _apply(session: Session) -> dict[str, Any]:
        added = pickup_offline.revoke(session, list(p.token_ids), actor=ctx.actor, reference=ctx.cmd.cmd_id,
                                      now=utcnow())
        return {"revoked": added, "known": len(p.token_ids) - added}

    return await ctx.transact(_apply)


async def cancel_order(p: P.CancelOrder, ctx: CommandContext) -> dict[str, Any]:
    def _apply(session: Session) -> dict[str, Any]:
        try:
            return orders.cancel(session, p.external_id, actor=ctx.actor, reason=p.reason, reference=ctx.cmd.cmd_id)
        except orders.OrderError as exc:
            raise CommandError(exc.code, str(exc)) from None

    return await ctx.transact(_apply)


# -- snapshot and configuration --------------------------------------------------------------------
async def request_snapshot(_p: P.RequestSnapshot, ctx: CommandContext) -> dict[str, Any]:
    if ctx.services is None or ctx.services.snapshot is None:
        raise CommandError("not_supported", "snapshots are not available")
    return {"snapshot": await ctx.services.snapshot()}


async def apply_config_overlay(p: P.ApplyConfigOverlay, ctx: CommandContext) -> dict[str, Any]:
    validate = ctx.services.validate_overlay if ctx.services else None
    if validate is not None:
        try:
            validate(p.overlay)
        except ValueError as exc:
            raise CommandError("invalid_overlay", str(exc)[:500]) from None
    digest = canonical_sha256(p.overlay)

    def _apply(session: Session) -> dict[str, Any]:
        if meta_get(session, "config_overlay_sha256") == digest:
            return {"sha256": digest, "changed": False, "effective": "next_start"}
        meta_set(session, "config_overlay", json.dumps(p.overlay, sort_keys=True, separators=(",", ":")))
        meta_set(session, "config_overlay_sha256", digest)
        meta_set(session, "config_overlay_version", p.version or "")
        meta_set(session, "config_overlay_at", utcnow().isoformat())
        audit(
            session,
            "config.overlay",
            "config",
            actor=ctx.actor,
            reason="remote",
            details={"cmd_id": ctx.cmd.cmd_id, "sha256": digest, "version": p.version},
        )
        return {"sha256": digest, "changed": True, "effective": "next_start"}

    return await ctx.transact(_apply)


# -- vouchers ------------------------------------------------------------------------------------
async def redeem_voucher(p: P.RedeemVoucher, ctx: CommandContext) -> dict[str, Any]:
    """The ledger's redemption in the command's transaction: a voucher is redeemed once, here or anywhere."""
    return await _voucher_change(ctx, lambda s: vouchers.redeem(s, p.code, actor=ctx.actor, reference=p.reference))


async def void_voucher(p: P.VoidVoucher, ctx: CommandContext) -> dict[str, Any]:
    reference = p.reference or ctx.cmd.cmd_id
    return await _voucher_change(
        ctx, lambda s: vouchers.void(s, p.code, actor=ctx.actor, reason=p.reason, reference=reference)
    )


async def _voucher_change(ctx: CommandContext, change: Callable[[Session], dict[str, Any]]) -> dict[str, Any]:
    try:
        return _jsonable(await ctx.transact(change))
    except VoucherError as exc:
        refusal = exc
        if refusal.alarm is not None:  # e.g. presented again after it was redeemed: the refusal's alarm stays
            await ctx.db.write(lambda s: vouchers.record_refusal(s, refusal))
        raise CommandError(refusal.code, str(refusal)) from None
# -- volunteers ---------------------------------------------------------------------------------------
ENROLMENT_DEFAULT = timedelta(days=14)
ENROLMENT_MAX = timedelta(days=30)


def _staff(ctx: CommandContext) -> Any:
    staff = ctx.services.staff if ctx.services else None
    if staff is None:
        raise CommandError("not_supported", "volunteer accounts are not available on this station")
    return staff


def _account_result(account: Any, **extra: Any) -> dict[str, Any]:
    return {"account_id": account.id, "external_id": account.external_id, "role": str(account.role),
            "active": account.active, "has_pin": account.has_pin, "has_badge": account.has_badge,
            "enrolment_pending": account.enrolment_pending, **extra}  # fmt: skip


async def add_volunteer(p: P.AddVolunteer, ctx: CommandContext) -> dict[str, Any]:
    staff = _staff(ctx)
    now = staff.clock.now()  # the station's clock decides when the code expires, so it decides here too
    expires = p.enrolment_expires_at or now + ENROLMENT_DEFAULT
    if p.enrolment_code is not None and not now < expires <= now + ENROLMENT_MAX:
        raise CommandError("invalid_expiry", "enrolment_expires_at must lie within the next 30 days")
    code_hash = await staff.hasher.enrolment(p.enrolment_code) if p.enrolment_code is not None else None
    badge_hash = await staff.hasher.badge(p.badge_uid) if p.badge_uid is not None else None
    role, ref = staff_accounts.Role(p.role), ctx.cmd.cmd_id
    enrolment = (code_hash, expires) if code_hash is not None else None

    def _apply(session: Session) -> dict[str, Any]:
        try:
            found = staff_accounts.by_external_id(session, p.external_id)
            if found is None:
                account = staff_accounts.add(session, name=p.name, role=role, actor=ctx.actor, badge_hash=badge_hash,
                                             external_id=p.external_id, enrolment=enrolment, reference=ref)
                return _account_result(account, created=True)
            account = staff_accounts.update(session, found.id, actor=ctx.actor, name=p.name, role=role, reference=ref)
            if not account.active:
                account = staff_accounts.enable(session, found.id, actor=ctx.actor, reference=ref)
            if enrolment is not None:
                account = staff_accounts.set_enrolment(session, found.id, *enrolment, actor=ctx.actor, reference=ref)
            if badge_hash is not None:
                account = staff_accounts.set_badge(session, found.id, badge_hash, actor=ctx.actor, reference=ref)
            return _account_result(account, created=False)
        except staff_accounts.AccountError as exc:
            raise CommandError(exc.code, str(exc)) from None

    return await ctx.transact(_apply)


async def disable_volunteer(p: P.DisableVolunteer, ctx: CommandContext) -> dict[str, Any]:
    staff = _staff(ctx)

    def _apply(session: Session) -> dict[str, Any]:
        found = staff_accounts.by_external_id(session, p.external_id)
        if found is None:
            raise CommandError("not_found", f"no account with external_id {p.external_id}")
        try:
            account = staff_accounts.disable(session, found.id, actor=ctx.actor, reason=p.reason,
                                             reference=ctx.cmd.cmd_id)  # fmt: skip
        except staff_accounts.AccountError as exc:
            raise CommandError(exc.code, str(exc)) from None
        return _account_result(account)

    result = await ctx.transact(_apply)
    await staff.end_sessions_of(result["account_id"], "account disabled")
    return result


async def set_volunteer_badge(p: P.SetVolunteerBadge, ctx: CommandContext) -> dict[str, Any]:
    staff = _staff(ctx)
    badge_hash = await staff.hasher.badge(p.badge_uid) if p.badge_uid is not None else None

    def _apply(session: Session) -> dict[str, Any]:
        found = staff_accounts.by_external_id(session, p.external_id)
        if found is None:
            raise CommandError("not_found", f"no account with external_id {p.external_id}")
        try:
            account = staff_accounts.set_badge(session, found.id, badge_hash, actor=ctx.actor,
                                               reference=ctx.cmd.cmd_id)  # fmt: skip
        except staff_accounts.AccountError as exc:
            raise CommandError(exc.code, str(exc)) from None
        return _account_result(account)

    result = await ctx.transact(_apply)
    if badge_hash is None:
        await staff.end_sessions_of(result["account_id"], "badge removed")
    return result
