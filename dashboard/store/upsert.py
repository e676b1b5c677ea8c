"""Bulk upserts, idempotent on natural keys, through each dialect's ON CONFLICT."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
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
