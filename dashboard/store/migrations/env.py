"""Alembic's environment: runs on the connection ``dashboard.store.schema`` hands over
(``config.attributes["connection"]``); SQLite in batch mode (ALTER by table copy)."""
from __future__ import annotations

from alembic import context

from dashboard.model import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite",
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
