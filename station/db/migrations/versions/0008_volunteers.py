"""volunteers: accounts with roles, log-in sessions, the PIN/badge throttle, restocking, marked-down prices

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

- volunteers gain `role` (volunteer | operator | courier), `external_id` (the platform's id),
  `created_by`, `disabled_at` and a one-time enrolment code (`enrolment_hash`, keyed HMAC, and its
  expiry). The table was never written before, so nothing is moved.
- volunteer_sessions (one row per log-in), staff_throttle (failed attempts per keypad, reader and
  account), restock_sessions (a compartment opened to restock or clean it).
- products gain an optional marked-down price for goods past their best-before date.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volunteers") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="volunteer"))
        batch.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(length=64), nullable=False, server_default="system"))
        batch.add_column(sa.Column("disabled_at", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("enrolment_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("enrolment_expires_at", sa.String(length=32), nullable=True))
        batch.create_unique_constraint("uq_volunteers_external_id", ["external_id"])
        batch.create_unique_constraint("uq_volunteers_enrolment_hash", ["enrolment_hash"])
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("past_best_before_price_cents", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("past_best_before_days", sa.Integer(), nullable=False, server_default="3"))
    op.create_table(
        "volunteer_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("keypad", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.String(length=32), nullable=False),
        sa.Column("last_seen_at", sa.String(length=32), nullable=False),
        sa.Column("ended_at", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_volunteer_sessions_volunteer_id", "volunteer_sessions", ["volunteer_id"])
    op.create_table(
        "staff_throttle",
        sa.Column("scope", sa.String(length=80), nullable=False),
        sa.Column("consecutive", sa.Integer(), nullable=False),
        sa.Column("recent", sa.JSON(), nullable=False),
        sa.Column("paused_until", sa.String(length=32), nullable=True),
        sa.Column("locked_at", sa.String(length=32), nullable=True),
        sa.Column("last_failure_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("scope"),
    )
    op.create_table(
        "restock_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compartment_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("door_operation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.Column("closed_at", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["compartment_id"], ["compartments.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["volunteer_sessions.id"]),
        sa.ForeignKeyConstraint(["volunteer_id"], ["volunteers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_restock_sessions_compartment_id", "restock_sessions", ["compartment_id"])


def downgrade() -> None:
    raise NotImplementedError("the station's data moves forward only; restore a backup to go back")
