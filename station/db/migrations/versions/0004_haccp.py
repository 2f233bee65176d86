"""cold chain: hash-chained HACCP temperature log and compartment sale blocks

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "haccp_log",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("fridge", sa.String(length=64), nullable=True),
        sa.Column("probe", sa.String(length=32), nullable=True),
        sa.Column("value_dc", sa.Integer(), nullable=True),
        sa.Column("min_dc", sa.Integer(), nullable=True),
        sa.Column("max_dc", sa.Integer(), nullable=True),
        sa.Column("mean_dc", sa.Integer(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "cold_chain_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compartment_id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=True),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("cause", sa.String(length=24), nullable=False),
        sa.Column("limit_c", sa.Float(), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("previous_reason", sa.Text(), nullable=True),
        sa.Column("blocked_at", sa.String(length=32), nullable=False),
        sa.Column("released_at", sa.String(length=32), nullable=True),
        sa.Column("release", sa.String(length=24), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("measured_c", sa.Float(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"]),
        sa.ForeignKeyConstraint(["compartment_id"], ["compartments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cold_chain_blocks_compartment_id", "cold_chain_blocks", ["compartment_id"])


def downgrade() -> None:
    op.drop_index("ix_cold_chain_blocks_compartment_id", table_name="cold_chain_blocks")
    op.drop_table("cold_chain_blocks")
    op.drop_table("haccp_log")
