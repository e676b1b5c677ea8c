"""Shared fixtures: stores on SQLite and real PostgreSQL, Redis, settings.

Integration tests skip with a clear reason when a server is unreachable, unless
CITYLENS_REQUIRE_SERVICES=1 (CI sets it), which turns the skip into a failure.
"""
from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL, PUBLIC
from dashboard.settings import Settings
from dashboard.store import init_store, make_engine

# Tests read what they have just written: no stale-while-revalidate unless a test asks for
# it (tests/test_cache.py). Set before any Settings is built, and inherited by the servers
# the browser tests start.
os.environ.setdefault("CITYLENS_CACHE_STALE_SECONDS", "0")
# One test client makes thousands of public reads a minute from one address, which the
# public read limit is there to refuse: off, except where a test sets it
# (tests/test_public_read_limit.py).
os.environ.setdefault("CITYLENS_PUBLIC_READ_RATE", "")
PG_URL = os.environ.get("CITYLENS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CITYLENS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("CITYLENS_REQUIRE_SERVICES") == "1"
# The ``citylens`` command, as its console script runs it (the composition root's main).
CITYLENS_CLI = [sys.executable, "-c", "import sys, app; app.main(sys.argv[1:])"]


def service_missing(name: str, error: Exception) -> None:
    """Skip (or fail, when services are required) because ``name`` is unreachable."""
    message = f"{name} unreachable ({type(error).__name__}: {error})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; CITYLENS_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


@contextmanager
def pg_store(prefix: str, initialise: bool = True) -> Iterator[tuple[str, Engine]]:
    """A store on a new schema of the ``test`` database, dropped afterwards: its URL (for
    subprocesses: the schema is in its ``options``) and an engine. With
    ``initialise=False`` an empty schema, no tables."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # noqa: BLE001 - any failure to reach the server
        service_missing("PostgreSQL at " + PG_URL, error)
    url = f"{PG_URL}?options={quote('-csearch_path=' + schema)}"
    engine = make_engine(url)
    if initialise:
        init_store(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def throwaway_pg_store(prefix: str, initialise: bool = True) -> Iterator[Engine]:
    """A store on a new schema of the ``test`` database, dropped afterwards (with
    ``initialise=False`` an empty schema, no tables)."""
    with pg_store(prefix, initialise) as (_, engine):
        yield engine


@pytest.fixture(scope="session")
def postgresql_engine() -> Iterator[Engine]:
    """A PostgreSQL engine on a throw-away schema of the ``test`` database."""
    with throwaway_pg_store("citylens_test") as engine:
        yield engine


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A SQLite file store."""
    path = tmp_path_factory.mktemp("store") / "citylens.db"
    engine = make_engine(f"sqlite:///{path}")
    init_store(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings pointing at a fresh SQLite file and no Redis."""
    return Settings(var_dir=tmp_path / "var", database_url="", redis_url=None)


def sqlite_store(path: Path) -> tuple[str, Engine]:
    """A new store in the SQLite file ``path``: its URL (for a subprocess or the CLI) and
    an engine (the caller disposes of it)."""
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    init_store(engine)
    return url, engine


@pytest.fixture
def file_store(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A new store in a SQLite file: its URL and an engine."""
    url, engine = sqlite_store(tmp_path / "citylens.db")
    yield url, engine
    engine.dispose()


@pytest.fixture
def side_redis(tmp_path: Path) -> Iterator[Any]:
    """A Redis of the test's own on a free port (``tests.side_servers.SideRedis``), which
    the test may hang with SIGSTOP; never the shared one."""
    from tests.side_servers import SideRedis

    server = SideRedis(tmp_path)
    yield server
    server.close()


@pytest.fixture
def side_broker(tmp_path: Path) -> Iterator[Any]:
    """A Mosquitto of the test's own with persistence, on a free port
    (``tests.side_servers.SideMosquitto``), which the test may stop or restart."""
    from tests.side_servers import SideMosquitto

    broker = SideMosquitto(tmp_path / "mosquitto")
    yield broker
    broker.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty store of its own (for code that commits), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
        init_store(engine)
        yield engine
        engine.dispose()
        return
    with throwaway_pg_store("citylens_fresh") as engine:
        yield engine


# ---- connectors' retries ------------------------------------------------------------------
def set_retry_policy(monkeypatch: pytest.MonkeyPatch, *, attempts: int | None = None,
                     base_seconds: float | None = None) -> None:
    """Set the connectors' one retry policy (``CITYLENS_RETRY_*``) for a test."""
    from dashboard.settings import get_settings

    if attempts is not None:
        monkeypatch.setenv("CITYLENS_RETRY_ATTEMPTS", str(attempts))
    if base_seconds is not None:
        monkeypatch.setenv("CITYLENS_RETRY_BASE_SECONDS", str(base_seconds))
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def retries_without_waiting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Connectors retry at once in tests (as many tries as in production, no waits)."""
    from dashboard.settings import get_settings

    set_retry_policy(monkeypatch, base_seconds=0)
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


# ---- the tiny demo city, shared read-only by the page tests -----------------------------
TINY_NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def tiny_city(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the tiny demo city (seed 7) ending at ``TINY_NOW``. Read-only: a test
    that needs to change the store makes its own."""
    from connectors.demo import generate_demo
    from dashboard.store import get_engine

    settings = Settings(var_dir=tmp_path_factory.mktemp("tiny-city"), database_url="",
                        redis_url=None, now=TINY_NOW)
    generate_demo(get_engine(settings.resolved_database_url), settings, scale="tiny", seed=7,
                  end=TINY_NOW)
    return settings


@pytest.fixture(scope="session")
def tiny_app(tiny_city: Settings) -> Any:
    """The Dash app on the tiny city (layouts read their settings from it)."""
    from app import create_app

    return create_app(tiny_city)


@pytest.fixture
def in_app(tiny_app: Any) -> Iterator[None]:
    """Run inside the tiny city's app, so pages and callbacks see its settings."""
    with tiny_app.server.app_context():
        yield


# ---- signing in -------------------------------------------------------------------------
USERS_BY_ROLE = {PUBLIC: None, OFFICIAL: "mayor", DEPARTMENT_HEAD: "waste.head", ADMIN: "admin"}


@pytest.fixture(scope="module")
def clients(tiny_app: Any) -> dict[str, Any]:
    """One test client per role on the tiny city, signed in as its demo user (the public's
    is not signed in)."""
    found = {}
    for role, user in USERS_BY_ROLE.items():
        client = tiny_app.server.test_client()
        if user:
            assert sign_in(client, user).status_code == 302
        found[role] = client
    return found


@pytest.fixture(scope="module")
def concrete(tiny_city: Settings) -> dict[str, str]:
    """A real path for every page template of the tiny city that has placeholders."""
    import sqlite3

    db = sqlite3.connect(tiny_city.resolved_database_url.removeprefix("sqlite:///"))
    district = db.execute("SELECT id FROM districts ORDER BY id").fetchone()[0]
    asset = db.execute("SELECT id FROM assets WHERE domain = 'waste' ORDER BY id").fetchone()[0]
    request = db.execute("SELECT id FROM service_requests ORDER BY id").fetchone()[0]
    db.close()
    return {"/domain/<domain>": "/domain/waste", "/district/<district_id>": f"/district/{district}",
            "/asset/<asset_id>": f"/asset/{asset}", "/request/<request_id>": f"/request/{request}"}

def router_body(path: str) -> dict[str, Any]:
    """The request Dash's pages router sends when the browser shows ``path``."""
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": ""}],
            "changedPropIds": ["_pages_location.pathname"]}


def sign_in(client: Any, username: str, password: str | None = None, **request: Any) -> Any:
    """Sign ``client`` (a Flask test client) in through the real form; returns the response.
    ``request`` goes to both requests (e.g. ``environ_base`` for the client's address)."""
    import re

    from dashboard.demo.users import DEMO_PASSWORD

    form = client.get("/login", **request).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "the sign-in form has no anti-forgery token"
    return client.post("/login", data={"csrf_token": token.group(1), "username": username,
                                       "password": DEMO_PASSWORD if password is None else password,
                                       "next": "/"}, **request)


@contextmanager
def acting_as(role: str, departments: tuple[str, ...] = (), districts: tuple[str, ...] = (),
              username: str = "tester") -> Iterator[Any]:
    """Run layouts and callbacks inside a request of a signed-in user in ``role``: a request
    of the current app (its settings) when there is one, else of a bare Flask app."""
    from flask import Flask, current_app, has_app_context
    from flask_login import LoginManager, login_user

    from dashboard.auth.users import Principal
    from dashboard.auth.web import SessionUser

    if has_app_context():
        server = current_app._get_current_object()  # type: ignore[attr-defined]
    else:
        server = Flask("acting-as")
        server.secret_key = "tests"
    if not hasattr(server, "login_manager"):
        LoginManager(server)
    principal = Principal(username, role, tuple(departments), tuple(districts))
    with server.test_request_context("/"):
        login_user(SessionUser(principal))
        yield principal


def kpi_windows(now: datetime, tz: str) -> list[str]:
    """What the KPI oracles check: every preset window, a custom range of whole local days
    (38 days ending 3 days ago) and one of whole hours (10 days 5 hours ago to 2 hours ago)."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from dashboard.kpis.windows import WINDOWS
    from dashboard.periods import custom_spec, local_days_spec

    today = now.astimezone(ZoneInfo(tz)).date()
    return [*WINDOWS,
            local_days_spec(today - timedelta(days=40), today - timedelta(days=3), tz, now),
            custom_spec(now - timedelta(days=10, hours=5), now - timedelta(hours=2), now)]



@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``citylens`` commands (``CliRunner``) on an embedded store in ``tmp_path`` of their
    own: the environment set and the process's settings read afresh, before and after.
    Yields ``run(*args)``, which invokes ``dashboard.cli.app``."""
    from typer.testing import CliRunner

    from dashboard.cli import app
    from dashboard.settings import get_settings

    monkeypatch.setenv("CITYLENS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CITYLENS_DATABASE_URL", "")
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        yield lambda *args: runner.invoke(app, list(args))
    finally:
        get_settings.cache_clear()


@contextmanager
def clicked(component_id: str | dict[str, Any], clicks: int = 1) -> Iterator[None]:
    """Run a callback as Dash does when ``component_id`` was clicked (its ``ctx``)."""
    import json

    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    name = component_id if isinstance(component_id, str) else json.dumps(
        component_id, sort_keys=True, separators=(",", ":"))
    token = context_value.set(AttributeDict(
        triggered_inputs=[{"prop_id": f"{name}.n_clicks", "value": clicks}]))
    try:
        yield
    finally:
        context_value.reset(token)
