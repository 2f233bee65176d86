"""flow engine: one owner of compartment status, holds for blocks, current-only contents, cold-chain block states

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

- compartments.status becomes what the compartment is used for (empty, loaded, reserved, restocking,
  assigned, holding, collecting, needs_check, out_of_service); blocks move to `compartment_holds`
  (`blocked_reason` keeps their summary). A compartment that was `blocked` returns to the status it
  had before its cold-chain block, or `needs_check` when that is unknown; `open` becomes `needs_check`.
- compartment_contents keeps only what is in the compartments now (quantity 0 rows go), and gains
  `use_by` and `lot`.
- cold_chain_blocks gains `state` (blocked | released) and loses the saved previous status.
- sale_lines gain the product's GTIN; door operations `abandoned` become `maybe_opened` (that is what
  they were: a pulse whose opening nobody saw).
- excursions in progress move from station_meta JSON to `coldchain_excursions`.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "compartment_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compartment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("since", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["compartment_id"], ["compartments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("compartment_id", "kind", name="uq_hold_kind"),
    )
    op.create_table(
        "coldchain_excursions",
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "subject"),
    )
    with op.batch_alter_table("compartment_contents") as batch:
        batch.add_column(sa.Column("use_by", sa.Date(), nullable=True))
        batch.add_column(sa.Column("lot", sa.String(length=64), nullable=True))
    with op.batch_alter_table("sale_lines") as batch:
        batch.add_column(sa.Column("gtin", sa.String(length=14), nullable=True))
    with op.batch_alter_table("cold_chain_blocks") as batch:
        batch.add_column(sa.Column("state", sa.String(length=16), nullable=False, server_default="blocked"))
    _move_data()
    with op.batch_alter_table("cold_chain_blocks") as batch:
        batch.drop_column("previous_status")
        batch.drop_column("previous_reason")


def _move_data() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM compartment_contents WHERE quantity = 0"))
    conn.execute(
        sa.text("UPDATE sale_lines SET gtin = (SELECT gtin FROM products WHERE products.id = sale_lines.product_id)")
    )
    conn.execute(sa.text("UPDATE door_operations SET state = 'maybe_opened' WHERE state = 'abandoned'"))
    conn.execute(sa.text("UPDATE cold_chain_blocks SET state = 'released' WHERE released_at IS NOT NULL"))
    blocks = conn.execute(
        sa.text(
            "SELECT compartment_id, alarm_id, previous_status, blocked_at FROM cold_chain_blocks "
            "WHERE released_at IS NULL"
        )
    ).all()
    cold = {row[0]: row for row in blocks}
    for comp_id, alarm_id, _previous, since in blocks:
        conn.execute(
            sa.text(
                "INSERT INTO compartment_holds (compartment_id, kind, reference, reason, actor, since) "
                "VALUES (:c, 'cold_chain', :ref, 'Kühlung gestört', 'system', :since)"
            ),
            {"c": comp_id, "ref": f"alarm:{alarm_id}", "since": since},
        )
    rows = conn.execute(sa.text("SELECT id, status, blocked_reason, updated_at FROM compartments")).all()
    for comp_id, status, reason, updated_at in rows:
        new = {"open": "needs_check", "out_of_order": "out_of_service"}.get(status, status)
        if status == "blocked":
            if comp_id in cold:
                previous = cold[comp_id][2]
                new = {"loaded": "loaded", "empty": "empty", "reserved": "loaded"}.get(previous, "needs_check")
            else:  # an operator's block
                new = "needs_check"
                conn.execute(
                    sa.text(
                        "INSERT INTO compartment_holds (compartment_id, kind, reference, reason, actor, since) "
                        "VALUES (:c, 'operator', NULL, :reason, 'operator', :since)"
                    ),
                    {"c": comp_id, "reason": reason, "since": updated_at},
                )
        summary = _summary(conn, comp_id)
        conn.execute(
            sa.text("UPDATE compartments SET status = :s, blocked_reason = :r WHERE id = :c"),
            {"s": new, "r": summary, "c": comp_id},
        )
    for key, value in conn.execute(
        sa.text("SELECT key, value FROM station_meta WHERE key LIKE 'coldchain.excursion.%'")
    ).all():
        zone = key.removeprefix("coldchain.excursion.")
        for subject, started in json.loads(value).items():
            conn.execute(
                sa.text("INSERT INTO coldchain_excursions (zone, subject, started_at) VALUES (:z, :s, :t)"),
                {"z": zone, "s": subject, "t": float(started)},
            )
    conn.execute(sa.text("DELETE FROM station_meta WHERE key LIKE 'coldchain.excursion.%'"))


def _summary(conn: sa.Connection, comp_id: int) -> str | None:
    holds = conn.execute(
        sa.text("SELECT kind, reference, reason FROM compartment_holds WHERE compartment_id = :c ORDER BY kind"),
        {"c": comp_id},
    ).all()
    return "; ".join(f"{kind}:{ref or reason or ''}" for kind, ref, reason in holds) or None


def downgrade() -> None:
    raise NotImplementedError("the station's data moves forward only; restore a backup to go back")
