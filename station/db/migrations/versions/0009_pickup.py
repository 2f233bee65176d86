"""pickup: orders and parcels get what assignment, loading and collection need

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

- orders gain the compartment size and temperature zone they need (`size`, `zone`), the customer
  reference and items from the platform, a compartment the platform named (`wanted_compartment`),
  the keyed hash of a QR token (`qr_hmac`) and of a customer NFC card (`card_hmac`), who loaded it
  and when, who collected it, and `updated_at` (the flow engine stamps every arrow).
- `code_hmac` is now HMAC-SHA256 under the station key of the typed pick-up code (before it held
  whatever the platform sent, unchecked; no station collected an order yet, so nothing moves).
- pickup_tokens: the signed offline codes used or revoked (single use, revocation list).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("size", sa.String(length=4), nullable=True))
        batch.add_column(sa.Column("zone", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("customer_ref", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("items", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("wanted_compartment", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("qr_hmac", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("card_hmac", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("loaded_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("loaded_at", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("collected_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.String(length=32), nullable=True))
    op.create_index("ix_orders_code_hmac", "orders", ["code_hmac"])
    op.create_index("ix_orders_qr_hmac", "orders", ["qr_hmac"])
    op.create_index("ix_orders_card_hmac", "orders", ["card_hmac"])
    op.create_index("ix_orders_state", "orders", ["state"])
    op.create_table(
        "pickup_tokens",
        sa.Column("token_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),  # used | revoked
        sa.Column("order_external_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("token_id"),
    )


def downgrade() -> None:
    raise NotImplementedError("the station's data moves forward only; restore a backup to go back")
