"""Alembic migrations on SQLite and PostgreSQL: an empty store is created at the newest
revision with exactly the models' schema; a store made by CityLens 0.1.0 (before migrations
existed; its DDL in tests/fixtures/) is recognised, stamped and upgraded with every row kept;
a store at another revision is refused with one line naming the command to run."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, func, inspect, select, text

from dashboard.model import Base
from dashboard.settings import Settings
from dashboard.store import make_engine
from dashboard.store.partitions import belongs_to_model
from dashboard.store.schema import (
    BASELINE,
    StoreOutOfDate,
    check_store,
    current_revision,
    head_revision,
    upgrade_store,
)
from tests.conftest import throwaway_pg_store

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no table at all, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    with throwaway_pg_store("citylens_migrate", initialise=False) as engine:
        yield engine


def _schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_object": belongs_to_model})
        return [d for d in compare_metadata(context, Base.metadata)
                if not (isinstance(d, tuple) and d[0] == "remove_table"
                        and d[1].name == "alembic_version")]


def test_an_empty_store_is_created_at_the_newest_revision(empty_engine: Engine) -> None:
    check_store(empty_engine)  # what every process does on first use
    with empty_engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert _schema_differences(empty_engine) == []
    assert upgrade_store(empty_engine) == head_revision()  # idempotent


def _create_legacy_store(engine: Engine) -> None:
    """The tables CityLens 0.1.0 made (its DDL, for this dialect), no ``alembic_version``."""
    ddl = (FIXTURES / f"store-0.1.0-{engine.dialect.name}.sql").read_text(encoding="utf-8")
    ddl = "\n".join(line for line in ddl.splitlines() if not line.startswith("--"))
    with engine.begin() as conn:
        for statement in filter(str.strip, ddl.split(";")):
            conn.execute(text(statement))


BASELINE_TABLES = ("districts", "services", "sources", "users", "assets", "citizens",
                   "feed_runs", "notices", "alerts", "cases", "participation", "quarantine",
                   "service_requests", "observations", "rollups", "audit_log", "meta")
ROW_LIMIT = 3_000  # per table: a realistic sample of the tiny city is enough


def _copy_tiny_city(source: Engine, target: Engine) -> dict[str, int]:
    """Rows of the tiny city's baseline tables copied into ``target`` (same columns as
    0.1.0's); returns the row count of each table."""
    legacy, tiny = MetaData(), MetaData()
    legacy.reflect(target, only=list(BASELINE_TABLES))
    tiny.reflect(source, only=list(BASELINE_TABLES))
    counts = {}
    with source.connect() as read, target.begin() as write:
        for table in legacy.sorted_tables:
            source_table = tiny.tables[table.name]
            columns = [c.name for c in table.columns if c.name in source_table.c]
            gone = {c.name: 0 for c in table.columns  # 0.1.0 columns dropped since (0003)
                    if c.name not in source_table.c and not c.nullable}
            query = select(*(source_table.c[c] for c in columns))
            if table.name in ("observations", "rollups"):
                query = query.limit(ROW_LIMIT)
            rows = [{**gone, **dict(zip(columns, row, strict=True))}
                    for row in read.execute(query)]
            if rows:
                write.execute(table.insert(), rows)
            counts[table.name] = len(rows)
    return counts


def test_a_store_of_0_1_0_is_adopted_and_upgraded_with_every_row_kept(
        empty_engine: Engine, tiny_city: Settings) -> None:
    _create_legacy_store(empty_engine)
    tiny = make_engine(tiny_city.resolved_database_url)
    before = _copy_tiny_city(tiny, empty_engine)
    tiny.dispose()
    assert before["observations"] and before["service_requests"] and before["users"]
    with pytest.raises(StoreOutOfDate, match=r"run `citylens db upgrade`"):
        check_store(empty_engine)  # the app refuses to start on it
    assert upgrade_store(empty_engine) == "unversioned"
    with empty_engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        after = {t: conn.execute(select(func.count()).select_from(text(t))).scalar()
                 for t in before}
    assert after == before
    assert _schema_differences(empty_engine) == []
    check_store(empty_engine)  # now it opens


def _request_rollups(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {table: sorted(tuple(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
                for table in ("request_rollups", "request_durations")}


def test_upgrading_fills_the_request_rollups_as_ingest_keeps_them(
        empty_engine: Engine, tiny_city: Settings) -> None:
    """0004 fills the request and case rollups of an older store from its rows: the same
    rows the tiny city's connectors kept in step while it was generated."""
    _create_legacy_store(empty_engine)
    tiny = make_engine(tiny_city.resolved_database_url)
    _copy_tiny_city(tiny, empty_engine)
    kept_at_ingest = _request_rollups(tiny)
    tiny.dispose()
    upgrade_store(empty_engine)
    filled = _request_rollups(empty_engine)
    assert len(kept_at_ingest["request_rollups"]) > 100
    assert len(kept_at_ingest["request_durations"]) > 100
    assert filled == kept_at_ingest


def _cells(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, h3_cell FROM service_requests")).all())


def test_upgrading_fills_the_requests_cells_as_ingest_keeps_them(
        empty_engine: Engine, tiny_city: Settings) -> None:
    """0015 fills the H3 cell of every located request of an older store: the same cells
    the tiny city's connectors kept while it was generated."""
    _create_legacy_store(empty_engine)
    tiny = make_engine(tiny_city.resolved_database_url)
    _copy_tiny_city(tiny, empty_engine)
    kept_at_ingest = _cells(tiny)
    tiny.dispose()
    upgrade_store(empty_engine)
    assert sum(cell is not None for cell in kept_at_ingest.values()) > 100
    assert _cells(empty_engine) == kept_at_ingest


def test_an_even_older_store_gets_the_citizen_search_column_filled(
        empty_engine: Engine) -> None:
    """Stores from before Citizen 360 lacked ``citizens.search_text`` (added in place then)."""
    from dashboard.model import Citizen, citizen_search_key

    _create_legacy_store(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("ALTER TABLE citizens DROP COLUMN search_text"))
        conn.execute(text("INSERT INTO citizens (id, name, email, phone, consent) VALUES "
                          "('c1', 'María Gómez', 'maria@example.org', '+34 942 000 111', '{}'),"
                          "('c2', 'Íñigo Ruiz', NULL, NULL, '{}')"))
    upgrade_store(empty_engine)
    with empty_engine.connect() as conn:
        keys = dict(conn.execute(select(Citizen.id, Citizen.search_text)).all())
    assert keys == {"c1": citizen_search_key("María Gómez", "maria@example.org",
                                             "+34 942 000 111"),
                    "c2": citizen_search_key("Íñigo Ruiz", None, None)}


def test_a_store_one_revision_behind_is_refused_then_upgraded(empty_engine: Engine) -> None:
    from alembic import command

    from dashboard.store.schema import _config

    with empty_engine.begin() as conn:
        command.upgrade(_config(conn), BASELINE)
    assert "sign_in_sessions" not in inspect(empty_engine).get_table_names()
    with pytest.raises(StoreOutOfDate) as refused:
        check_store(empty_engine)
    message = str(refused.value)
    assert "\n" not in message and BASELINE in message and "citylens db upgrade" in message
    assert upgrade_store(empty_engine) == BASELINE
    assert "sign_in_sessions" in inspect(empty_engine).get_table_names()


def test_a_store_newer_than_the_code_is_refused(empty_engine: Engine) -> None:
    upgrade_store(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(StoreOutOfDate, match="newer than this CityLens"):
        check_store(empty_engine)


def test_every_revision_downgrades_and_upgrades_again(empty_engine: Engine) -> None:
    from alembic import command

    from dashboard.store.schema import _config

    upgrade_store(empty_engine)
    with empty_engine.begin() as conn:
        command.downgrade(_config(conn), "base")
    assert not [t for t in inspect(empty_engine).get_table_names() if t != "alembic_version"]
    upgrade_store(empty_engine)
    assert _schema_differences(empty_engine) == []


def test_the_command_line_upgrades_and_tells_the_revision(cli_store: Any) -> None:
    behind = cli_store("db", "current")
    assert behind.exit_code == 1 and "empty store" in behind.output
    done = cli_store("db", "upgrade")
    assert done.exit_code == 0 and head_revision() in done.output
    now = cli_store("db", "current")
    assert now.exit_code == 0
    assert re.search(rf"store at {head_revision()}; this CityLens needs", now.output)


def test_an_unversioned_store_that_already_has_the_sign_in_tables_is_adopted(
        empty_engine: Engine) -> None:
    """Development builds between 0.1.0 and migrations created the sign-in tables
    themselves: such a store is stamped past them instead of failing to create them."""
    from dashboard.model import SignInSession, SignInThrottle

    _create_legacy_store(empty_engine)
    SignInSession.__table__.create(empty_engine)
    SignInThrottle.__table__.create(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO sign_in_throttle (key, attempts) VALUES ('user:x', 3)"))
    assert upgrade_store(empty_engine) == "unversioned"
    with empty_engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.execute(text("SELECT attempts FROM sign_in_throttle")).scalar() == 3
    assert _schema_differences(empty_engine) == []


def test_one_running_run_per_source_keeps_the_newest_of_an_older_store(
        empty_engine: Engine) -> None:
    """0008: a store from before holds several "running" runs of one source (processes
    killed before the heartbeat existed); all but the newest are marked interrupted, every
    row kept, and from then on the store refuses a second running run of a source."""
    from alembic import command
    from sqlalchemy.exc import IntegrityError

    from dashboard.store.schema import _config

    with empty_engine.begin() as conn:
        command.upgrade(_config(conn), "0007_quarantine_replay")
        conn.execute(text("INSERT INTO sources (id, kind, location, config, enabled) "
                          "VALUES ('a', 'csv', '', '{}', true), ('b', 'csv', '', '{}', true)"))
        for number, (source, status) in enumerate([("a", "running"), ("a", "running"),
                                                   ("a", "ok"), ("a", "running"),
                                                   ("b", "running")], start=1):
            conn.execute(text(
                "INSERT INTO feed_runs (id, source_id, started, status, records_in, stored, "
                "quarantined) VALUES (:id, :s, :t, :st, 0, 0, 0)"),
                {"id": number, "s": source, "t": f"2026-01-0{number} 00:00:00", "st": status})
    assert upgrade_store(empty_engine) == "0007_quarantine_replay"  # upgraded from there
    with empty_engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, error FROM feed_runs ORDER BY id")).all()
    assert [(r.id, r.status) for r in rows] == [(1, "failed"), (2, "failed"), (3, "ok"),
                                                (4, "running"), (5, "running")]
    assert all("interrupted" in r.error for r in rows[:2])
    with pytest.raises(IntegrityError), empty_engine.begin() as conn:
        conn.execute(text("INSERT INTO feed_runs (source_id, started, status, records_in, "
                          "stored, quarantined) VALUES ('a', '2026-02-01', 'running', 0, 0, 0)"))


def test_users_of_an_older_store_keep_everything_and_get_a_weekly_briefing_in_english(
        empty_engine: Engine) -> None:
    """0016 adds e-mail, language and briefing to users: a 0015 store's users keep their
    rows and sign-in hashes, with no e-mail (so nothing is sent until one is given)."""
    from alembic import command

    from dashboard.store.schema import _config

    with empty_engine.begin() as conn:
        command.upgrade(_config(conn), "0015_request_cells")
        conn.execute(text("INSERT INTO users (username, password_hash, role, departments, "
                          "districts, disabled) VALUES ('mayor', 'h$1', 'official', '[]', "
                          "'[]', false)"))
    upgrade_store(empty_engine)
    with empty_engine.connect() as conn:
        row = conn.execute(text("SELECT username, password_hash, email, language, briefing "
                                "FROM users")).one()
    assert tuple(row) == ("mayor", "h$1", None, "en", "weekly")
    assert _schema_differences(empty_engine) == []


def test_districts_of_an_older_store_keep_everything_and_belong_to_no_municipality(
        empty_engine: Engine) -> None:
    """0017 adds each district's parent area: a 0016 store's districts keep their rows,
    geometry and population, and have none (a single city)."""
    from alembic import command

    from dashboard.store.schema import _config

    square = '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}'
    with empty_engine.begin() as conn:
        command.upgrade(_config(conn), "0016_subscriptions")
        conn.execute(text("INSERT INTO districts (id, name, geometry, population, area_km2) "
                          "VALUES ('centro', 'Centro', :g, 1200, 5.2)"), {"g": square})
    upgrade_store(empty_engine)
    with empty_engine.connect() as conn:
        row = conn.execute(text("SELECT id, name, population, area_km2, municipality_id, "
                                "municipality_name FROM districts")).one()
    assert tuple(row) == ("centro", "Centro", 1200, 5.2, None, None)
    assert _schema_differences(empty_engine) == []
