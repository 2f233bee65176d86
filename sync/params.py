"""Parameters of every command action (validated before a handler runs; JSON Schemas in docs/schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Gtin = Field(pattern=r"^(\d{8}|\d{12,14})$", description="GTIN-8/12/13/14, the business key of a product")
CompartmentId = Field(ge=1, le=9999, description="number printed on the door")


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenCompartment(Params):
    """Pulse one door open; needs an incident or order reference for the audit trail."""

    compartment_id: int = CompartmentId
    reference: str = Field(min_length=1, max_length=128)


class BlockCompartment(Params):
    compartment_id: int = CompartmentId
    reason: str = Field(min_length=1, max_length=200)
    reference: str | None = Field(default=None, max_length=128)


class UnblockCompartment(Params):
    compartment_id: int = CompartmentId
    reference: str | None = Field(default=None, max_length=128)


class Product(Params):
    gtin: str = Gtin
    name: str = Field(min_length=1, max_length=200)
    price_cents: int = Field(ge=0, le=10_000_000)
    vat_rate_bp: int = Field(default=700, ge=0, le=10_000)
    deposit_cents: int = Field(default=0, ge=0, le=100_000)
    temperature_class: Literal["ambient", "chilled", "frozen"] = "ambient"
    min_age: int | None = Field(default=None, ge=0, le=99)
    active: bool = True
    past_best_before_price_cents: int | None = Field(
        default=None, ge=0, le=10_000_000,
        description="sold at this reduced price once past its best-before date (none: it leaves sale)",
    )
    past_best_before_days: int = Field(default=3, ge=0, le=30, description="for how many days past best-before")


class SetCatalogue(Params):
    """Upsert products by GTIN; with `replace`, products not listed are deactivated."""

    products: list[Product] = Field(max_length=20_000)
    replace: bool = False


class Price(Params):
    gtin: str = Gtin
    price_cents: int = Field(ge=0, le=10_000_000)


class SetPrices(Params):
    """Change prices of known products; refused as a whole if one GTIN is unknown."""

    prices: list[Price] = Field(min_length=1, max_length=20_000)


class CreateOrder(Params):
    """Announce a pick-up order or parcel; idempotent on `external_id`.

    No credential is stored as sent: the station keeps only HMAC-SHA256 digests under its own key.
    """

    external_id: str = Field(min_length=1, max_length=64)
    kind: Literal["order", "parcel"] = "order"
    compartment_id: int | None = Field(default=None, ge=1, le=9999,
                                       description="the compartment to use (else the station picks one that fits)")
    size: Literal["S", "M", "L", "XL"] | None = Field(default=None, description="smallest compartment size it fits")
    zone: str | None = Field(default=None, min_length=1, max_length=64,
                             description="temperature zone as the station names it (snapshot); none: ambient")
    customer_ref: str | None = Field(default=None, max_length=64, description="the platform's customer reference")
    items: list[dict[str, Any]] = Field(default_factory=list, max_length=200)
    amount_due_cents: int = Field(default=0, ge=0, le=10_000_000)
    expires_at: AwareDatetime | None = Field(default=None, description="valid until: then it goes back")
    pickup_code: str | None = Field(default=None, pattern=r"^\d{10,16}$", description="typed code, 10-16 digits")
    qr_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{22,86}$",
                                 description="QR token, base64url, at least 128 bits")
    card_uid: str | None = Field(default=None, pattern=r"^([0-9A-Fa-f]{2}){4,10}$",
                                 description="UID of the customer's NFC card (hex)")
    details: dict[str, Any] = Field(default_factory=dict)


class RevokePickupCodes(Params):
    """Put signed offline pick-up codes on the station's revocation list (by their `jti`)."""

    token_ids: list[str] = Field(min_length=1, max_length=1000)


class CancelOrder(Params):
    external_id: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=200)


class RequestSnapshot(Params):
    """Send the full state snapshot (in the result and on tele/snapshot)."""


ExternalId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                   description="the platform's id of the person (its key for every later command)")
UID_PATTERN = r"^([0-9A-Fa-f]{2}){4,10}$"


class AddVolunteer(Params):
    """Add a volunteer or courier, or update one (by `external_id`; a disabled one is enabled again).

    No PIN travels: `enrolment_code` is a one-time code (10-16 digits, made by the platform and
    given to the person) that they turn into their own PIN at the station; it expires.
    """

    external_id: str = ExternalId
    name: str = Field(min_length=1, max_length=120)
    role: Literal["volunteer", "courier"] = "volunteer"
    enrolment_code: str | None = Field(default=None, pattern=r"^\d{10,16}$")
    enrolment_expires_at: AwareDatetime | None = Field(
        default=None, description="default: 14 days after the command; at most 30 days"
    )
    badge_uid: str | None = Field(default=None, pattern=UID_PATTERN, description="the badge's UID in hex (4-10 bytes)")


class DisableVolunteer(Params):
    """No more log-ins for this person; their sessions end at once."""

    external_id: str = ExternalId
    reason: str | None = Field(default=None, max_length=200)


class SetVolunteerBadge(Params):
    """Bind a (new) badge to a person, replacing the old one; `badge_uid` null removes the badge."""

    external_id: str = ExternalId
    badge_uid: str | None = Field(pattern=UID_PATTERN, description="the badge's UID in hex (4-10 bytes); null: none")


class ApplyConfigOverlay(Params):
    """Store a configuration overlay; it takes effect at the next start. Acknowledged with its SHA-256."""

    overlay: dict[str, Any]
    version: str | None = Field(default=None, max_length=64)


VoucherCode = Field(pattern=r"^2[0-9]{12}$", description="the voucher's EAN-13 (GS1 restricted range 20-29)")


class RedeemVoucher(Params):
    """Redeem a station's voucher elsewhere (e.g. at the village shop): once per voucher, idempotent per reference."""

    code: str = VoucherCode
    reference: str = Field(min_length=1, max_length=128, description="where and for what (shop, till receipt)")


class VoidVoucher(Params):
    """Void an issued voucher (lost, printed by mistake, fraud)."""

    code: str = VoucherCode
    reason: str = Field(min_length=1, max_length=200)
    reference: str | None = Field(default=None, max_length=128)


PaymentId = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                  description="the platform's id of the payment: it pays one sale, once")


class ConfirmAppPayment(Params):
    """The platform took an app payment for a sale of this station's payment request: release its goods.

    Accepted only for exactly the request's station, sale and amount, before its expiry, once per
    `payment_id`; otherwise refused and the payment asked back (`app.refund_requested`).
    """

    payment_id: str = PaymentId
    sale_id: str = Field(min_length=1, max_length=64, description="the request's sale_id")
    station_id: str = Field(min_length=1, max_length=64, description="the request's station_id")
    amount_cents: int = Field(ge=0, le=10_000_000, description="what the app paid (the request's amount_cents)")
    age_verified: int | None = Field(
        default=None, ge=0, le=99,
        description="the platform verified the account holder is at least this old (needed when the request's "
        "min_age is set)",
    )


class CloseAppRefund(Params):
    """The platform's answer to a refund request: paid back, or refused (an operator looks at it)."""

    refund_id: str = Field(min_length=1, max_length=36, description="the refund_id of app.refund_requested")
    refunded: bool
    reference: str | None = Field(default=None, max_length=128, description="the platform's refund reference")


class RegisterCustomerCard(Params):
    """An operator or volunteer checked the holder's ID: the card proves this minimum age from now on.

    The station keeps the UID's keyed digest and the age only; no name, no birth date.
    """

    uid: str = Field(pattern=UID_PATTERN, description="the card's UID in hex (4-10 bytes)")
    min_age: Literal[16, 18]
    checked_by: str = Field(min_length=1, max_length=64, description="who checked the ID (the platform's id)")


class RevokeCustomerCard(Params):
    """The card proves nothing any more (lost, wrongly registered)."""

    uid: str = Field(pattern=UID_PATTERN, description="the card's UID in hex (4-10 bytes)")


ACTIONS: dict[str, type[Params]] = {
    "open_compartment": OpenCompartment,
    "block_compartment": BlockCompartment,
    "unblock_compartment": UnblockCompartment,
    "set_catalogue": SetCatalogue,
    "set_prices": SetPrices,
    "create_order": CreateOrder,
    "cancel_order": CancelOrder,
    "revoke_pickup_codes": RevokePickupCodes,
    "request_snapshot": RequestSnapshot,
    "apply_config_overlay": ApplyConfigOverlay,
    "redeem_voucher": RedeemVoucher,
    "void_voucher": VoidVoucher,
    "add_volunteer": AddVolunteer,
    "disable_volunteer": DisableVolunteer,
    "set_volunteer_badge": SetVolunteerBadge,
    "confirm_app_payment": ConfirmAppPayment,
    "close_app_refund": CloseAppRefund,
    "register_customer_card": RegisterCustomerCard,
    "revoke_customer_card": RevokeCustomerCard,
}


def as_json(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
