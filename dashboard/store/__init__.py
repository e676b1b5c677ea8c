"""The unified store: engine, schema, upserts, observation ingest with rollups, data version."""
from __future__ import annotations

from dashboard.store.engine import get_engine, init_store, make_engine, unit_of_work
from dashboard.store.upsert import upsert
from dashboard.store.version import bump_data_version, data_version

__all__ = [
    "bump_data_version",
    "data_version",
    "get_engine",
    "init_store",
    "make_engine",
    "unit_of_work",
    "upsert",
]
