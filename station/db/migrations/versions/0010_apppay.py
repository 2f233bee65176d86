"""apppay: app payments, their refund requests, and age-verified customer cards

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28

- sales gain `paid_by` (card | app | credit), the platform's `app_payment_id` (unique: a payment
  pays one sale), the payment request's expiry, the cart's `min_age` and which proof checked it.
- app_refunds: one refund request per platform payment (signed, in the outbox; the platform's answer closes it).
- customer_cards: keyed UID digest and verified minimum age, nothing else about the person.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales") as batch:
        batch.add_column(sa.Column("paid_by", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("app_payment_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("app_expires_at", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("min_age", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("age_proof", sa.String(length=16), nullable=True))
        batch.create_unique_constraint("uq_sales_app_payment_id", ["app_payment_id"])
    op.create_table(
        "app_refunds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("sale_id", sa.String(length=64), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payment_id"),
    )
    op.create_index("ix_app_refunds_sale_id", "app_refunds", ["sale_id"])
    op.create_table(
        "customer_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid_digest", sa.String(length=64), nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=False),
        sa.Column("registered_by", sa.String(length=80), nullable=False),
        sa.Column("registered_at", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid_digest"),
    )


def downgrade() -> None:
    raise NotImplementedError("the station's data moves forward only; restore a backup to go back")
