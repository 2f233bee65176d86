"""outbox: one partial index on the pending rows instead of two indexes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

`ix_outbox_pending (delivered_at, priority, seq)` indexed every row ever written, and
`ix_outbox_pending_age (created_at) WHERE delivered_at IS NULL` the pending ones again. One partial
index on the pending rows serves the relay's reads (priority, seq), the health figures (count,
oldest) and retention's cut-off (oldest pending), each without reading delivered history
(delivered_at in it, always NULL, makes it a covering index): every event written is one index
page fewer to rewrite on the flash, and its acknowledgement one or two fewer.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP INDEX ix_outbox_pending_age")
    op.execute("DROP INDEX ix_outbox_pending")
    op.execute(
        "CREATE INDEX ix_outbox_pending ON outbox (priority, seq, stream, created_at, delivered_at) "
        "WHERE delivered_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_outbox_pending")
    op.execute("CREATE INDEX ix_outbox_pending ON outbox (delivered_at, priority, seq)")
    op.execute("CREATE INDEX ix_outbox_pending_age ON outbox (created_at) WHERE delivered_at IS NULL")
