"""Alembic's environment: runs on the connection ``dashboard.store.schema`` hands over
(``config.attributes["connection"]``); SQLite in batch mode (ALTER by table copy). The
observations' partitions are not the models' to compare (``belongs_to_model``)."""
from __future__ import annotations

from alembic import context

from dashboard.model import Base
from dashboard.store.partitions import belongs_to_model

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite",
                  compare_type=True, include_object=belongs_to_model)
with context.begin_transaction():
    context.run_migrations()
