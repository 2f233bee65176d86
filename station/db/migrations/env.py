"""Alembic environment: migrations run on the connection the station hands over."""

from __future__ import annotations

from alembic import context

from station.db.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - alembic CLI use; the station always passes a connection
    raise RuntimeError("run migrations through `station db upgrade`")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
