"""door supervision: door operations table and the last sensor state per compartment

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compartments") as batch_op:
        batch_op.add_column(sa.Column("door_state", sa.String(length=16), nullable=True))
    op.create_table(
        "door_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compartment_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=24), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["compartment_id"], ["compartments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_door_operations_compartment_id", "door_operations", ["compartment_id"])


def downgrade() -> None:
    op.drop_index("ix_door_operations_compartment_id", table_name="door_operations")
    op.drop_table("door_operations")
    with op.batch_alter_table("compartments") as batch_op:
        batch_op.drop_column("door_state")
