"""Bulk upserts, idempotent on natural keys, through each dialect's ON CONFLICT; and bulk
inserts of rows known to be new by the dialect's fastest path."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase

BATCH_ROWS = 5_000


def table_of(target: Table | type[DeclarativeBase]) -> Table:
    """The Table of a mapped class (typed only as a FromClause by SQLAlchemy), or ``target``."""
    if isinstance(target, Table):
        return target
    return cast(Table, target.__table__)


def _insert_for(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upsert is not implemented for dialect {conn.dialect.name!r}")


def upsert(
    conn: Connection,
    target: Table | type[DeclarativeBase],
    rows: Iterable[dict[str, Any]],
    key: Sequence[str] | None = None,
    *,
    update: bool = True,
) -> int:
    """Insert ``rows`` into ``target`` (a Table or a mapped class); on a key conflict update
    the other columns.

    ``key`` defaults to the primary key. With ``update=False`` existing rows are kept as
    they are. Returns the number of rows sent.
    """
    table = table_of(target)
    key = list(key or [c.name for c in table.primary_key.columns])
    sent = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            sent += _flush(conn, table, batch, key, update)
            batch = []
    if batch:
        sent += _flush(conn, table, batch, key, update)
    return sent


def _flush(
    conn: Connection, table: Table, batch: list[dict[str, Any]], key: list[str], update: bool
) -> int:
    stmt = _insert_for(conn, table)
    columns = batch[0].keys()
    changing = [c for c in columns if c not in key]
    if update and changing:
        stmt = stmt.on_conflict_do_update(
            index_elements=key, set_={c: stmt.excluded[c] for c in changing}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=key)
    conn.execute(stmt, batch)
    return len(batch)


SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's SQLite DateTime stores one


@lru_cache(maxsize=1024)  # a bulk insert's rows mostly share their moments
def _driver_datetime(value: datetime, on_sqlite: bool) -> datetime | str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime(SQLITE_DATETIME) if on_sqlite else value


def _driver_value(value: Any, on_sqlite: bool) -> Any:
    """A value as the driver takes it: datetimes naive UTC (text on SQLite, as SQLAlchemy
    writes them), dicts and lists as JSON text."""
    if isinstance(value, datetime):
        return _driver_datetime(value, on_sqlite)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def bulk_insert(conn: Connection, target: Table | type[DeclarativeBase],
                columns: Sequence[str], rows: Iterable[Sequence[Any]],
                constants: Mapping[str, Any] | None = None) -> int:
    """Insert many plain rows by the dialect's fastest path (COPY on PostgreSQL, the
    driver's executemany on SQLite), bypassing SQLAlchemy's per-row work: for rows known
    to be new (a unique index still refuses a duplicate, as an error). ``rows`` hold plain
    values (ints, strings) of ``columns``; ``constants`` (e.g. a shared creation time) are
    converted once and added to every row. Returns the rows."""
    table = table_of(target)
    on_sqlite = conn.dialect.name == "sqlite"
    fixed = tuple(_driver_value(v, on_sqlite) for v in (constants or {}).values())
    prepared = [(*row, *fixed) for row in rows] if fixed else [tuple(row) for row in rows]
    if not prepared:
        return 0
    names = ", ".join([*columns, *(constants or {})])
    raw = conn.connection.driver_connection
    assert raw is not None  # an open Connection always has its driver's connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, \
                cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in prepared:
                copy.write_row(row)
    else:
        cursor = raw.cursor()
        cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES "
                           f"({', '.join('?' for _ in prepared[0])})", prepared)
        cursor.close()
    return len(prepared)
