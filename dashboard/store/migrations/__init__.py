"""Alembic migrations of the store (``versions/``): one revision per schema change, run by
``citylens db upgrade`` (``dashboard.store.schema``)."""
