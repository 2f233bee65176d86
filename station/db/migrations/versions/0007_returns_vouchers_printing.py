"""deposit returns, voucher ledger, credit at the till, digital receipts and the print queue

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

- deposit_returns gains the machine's session ids, the container count, what the machine credited
  and the shopper's choice; its containers go to `deposit_return_items` (one row per accepted
  container, stored before the machine's FIFO event is acknowledged).
- vouchers gain the EAN-13 `code`, origin, medium (paper or credit), what earned them (a return or
  the change of a sale), the sale holding or redeeming them, who redeemed them, and `updated_at`.
- sales gain `credit_cents` (vouchers applied) and `card_cents` (what the terminal is asked for);
  existing sales asked the terminal for their whole total.
- `receipts` (digital receipts, 128-bit ids) and `print_jobs` (the persisted print queue).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deposit_returns") as batch:
        batch.add_column(sa.Column("count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("machine_cents", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("machine_session", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("session_before", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("choice", sa.String(length=16), nullable=True))
        batch.create_index("ix_deposit_returns_machine_session", ["machine_session"])
    with op.batch_alter_table("vouchers") as batch:
        batch.add_column(sa.Column("code", sa.String(length=13), nullable=True))
        batch.add_column(sa.Column("origin", sa.String(length=16), nullable=False, server_default="return"))
        batch.add_column(sa.Column("medium", sa.String(length=8), nullable=False, server_default="paper"))
        batch.add_column(sa.Column("issued_for", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("sale_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("redeemed_by", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.String(length=32), nullable=True))
    # No voucher was ever issued before this revision (the table was unused); fill the new columns anyway.
    op.execute("UPDATE vouchers SET code = serial, updated_at = issued_at")
    with op.batch_alter_table("vouchers") as batch:
        batch.alter_column("code", existing_type=sa.String(length=13), nullable=False)
        batch.alter_column("updated_at", existing_type=sa.String(length=32), nullable=False)
        batch.create_unique_constraint("uq_vouchers_code", ["code"])
        batch.create_index("ix_vouchers_sale_id", ["sale_id"])
        batch.create_index("ix_vouchers_issued_for", ["issued_for"])
    with op.batch_alter_table("sales") as batch:
        batch.add_column(sa.Column("credit_cents", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("card_cents", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE sales SET card_cents = total_cents")
    op.create_table(
        "deposit_return_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.String(length=36), nullable=True),
        sa.Column("machine_session", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("deposit_cents", sa.Integer(), nullable=False),
        sa.Column("machine_cents", sa.Integer(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("accepted_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["return_id"], ["deposit_returns.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deposit_return_items_return_id", "deposit_return_items", ["return_id"])
    op.create_table(
        "receipts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=4), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_receipts_reference", "receipts", ["reference"])
    op.create_table(
        "print_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["receipt_id"], ["receipts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_print_jobs_receipt_id", "print_jobs", ["receipt_id"])
    op.create_index("ix_print_jobs_state", "print_jobs", ["state", "created_at"])


def downgrade() -> None:
    raise NotImplementedError("the station's data moves forward only; restore a backup to go back")
