"""The core of the ``citylens`` command line: the store, users, audit, KPIs, the demo city.

The composition root (``app.main``) adds the connectors' command groups and hands over,
as Click's context object (``Wiring``), what the core may not import: the connectors'
ingest for the demo city and the web app for ``serve``.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.engine import make_url

from dashboard.cli_apikeys import apikeys_app
from dashboard.cli_commitments import commitments_app
from dashboard.cli_consultations import consultations_app
from dashboard.cli_db import db_app
from dashboard.cli_notify import briefing_app, notify_app
from dashboard.cli_opendata import opendata_app
from dashboard.cli_users import audit, users_app
from dashboard.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dashboard.demo.generate import IngestFeeds

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="CityLens: integrated city management dashboard.",
                  epilog="The options above override their environment variables; every "
                         "other setting (time zone, KPI file, retries, sessions, kiosk, ...) "
                         "is an environment variable CITYLENS_<NAME>, listed in the README's "
                         "Configuration table.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(apikeys_app, name="apikeys")
app.add_typer(commitments_app, name="commitments")
app.add_typer(consultations_app, name="consultations")
app.add_typer(briefing_app, name="briefing")
app.add_typer(notify_app, name="notify")
app.add_typer(opendata_app, name="opendata")
app.command("audit")(audit)


@dataclass(frozen=True)
class Wiring:
    """What the composition root hands the core's commands: the connectors' ingest of the
    demo's feeds, serving the web app, and keeping the demo live while it serves (given
    the store, the settings and the demo's feeds folder)."""

    ingest_demo: IngestFeeds
    serve: Callable[[Settings, str | None, int | None], None]
    simulate: Callable[[Engine, Settings, Path], object] | None = None


def _wiring(ctx: typer.Context) -> Wiring:
    wiring = ctx.find_root().obj
    if not isinstance(wiring, Wiring):
        raise typer.BadParameter("run this through the citylens command (app.main)")
    return wiring


@app.callback()
def main_options(
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL (env CITYLENS_DATABASE_URL).")
    ] = None,
    redis_url: Annotated[
        str | None, typer.Option(help="Redis URL for the query cache (env CITYLENS_REDIS_URL).")
    ] = None,
    var_dir: Annotated[
        str | None, typer.Option(help="Folder for generated state (env CITYLENS_VAR_DIR).")
    ] = None,
) -> None:
    """CityLens: integrated city management dashboard."""
    for name, value in (
        ("CITYLENS_DATABASE_URL", database_url),
        ("CITYLENS_REDIS_URL", redis_url),
        ("CITYLENS_VAR_DIR", var_dir),
    ):
        if value is not None:
            os.environ[name] = value
    get_settings.cache_clear()


def _print(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None


def _age_hours(iso_end: str | None) -> float:
    if not iso_end:
        return 0.0
    end = datetime.fromisoformat(iso_end)
    return (datetime.now(timezone.utc) - end).total_seconds() / 3600


@app.command()
def demo(
    ctx: typer.Context,
    scale: Annotated[str, typer.Option(help="tiny | small | city | benchmark")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same city.")] = 7,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve afterwards.")] = True,
    live: Annotated[bool, typer.Option(
        "--live/--still", help="While serving, feed new readings and requests every few "
                               "seconds through the connectors.")] = True,
    refresh: Annotated[
        bool, typer.Option(help="Bring an existing demo's data up to the current hour.")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="Replace another demo in the embedded SQLite store.")
    ] = False,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Generate the demo city into the store (once), then serve the dashboard."""
    from dashboard.demo import SCALES, generate_demo
    from dashboard.store import get_engine
    from dashboard.store.version import get_meta

    if scale not in SCALES:
        raise typer.BadParameter(f"choose one of {', '.join(SCALES)}", param_hint="--scale")
    settings = get_settings()
    if serve:  # say it now, not after generating the city
        _port_must_be_free(host or settings.host, port or settings.port)
    url = settings.resolved_database_url
    _upgrade(url)  # the demo's own store: brought to this code's schema first
    with get_engine(url).connect() as conn:
        raw = get_meta(conn, "demo")
    present = json.loads(raw) if raw else None
    same = present is not None and (present.get("scale"), present.get("seed")) == (scale, seed)
    if present is not None and not same:
        path = _sqlite_file(url)
        if not (force and path):
            typer.echo(
                f"error: the store at {url} holds another demo (scale {present.get('scale')}, "
                f"seed {present.get('seed')}). Use another CITYLENS_VAR_DIR, or --force to "
                "replace it (embedded SQLite only).",
                err=True,
            )
            raise typer.Exit(2)
        get_engine(url).dispose()
        get_engine.cache_clear()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        present, same = None, False
    age = _age_hours(present.get("end")) if present is not None else 0.0
    if same and present is not None and not refresh and age < 1:
        typer.echo(f"Demo city ({scale}, seed {seed}) already in the store; reusing it.")
    else:
        if same and present is not None and not refresh:
            typer.echo(f"Demo city ({scale}, seed {seed}) already in the store; its data ends "
                       f"{age:.0f} h ago: topping it up to the current hour.")
        started = time.perf_counter()
        summary = generate_demo(
            get_engine(url), settings, ingest=_wiring(ctx).ingest_demo, scale=scale, seed=seed,
            progress=lambda m: typer.echo(f"  {m}"),
        )
        typer.echo(
            f"Demo city generated in {time.perf_counter() - started:.1f} s: "
            f"{summary.districts} districts, {summary.assets} assets, "
            f"{summary.observations:,} observations, {summary.service_requests:,} service "
            f"requests, {summary.citizens:,} citizens ({summary.start:%Y-%m-%d} to "
            f"{summary.end:%Y-%m-%d %H:%M} UTC)."
        )
    _demo_users(url, ensure=same and not refresh)  # generating adds them itself
    if serve:
        simulate = _wiring(ctx).simulate
        if live and simulate is not None:
            with get_engine(url).connect() as conn:
                feeds = Path(json.loads(get_meta(conn, "demo") or "{}")["feeds"])
            simulate(get_engine(url), settings, feeds)
            typer.echo("The demo city is live: new readings every 5 s and now and then a "
                       "service request, through the connectors (--still to stop that).")
        _wiring(ctx).serve(settings, host, port)


def _demo_users(url: str, *, ensure: bool) -> None:
    """List the demo users; with ``ensure``, first add any a reused (older) demo store
    lacks."""
    from sqlalchemy import select

    from dashboard.demo.users import DEMO_PASSWORD, DEMO_USERS, add_demo_users
    from dashboard.model import District
    from dashboard.store import get_engine, unit_of_work

    if ensure:
        with unit_of_work(get_engine(url)) as conn:
            add_demo_users(conn, list(conn.execute(select(District.id).order_by(District.id))
                                      .scalars()))
    typer.echo(f"Sign in as one of these (password {DEMO_PASSWORD!r}, demo only):")
    for name, role, _, _, what in DEMO_USERS:
        typer.echo(f"  {name:<14} {role:<16} {what}")


@app.command()
def kpis(
    district: Annotated[str | None, typer.Option(help="District id; default the city.")] = None,
    municipality: Annotated[str | None, typer.Option(
        help="Municipality id (a metropolitan deployment): its KPIs, or with --district "
             "one of its districts")] = None,
    window: Annotated[str, typer.Option(help="day | week | month | quarter | year")] = "week",
    period: Annotated[str | None, typer.Option(
        help="24h | 7d | 30d | 90d | 12m, or a range of local dates 2026-10-01/2026-10-31 "
             "(the pages' words; wins over --window)")] = None,
    department: Annotated[str | None, typer.Option(
        help="A department: the KPIs it answers for, its request KPIs counting its own "
             "requests")] = None,
    lang: Annotated[str, typer.Option(help="Language of KPI names: en | es")] = "en",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print every KPI (value, target, score, trend, freshness) and the city score."""
    from dashboard import queries
    from dashboard.periods import kpi_window

    settings = get_settings()
    try:
        if period is not None:
            window = kpi_window(period, settings.current_time(), settings.timezone)
        data = queries.overview(settings, district, window, department, municipality)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    rows = [
        {**{k: v for k, v in kpi.items() if k != "spark"}, "name": kpi["name"].get(lang),
         "names": kpi["name"]}
        for kpi in data["kpis"]
    ]
    if as_json:
        _print({"district": district, "municipality": municipality,
                "department": department, "window": window,
                "window_start": data["window_start"],
                "window_end": data["window_end"], **queries.score_fields(data["city_score"]),
                "kpis": rows})
        return
    place = _place_name(settings, district) or _municipality_name(settings, municipality)
    for line in kpi_lines(data, rows, lang, place, department, window):
        typer.echo(line)


def _municipality_name(settings: Settings, municipality: str | None) -> str | None:
    """The municipality's name, or None for the whole city."""
    from dashboard import queries

    names = {m["id"]: m["name"] for m in queries.municipality_options(settings)}
    return names.get(municipality or "", municipality)


def _place_name(settings: Settings, district: str | None) -> str | None:
    """The district's name (its id when it has none), or None for the whole city."""
    from dashboard import queries

    if district is None:
        return None
    names = {d["id"]: d["name"] for d in queries.district_options(settings)}
    return names.get(district) or district


def kpi_lines(data: dict[str, Any], rows: list[dict[str, Any]], lang: str, place: str | None,
              department: str | None, window: str) -> list[str]:
    """``citylens kpis`` as text in ``lang``: words from the catalogue, numbers in the
    language's own format ("1,12" in Spanish), the district by its name."""
    from dashboard.i18n import format_number, gettext_for
    from dashboard.kpis.coverage import partial_label

    _ = gettext_for(lang)
    score = data["city_score"]["value"]
    windows = {"day": _("day"), "week": _("week"), "month": _("month"),
               "quarter": _("quarter"), "year": _("year")}
    where = ", ".join(w for w in (place or _("Whole city"), department,
                                  windows.get(window, window)) if w)
    lines = [_("City score") + f" ({where}): " + format_number(score, lang, 2) + " · "
             + _("{scored} of {total} KPIs scored").format(
                 scored=data["city_score"]["kpis_scored"], total=len(rows))]
    units = {"days": _("days"), "L/day": _("L/day"), "/1,000": _("/1,000")}
    for row in rows:
        value = format_number(row["value"], lang, row["decimals"])
        partial = partial_label(row.get("coverage"))
        unit = units.get(row["unit"], row["unit"])
        lines.append(f"  {row['name']:<44} {value:>9} {unit:<8} "
                     + _("target") + f" {format_number(row['target'], lang, _decimals(row['target']))} "
                     + _("score") + f" {format_number(row['score'], lang, 2)}"
                     + (f"  {partial}" if partial else ""))
    return lines


def _decimals(number: float) -> int:
    """Decimals a target is written with (40 -> 0, 0.7 -> 1, 1.5 -> 1)."""
    text = f"{number:g}"
    return len(text.split(".")[1]) if "." in text else 0


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Serve the dashboard (development server; use gunicorn app:server in production)."""
    settings = get_settings()
    _port_must_be_free(host or settings.host, port or settings.port)
    _wiring(ctx).serve(settings, host, port)


def port_taken(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port`` (so serving there would fail)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _port_must_be_free(host: str, port: int) -> None:
    """Exit with one line saying what to do when ``host:port`` is taken, before any work."""
    if port_taken(host, port):
        typer.echo(f"error: port {port} on {host} is already in use (another CityLens, or "
                   f"another program): stop it, or serve on another port with --port "
                   f"{port + 1} (or CITYLENS_PORT={port + 1})", err=True)
        raise typer.Exit(1)


@app.command("init-db")
def init_db() -> None:
    """Create the store, or bring it to this CityLens's schema (as ``citylens db upgrade``)."""
    settings = get_settings()
    _upgrade(settings.resolved_database_url)
    typer.echo(f"Store ready at {settings.resolved_database_url}")


def _upgrade(url: str) -> None:
    from dashboard.store import make_engine
    from dashboard.store.schema import upgrade_store

    engine = make_engine(url)
    upgrade_store(engine)
    engine.dispose()


def run(cli: typer.Typer, wiring: Wiring, args: list[str] | None = None) -> None:
    """Run ``cli`` with ``wiring``; a store at another schema revision (exit 2), or one
    that cannot be reached, opened or written (exit 1), is one line, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashboard.store.problems import store_problem
    from dashboard.store.schema import StoreOutOfDate

    try:
        cli(args=args, obj=wiring)
    except StoreOutOfDate as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)
    except (SQLAlchemyError, OSError) as error:
        typer.echo(f"error: {store_problem(error, get_settings().resolved_database_url)}",
                   err=True)
        sys.exit(1)
