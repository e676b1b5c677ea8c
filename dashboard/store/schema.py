"""The store's schema, versioned by Alembic migrations (``dashboard/store/migrations``).

- An empty store is created at the newest revision (nothing to lose).
- A store of CityLens 0.1.0 (tables but no ``alembic_version``: made before migrations
  existed) is recognised, completed where an even older store lacks a baseline column,
  stamped at the baseline and upgraded, every row kept.
- Any other store is only ever changed by ``citylens db upgrade`` (``upgrade_store``);
  opening one whose schema is older (or newer) than the code raises ``StoreOutOfDate``,
  a one-line message that names the command to run.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, bindparam, inspect, select, text, update

from dashboard.model import Citizen, citizen_search_key

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_baseline"
SIGN_IN_TABLES_REVISION, SIGN_IN_TABLES = "0002_sign_in_sessions", {"sign_in_sessions",
                                                                   "sign_in_throttle"}
LEGACY_MARKER = "observations"  # a table every CityLens store has had
BATCH = 5_000


class StoreOutOfDate(RuntimeError):
    """The store's schema is not the one this code needs; the message says what to run."""


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the store is at (None: empty, or made before migrations existed)."""
    return MigrationContext.configure(conn).get_current_revision()


def _is_empty(conn: Connection) -> bool:
    """No table of a store (Alembic's own version table does not count)."""
    return not set(inspect(conn).get_table_names()) - {"alembic_version"}


def describe(engine: Engine) -> str:
    """One line on the store's schema: its revision and the code's."""
    with engine.connect() as conn:
        if _is_empty(conn):
            return f"empty store; this CityLens creates it at {head_revision()}"
        current = current_revision(conn) or "unversioned (CityLens 0.1.0, before migrations)"
    return f"store at {current}; this CityLens needs {head_revision()}"


def check_store(engine: Engine) -> None:
    """Create an empty store; StoreOutOfDate unless the store is at this code's revision."""
    with engine.connect() as conn:
        empty = _is_empty(conn)
        current = None if empty else current_revision(conn)
    if empty:
        upgrade_store(engine)
        return
    head = head_revision()
    if current == head:
        return
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    where = engine.url.render_as_string(hide_password=True)
    if current is not None and current not in known:
        raise StoreOutOfDate(f"the store {where} is at revision {current}, newer than this "
                             f"CityLens ({head}): upgrade CityLens")
    raise StoreOutOfDate(f"the store {where} is at revision {current or 'none (CityLens 0.1.0)'}"
                         f", this CityLens needs {head}: run `citylens db upgrade`")


def upgrade_store(engine: Engine) -> str:
    """Bring the store to the newest revision (creating, adopting or migrating it) in one
    transaction; returns the revision it started from ("" for an empty store). Safe when
    several processes do it at once: the losers find the store upgraded."""
    try:
        with engine.begin() as conn:
            _serialise(conn)
            started = current_revision(conn)
            if started is None and not _is_empty(conn):
                _adopt_unversioned(conn)
                started = "unversioned"
            command.upgrade(_config(conn), "head")
        return started or ""
    except Exception:
        with engine.connect() as conn:
            if current_revision(conn) == head_revision():
                return head_revision()  # another process did it first
        raise


def _serialise(conn: Connection) -> None:
    """One migrating process at a time (PostgreSQL: a transaction-scoped advisory lock;
    SQLite serialises writers itself)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('citylens-migrations'))"))


def _adopt_unversioned(conn: Connection) -> None:
    """A store made before migrations: complete what the baseline has that an older store
    may lack, then stamp it at the baseline."""
    if not inspect(conn).has_table(LEGACY_MARKER):
        tables = ", ".join(sorted(inspect(conn).get_table_names())[:5])
        raise StoreOutOfDate(f"this database holds tables ({tables}, ...) but no CityLens store")
    columns = {c["name"] for c in inspect(conn).get_columns("citizens")}
    if "search_text" not in columns:  # added in place by releases before Citizen 360
        conn.execute(text("ALTER TABLE citizens ADD COLUMN search_text TEXT DEFAULT ''"))
        _fill_search_text(conn)
    present = set(inspect(conn).get_table_names())
    # Development builds between 0.1.0 and migrations made the sign-in tables themselves.
    stamp = SIGN_IN_TABLES_REVISION if SIGN_IN_TABLES <= present else BASELINE
    command.stamp(_config(conn), stamp)


def _fill_search_text(conn: Connection) -> None:
    """Compute ``citizens.search_text`` for every resident (one executemany per batch)."""
    while True:
        rows = conn.execute(select(Citizen.id, Citizen.name, Citizen.email, Citizen.phone)
                            .where((Citizen.search_text == "") | Citizen.search_text.is_(None))
                            .limit(BATCH)).all()
        keys = [{"cid": r.id, "key": citizen_search_key(r.name, r.email, r.phone) or " "}
                for r in rows]
        if keys:
            conn.execute(update(Citizen).where(Citizen.id == bindparam("cid"))
                         .values(search_text=bindparam("key")), keys)
        if len(rows) < BATCH:
            return
