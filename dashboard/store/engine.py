"""Engines and units of work. SQLite (WAL) by default, PostgreSQL unchanged."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from dashboard.model import Base


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-200000")  # ~200 MB page cache
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
    """Create every table of the unified model that does not exist yet, and any column or
    index added to an existing table since it was created (there are no migrations yet)."""
    from dashboard.store.upgrade import add_missing_columns, fill_search_text

    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        if add_missing_columns(conn):
            fill_search_text(conn)
        for table in Base.metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """One engine per database URL per process, with the schema created on first use."""
    engine = make_engine(url)
    init_store(engine)
    return engine


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Connection]:
    """A transaction that commits when the block ends cleanly and rolls back otherwise."""
    with engine.begin() as conn:
        yield conn


def is_postgres(conn: Connection) -> bool:
    """True when the connection talks to PostgreSQL."""
    return conn.dialect.name == "postgresql"
