"""Engines and units of work. SQLite (WAL) by default, PostgreSQL unchanged."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_SQLITE_CACHE_MB = 64.0


def sqlite_cache_kib() -> int:
    """SQLite's page cache per connection, in KiB (``CITYLENS_SQLITE_CACHE_MB``, default
    64): every pooled connection of every worker may fill its own, so it sets much of a
    web worker's memory; the OS file cache serves what it misses."""
    try:
        megabytes = float(os.environ.get("CITYLENS_SQLITE_CACHE_MB", DEFAULT_SQLITE_CACHE_MB))
    except ValueError:
        megabytes = DEFAULT_SQLITE_CACHE_MB
    return max(2_000, int(megabytes * 1000))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA cache_size=-{sqlite_cache_kib()}")
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite files get their folder and WAL pragmas."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def init_store(engine: Engine) -> None:
    """Create the store, or bring it to the newest schema revision (``citylens db upgrade``:
    Alembic migrations, a 0.1.0 store adopted with every row kept)."""
    from dashboard.store.schema import upgrade_store

    upgrade_store(engine)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per database URL per process. An empty store is created at the newest
    schema; a store at another revision raises ``StoreOutOfDate`` (run ``citylens db
    upgrade``), so that no process changes a schema behind its owner's back."""
    from dashboard.store.schema import check_store

    engine = make_engine(url)
    check_store(engine)
    return engine


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Connection]:
    """A transaction that commits when the block ends cleanly and rolls back otherwise."""
    with engine.begin() as conn:
        yield conn


def is_postgres(conn: Connection) -> bool:
    """True when the connection talks to PostgreSQL."""
    return conn.dialect.name == "postgresql"
