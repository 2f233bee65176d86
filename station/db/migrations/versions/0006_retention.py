"""retention: the age of pending events at the cost of a look-up, whatever the history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

A partial index on the outbox's pending rows: the oldest pending event (health, retention's cut-off)
is found without reading delivered history.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_outbox_pending_age ON outbox (created_at) WHERE delivered_at IS NULL")


def downgrade() -> None:
    op.execute("DROP INDEX ix_outbox_pending_age")
