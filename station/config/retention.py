"""How long the station keeps history it no longer needs for running (`[retention]`).

The platform is the system of record: once it has acknowledged the events of a finished sale, door
operation or alarm, the station keeps its own rows only as long as someone on site may need them
(a shopper's complaint, a chargeback, a technician, a food inspector), then removes them in small
batches. Nothing whose event the platform has not acknowledged is ever removed, whatever its age.
The HACCP log has its own rules under `[haccp]` (at least two years, §4 LMHV / Reg. (EC) 852/2004
practice); vouchers stay while they can still be redeemed (only redeemed or void ones go), and a
deposit return stays as long as a voucher it issued does. The books themselves (GoBD, §147 AO: ten
years for receipts and bookings) are the platform's: every sale, payment, voucher and return reaches
it as acknowledged events before the station removes anything, so the station's copy only has to
cover what is asked on site (a complaint, a card dispute, about 13 months).
"""

from __future__ import annotations

from pydantic import Field

from .base import Section


class RetentionConfig(Section):
    """History kept on the station after the platform acknowledged it, and how it is removed."""

    sales_days: float = Field(
        default=400, ge=30, description="finished sales with their lines and payments: card disputes and chargebacks "
        "reach back up to about 13 months; the platform keeps the books (GoBD, §147 AO)",
    )
    doors_days: float = Field(default=400, ge=30, description="finished door operations")
    audit_days: float = Field(default=400, ge=30, description="audit-log entries (who did what at the station)")
    alarms_days: float = Field(default=400, ge=30, description="cleared alarms")
    orders_days: float = Field(default=400, ge=30, description="finished orders and parcels")
    receipts_days: float = Field(
        default=400, ge=30, description="digital receipts (the QR link a shopper keeps) and finished print jobs: "
        "as long as a sale can still be disputed; the platform keeps the books and the receipt data (§147 AO)",
    )
    vouchers_days: float = Field(
        default=400, ge=30, description="redeemed or void vouchers and credits; an issued voucher stays whatever its "
        "age (a Pfandbon is owed until redeemed: three years from the end of its year, §§ 195, 199 BGB)",
    )
    deposit_days: float = Field(
        default=400, ge=30, description="finished deposit returns with their containers, once no kept voucher "
        "names them (the deposit clearing counts machine and platform figures, not these rows)",
    )
    staff_sessions_days: float = Field(
        default=90, ge=7, description="ended volunteer log-in sessions (personal data: kept only as long as an "
        "incident is usually looked into, Art. 5(1)(e) GDPR; who did what stays in the audit log)",
    )
    throttle_days: float = Field(
        default=30, ge=1, description="log-in throttle rows without failures since their last success and not "
        "locked (a locked keypad or account stays until an operator lifts it)",
    )
    customer_cards_days: float = Field(
        default=90, ge=7, description="revoked customer cards (a keyed digest of the card's UID and the age "
        "checked: personal data, Art. 5(1)(e) GDPR), counted from the revocation; a card in use stays",
    )
    pickup_codes_days: float = Field(
        default=100, ge=91, description="used signed offline pick-up codes, kept so a code is taken once: a "
        "code valid for longer than pickup.offline_max_validity_days (at most 90) is refused, so after this "
        "a used one has expired anyway; revoked codes stay (their expiry is not known here)",
    )
    interval_s: float = Field(default=3600, ge=10, le=86_400, description="how often the removal runs")
    batch_rows: int = Field(default=100, ge=10, le=10_000, description="rows removed per transaction")
    pause_s: float = Field(default=0.02, ge=0, le=5, description="pause between batches, so sales never wait long")
    vacuum_pages: int = Field(default=256, ge=0, le=100_000, description="free pages returned to the disk per step")
