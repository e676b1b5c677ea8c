"""The store's data versions: cached reads key on them, writers bump them.

- ``data_version`` changes on every write (the kiosk and ``/api/v1/version`` poll it; a
  read cached without scopes keys on it).
- A *scope* names what a write touched: ``type:<AssetType>`` (its readings and rollups),
  ``domain:<domain>`` (its assets, readings, last-seen times), ``assets`` (asset records
  themselves), ``alerts``, ``districts``, ``requests`` (service requests and the service
  catalogue), ``cases``, ``citizens``, ``participation``, ``notices``, ``feeds`` (runs and
  quarantine), ``commitments`` (the city's commitments and their progress). A read
  cached with scopes keys only on those, so a batch of waste readings leaves service
  requests, district shapes and other domains cached.
- A write that names no scope bumps the ``data_epoch``, which every scoped read also keys
  on: whatever nobody scoped invalidates everything (the safe default).

Each scope's value is the ``data_version`` of its last write, so bumping a scope needs no
read-modify-write of its own (the global row's lock already orders writers).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from dashboard.model import Meta
from dashboard.store.upsert import upsert

VERSION_KEY = "data_version"
EPOCH_KEY = "data_epoch"
SCOPE_PREFIX = "version:"


def data_version(conn: Connection) -> int:
    """The current data version (0 for an empty store)."""
    value = conn.execute(select(Meta.value).where(Meta.key == VERSION_KEY)).scalar()
    return int(value) if value is not None else 0


def bump_data_version(conn: Connection, scopes: Iterable[str] | None = None) -> int:
    """Increase the data version by one inside the caller's transaction; return it.

    With ``scopes``, only reads that depend on them (or on nothing in particular) see a
    change; without, every cached read does."""
    current = conn.execute(
        select(Meta.value).where(Meta.key == VERSION_KEY).with_for_update()
    ).scalar()
    new = (int(current) if current is not None else 0) + 1
    keys = [EPOCH_KEY] if scopes is None else [SCOPE_PREFIX + s for s in sorted(set(scopes))]
    upsert(conn, Meta, [{"key": key, "value": str(new)} for key in (VERSION_KEY, *keys)])
    return new


def scope_versions(conn: Connection, scopes: Iterable[str]) -> dict[str, int]:
    """The version of each scope and of the epoch (``data_epoch``); 0 where never bumped."""
    wanted = {SCOPE_PREFIX + s: s for s in scopes}
    found = {EPOCH_KEY: 0, **dict.fromkeys(wanted.values(), 0)}
    rows = conn.execute(select(Meta.key, Meta.value).where(Meta.key.in_([EPOCH_KEY, *wanted])))
    for key, value in rows:
        found[wanted.get(key, key)] = int(value)
    return found


def get_meta(conn: Connection, key: str) -> str | None:
    """A value from the meta table, or None."""
    return conn.execute(select(Meta.value).where(Meta.key == key)).scalar()


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Set a value in the meta table."""
    upsert(conn, Meta, [{"key": key, "value": value}])
