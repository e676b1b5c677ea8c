"""Bring a store made by an older CityLens up to the current model, in place: columns added
to a table since it was created are added (there are no migrations yet), and values they
derive from other columns are filled in."""
from __future__ import annotations

from sqlalchemy import Column, Connection, bindparam, inspect, select, text, update

from dashboard.model import Base, Citizen, citizen_search_key

BATCH = 5_000


def _default_sql(column: Column) -> str:
    """The column's scalar default as an SQL literal ('' for text), or '' when none."""
    default = getattr(column.default, "arg", None)
    if isinstance(default, bool):
        return " DEFAULT " + ("TRUE" if default else "FALSE")
    if isinstance(default, (int, float)):
        return f" DEFAULT {default}"
    if isinstance(default, str):
        return " DEFAULT '" + default.replace("'", "''") + "'"
    return ""


def add_missing_columns(conn: Connection) -> list[str]:
    """ALTER TABLE ... ADD COLUMN for every model column a table lacks; returns
    ``table.column`` of those added (new columns are nullable or have a default)."""
    found = inspect(conn)
    added = []
    for table in Base.metadata.sorted_tables:
        if not found.has_table(table.name):
            continue
        present = {c["name"] for c in found.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" '
                              f"{kind}{_default_sql(column)}"))
            added.append(f"{table.name}.{column.name}")
    return added


def fill_search_text(conn: Connection) -> int:
    """Compute ``citizens.search_text`` where it is empty (stores older than Citizen 360)."""
    filled = 0
    while True:
        rows = conn.execute(select(Citizen.id, Citizen.name, Citizen.email, Citizen.phone)
                            .where((Citizen.search_text == "") | Citizen.search_text.is_(None))
                            .limit(BATCH)).all()
        keys = [{"cid": r.id, "key": citizen_search_key(r.name, r.email, r.phone) or " "}
                for r in rows]
        if keys:  # one executemany per batch
            conn.execute(update(Citizen).where(Citizen.id == bindparam("cid"))
                         .values(search_text=bindparam("key")), keys)
        filled += len(keys)
        if len(rows) < BATCH:
            return filled
