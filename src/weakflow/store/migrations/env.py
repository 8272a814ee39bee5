"""Alembic environment: runs the store's migrations on the connection weakflow hands over."""

from __future__ import annotations

from alembic import context

from weakflow.store._schema import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI directly
    raise RuntimeError("Run migrations through weakflow (weakflow.store.Database(url)).")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
