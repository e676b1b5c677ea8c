"""The store's data version: every ingest bumps it, caches key on it."""
from __future__ import annotations

from sqlalchemy import Connection, select

from dashboard.model import Meta
from dashboard.store.upsert import upsert

VERSION_KEY = "data_version"


def data_version(conn: Connection) -> int:
    """The current data version (0 for an empty store)."""
    value = conn.execute(select(Meta.value).where(Meta.key == VERSION_KEY)).scalar()
    return int(value) if value is not None else 0


def bump_data_version(conn: Connection) -> int:
    """Increase the data version by one inside the caller's transaction; return it."""
    current = conn.execute(
        select(Meta.value).where(Meta.key == VERSION_KEY).with_for_update()
    ).scalar()
    new = (int(current) if current is not None else 0) + 1
    upsert(conn, Meta, [{"key": VERSION_KEY, "value": str(new)}])
    return new


def get_meta(conn: Connection, key: str) -> str | None:
    """A value from the meta table, or None."""
    return conn.execute(select(Meta.value).where(Meta.key == key)).scalar()


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Set a value in the meta table."""
    upsert(conn, Meta, [{"key": key, "value": value}])
