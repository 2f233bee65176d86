"""How long the station keeps history it no longer needs for running (`[retention]`).

The platform is the system of record: once it has acknowledged the events of a finished sale, door
operation or alarm, the station keeps its own rows only as long as someone on site may need them
(a shopper's complaint, a chargeback, a technician, a food inspector), then removes them in small
batches. Nothing whose event the platform has not acknowledged is ever removed, whatever its age.
The HACCP log has its own rules under `[haccp]` (at least two years, §4 LMHV / Reg. (EC) 852/2004
practice); vouchers and deposit returns stay while they can still be redeemed.
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
    interval_s: float = Field(default=3600, ge=10, le=86_400, description="how often the removal runs")
    batch_rows: int = Field(default=500, ge=10, le=10_000, description="rows removed per transaction")
    pause_s: float = Field(default=0.02, ge=0, le=5, description="pause between batches, so sales never wait long")
    vacuum_pages: int = Field(default=256, ge=0, le=100_000, description="free pages returned to the disk per step")
