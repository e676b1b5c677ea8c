"""``citylens districts|ingest|quarantine|sources``: run connectors from the command line.

The composition root (``app.main``) adds these groups to the core's command line
(``register_commands``). Connector modules are imported inside the commands, so that a
command of another group does not load every parser.
"""
from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from sqlalchemy import select

from dashboard.settings import get_settings

districts_app = typer.Typer(no_args_is_help=True, help="District boundaries.")
ingest_app = typer.Typer(no_args_is_help=True, help="Ingest one source once.")
quarantine_app = typer.Typer(no_args_is_help=True, help="Records that could not be stored.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SourceId = Annotated[str | None, typer.Option("--source-id", help="Source id (default: derived).")]
Full = Annotated[bool, typer.Option("--full", help="Ignore the watermark; read everything.")]


def _run(kind: str, config: dict[str, Any], source_id: str, as_json: bool, full: bool = False,
         after: Any = None) -> None:
    from connectors import get_connector
    from connectors.runner import SourceBusy, run_source
    from dashboard.feed_health import RUN_LEASE_SECONDS
    from dashboard.store import get_engine

    settings = get_settings()
    engine = get_engine(settings.resolved_database_url)
    try:
        connector = get_connector(kind)(config)
    except ValueError as error:  # pydantic's ValidationError included
        typer.echo(f"error: {kind}: {_one_line(error)}", err=True)
        raise typer.Exit(2) from error
    try:
        report = run_source(engine, settings, connector, source_id, full=full)
    except SourceBusy as busy:
        typer.echo(f"error: {source_id}: {busy} (a run whose process is gone lets go at "
                   f"once on its own machine, {RUN_LEASE_SECONDS:.0f} s after its last "
                   f"heartbeat from another)", err=True)
        raise typer.Exit(1) from busy
    payload = report.as_dict()
    if after is not None and report.status in ("ok", "partial") and report.stored:
        payload.update(after(engine, settings))
    if as_json:
        sys.stdout.write(json.dumps(payload, default=str) + "\n")
    elif report.status != "failed":
        typer.echo(f"{source_id} ({kind}): {report.records_in} records in, {report.stored} "
                   f"stored, {report.quarantined} quarantined, {report.status} "
                   f"in {report.seconds:.1f} s")
    if report.failure == "format":
        typer.echo(f"error: {report.error}", err=True)
        raise typer.Exit(2)
    if report.failure:
        typer.echo(f"error: {source_id}: {report.error}", err=True)
        raise typer.Exit(1)


def sources_or_exit(config: str) -> list[Any]:
    """The entries of the sources file ``config`` (``load_sources``), or its one-line
    error and exit code 2."""
    from pathlib import Path

    from connectors.base import SourceFormatError
    from connectors.sources import load_sources

    try:
        return load_sources(Path(config))
    except SourceFormatError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


def _reassign(engine: Any, settings: Any) -> dict[str, Any]:
    from dashboard.store import unit_of_work
    from dashboard.store.reassign import reassign_districts

    with unit_of_work(engine) as conn:
        moved = reassign_districts(conn, settings.timezone)
    return {"reassigned_assets": moved.assets, "reassigned_requests": moved.service_requests}


@districts_app.command("load")
def districts_load(
    file: Annotated[str, typer.Argument(
        help="GeoJSON, Shapefile (.shp or zipped) or GeoPackage of polygons.")],
    name_field: Annotated[str, typer.Option(help="Property that names each district.")] = "name",
    id_field: Annotated[str | None, typer.Option(help="Property with the district id.")] = None,
    population_field: Annotated[str | None, typer.Option(help="Property with population.")] = None,
    layer: Annotated[str | None, typer.Option(
        help="GeoPackage layer, or Shapefile in a zip, to read.")] = None,
    crs: Annotated[str | None, typer.Option(
        help="The file's coordinate system (EPSG:25830), when it declares none or a wrong "
             "one.")] = None,
    parent_field: Annotated[str | None, typer.Option(
        help="Property naming each district's municipality (or borough).")] = None,
    municipality: Annotated[str | None, typer.Option(
        help="The municipality every district of the file belongs to.")] = None,
    source_id: SourceId = None,
    as_json: JsonFlag = False,
) -> None:
    """Load district boundaries, reprojected to WGS84; every located asset and request is
    assigned again."""
    config = {"location": file, "name_field": name_field, "id_field": id_field,
              "population_field": population_field, "layer": layer, "crs": crs,
              "parent_field": parent_field, "municipality": municipality}
    _run("districts", config, source_id or "districts", as_json, full=True, after=_reassign)


@ingest_app.command("open311")
def ingest_open311(
    location: Annotated[str, typer.Argument(help="File or URL of GeoReport v2 requests.")],
    services: Annotated[str | None, typer.Option(help="File or URL of the services.")] = None,
    source_id: SourceId = None,
    full: Full = False,
    as_json: JsonFlag = False,
) -> None:
    """Open311 GeoReport v2 requests (JSON or XML), and optionally the service list."""
    config: dict[str, Any] = {"location": location, "services": services}
    _run("open311", config, source_id or f"open311:{location}", as_json, full=full)


@ingest_app.command("ngsi")
def ingest_ngsi(
    location: Annotated[str, typer.Argument(help="NGSI v2/LD file, or a broker URL.")],
    entity_type: Annotated[str | None, typer.Option("--type", help="Entity type(s).")] = None,
    service: Annotated[str | None, typer.Option(help="Fiware-Service (v2).")] = None,
    tenant: Annotated[str | None, typer.Option(help="NGSILD-Tenant (LD).")] = None,
    source_id: SourceId = None,
    full: Full = False,
    as_json: JsonFlag = False,
) -> None:
    """FIWARE NGSI v2 / NGSI-LD entities (key-values or normalized) -> assets + observations."""
    config = {k: v for k, v in {"location": location, "type": entity_type, "service": service,
                                "tenant": tenant}.items() if v is not None}
    _run("ngsi", config, source_id or f"ngsi:{location}", as_json, full=full)


@ingest_app.command("csv")
def ingest_csv(
    file: Annotated[str, typer.Argument(help="A legacy CSV or Excel (.xlsx) export.")],
    mapping: Annotated[str, typer.Option(help="YAML mapping (see data/mappings/).")],
    source_id: SourceId = None,
    full: Full = False,
    as_json: JsonFlag = False,
) -> None:
    """A CSV/Excel export described by a YAML mapping -> any entity of the model."""
    _run("csv", {"location": file, "mapping": mapping}, source_id or f"csv:{file}", as_json,
         full=full)


@ingest_app.command("sql")
def ingest_sql(
    database_url: Annotated[str, typer.Argument(help="SQLAlchemy URL of the legacy database.")],
    mapping: Annotated[str, typer.Option(help="YAML mapping (see data/mappings/).")],
    table: Annotated[str | None, typer.Option(help="Table (or schema.table).")] = None,
    query: Annotated[str | None, typer.Option(help="A SELECT instead of a table.")] = None,
    source_id: SourceId = None,
    full: Full = False,
    as_json: JsonFlag = False,
) -> None:
    """A table or query of any database SQLAlchemy reaches, read by its cursor column."""
    config = {k: v for k, v in {"location": database_url, "mapping": mapping, "table": table,
                                "query": query}.items() if v is not None}
    _run("sql", config, source_id or f"sql:{table or 'query'}", as_json, full=full)


@ingest_app.command("gtfs")
def ingest_gtfs(
    feed: Annotated[str, typer.Argument(help="A GTFS static zip.")],
    feed_id: Annotated[str, typer.Option(help="Short name of the feed (in stop ids).")] = "gtfs",
    source_id: SourceId = None,
    as_json: JsonFlag = False,
) -> None:
    """GTFS static: transit stops as assets, with the routes that serve them."""
    _run("gtfs", {"location": feed, "feed_id": feed_id}, source_id or f"gtfs:{feed_id}",
         as_json, full=True)


@ingest_app.command("gtfs-rt")
def ingest_gtfs_rt(
    location: Annotated[str, typer.Argument(help="GTFS-Realtime protobuf file or URL.")],
    feed_id: Annotated[str, typer.Option(help="The static feed's short name.")] = "gtfs",
    source_id: SourceId = None,
    full: Full = False,
    as_json: JsonFlag = False,
) -> None:
    """GTFS-Realtime: trip-update delays at stops, vehicle positions and speeds."""
    _run("gtfs-rt", {"location": location, "feed_id": feed_id},
         source_id or f"gtfs-rt:{location}", as_json, full=full)


@ingest_app.command("sensorthings")
def ingest_sensorthings(
    location: Annotated[str, typer.Argument(help="Service root URL, or a file of Observations.")],
    datastream_id: Annotated[str | None, typer.Option(help="File: the Datastream's id.")] = None,
    metric: Annotated[str | None, typer.Option(help="File: the metric's name.")] = None,
    unit: Annotated[str | None, typer.Option(help="File: the unit.")] = None,
    source_id: SourceId = None,
    full: Full = False,
    as_json: JsonFlag = False,
) -> None:
    """OGC SensorThings: Things, Locations, Datastreams and Observations (@iot.nextLink)."""
    config = {k: v for k, v in {"location": location, "datastream_id": datastream_id,
                                "metric": metric, "unit": unit}.items() if v is not None}
    _run("sensorthings", config, source_id or f"sensorthings:{location}", as_json, full=full)


@ingest_app.command("mqtt")
def ingest_mqtt(
    broker: Annotated[str, typer.Option(help="mqtt://HOST:PORT (or mqtts://).")],
    topic: Annotated[list[str], typer.Option(help="Topic filter; repeat for several.")],
    seconds: Annotated[float | None, typer.Option(help="Listen this long.")] = None,
    count: Annotated[int | None, typer.Option(help="Stop after this many messages.")] = None,
    client_id: Annotated[str | None, typer.Option(
        help="A stable id: a persistent session, so messages published between runs, or "
             "read by a run killed before it committed them, come to the next run.")] = None,
    source_id: SourceId = None,
    as_json: JsonFlag = False,
) -> None:
    """Live telemetry from an MQTT broker (IoT Agent topics /<apikey>/<device>/attrs).
    Messages are acknowledged to the broker only once stored."""
    if seconds is None and count is None:
        raise typer.BadParameter("give --seconds or --count", param_hint="--seconds/--count")
    config = {k: v for k, v in {"location": broker, "topics": topic, "seconds": seconds,
                                "count": count, "client_id": client_id}.items()
              if v is not None}
    _run("mqtt", config, source_id or f"mqtt:{','.join(topic)}", as_json)


@quarantine_app.command("list")
def quarantine_list(
    source: Annotated[str | None, typer.Option(help="Only this source id.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Quarantined records with their reasons, newest first."""
    from dashboard.model import Quarantine
    from dashboard.store import get_engine

    settings = get_settings()
    stmt = select(Quarantine).order_by(Quarantine.id.desc()).limit(limit)
    if source:
        stmt = stmt.where(Quarantine.source_id == source)
    with get_engine(settings.resolved_database_url).connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    if as_json:
        sys.stdout.write(json.dumps(rows, default=str, ensure_ascii=False) + "\n")
        return
    for row in rows:
        typer.echo(f"{row['received']:%Y-%m-%d %H:%M} {row['source_id']}: {row['reason']}")
    if not rows:
        typer.echo("No quarantined records.")


@quarantine_app.command("retry")
def quarantine_retry(
    source: Annotated[str | None, typer.Option(help="Only this source id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Map and store quarantined records again (after the references they named arrived,
    or a mapping was fixed); those still refused stay, with their new reasons."""
    from connectors.replay import replay_quarantine
    from dashboard.store import get_engine

    settings = get_settings()
    reports = replay_quarantine(get_engine(settings.resolved_database_url), settings,
                                source_id=source)
    if as_json:
        sys.stdout.write(json.dumps({k: v.__dict__ for k, v in reports.items()}) + "\n")
        return
    for source_id, report in reports.items():
        why = report.skipped.get(source_id)
        typer.echo(f"{source_id}: not replayed ({why})" if why else
                   f"{source_id}: {report.tried} tried, {report.stored} stored, "
                   f"{report.still_quarantined} still quarantined")
    if not reports:
        typer.echo("Nothing to replay.")


sources_app = typer.Typer(no_args_is_help=True, help="Configured sources (sources.yaml).")


@sources_app.command("run")
def sources_run(
    config: Annotated[str, typer.Option(help="Sources file.")] = "data/sources.yaml",
    loop: Annotated[bool, typer.Option(help="Keep running each source on its schedule.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run every enabled source once (or on its schedule with --loop)."""
    from connectors.sources import run_all, run_forever
    from dashboard.store import get_engine

    settings = get_settings()
    entries = sources_or_exit(config)
    engine = get_engine(settings.resolved_database_url)

    def show(report: Any) -> None:
        if as_json:
            sys.stdout.write(json.dumps(report.as_dict(), default=str) + "\n")
            sys.stdout.flush()
        else:
            detail = f" ({report.error})" if report.error else ""
            typer.echo(f"{report.source} ({report.kind}): {report.records_in} in, "
                       f"{report.stored} stored, {report.quarantined} quarantined, "
                       f"{report.status}{detail}")

    if loop:
        run_forever(engine, settings, entries, show)
        return
    reports = run_all(engine, settings, entries)
    for report in reports:
        show(report)
    if any(r.status == "failed" for r in reports):
        raise typer.Exit(1)


@sources_app.command("watermark")
def sources_watermark(
    source: Annotated[str, typer.Argument(help="The source's id.")],
    reset: Annotated[str | None, typer.Option(
        help="Set it: an ISO-8601 time (e.g. 2026-11-30T00:00Z), a number for a numeric "
             "cursor, or 'beginning' to read everything on the next run.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the watermark a source's next run reads after, or set it (--reset)."""
    from connectors.watermarks import (
        UnknownSourceError,
        current_watermark,
        reset_watermark,
        watermark_value,
    )
    from dashboard.store import get_engine

    engine = get_engine(get_settings().resolved_database_url)
    try:
        if reset is None:
            mark = current_watermark(engine, source)
        else:
            mark = reset_watermark(engine, source, watermark_value(reset))
    except (UnknownSourceError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    if as_json:
        sys.stdout.write(json.dumps(mark.__dict__, default=str) + "\n")
        return
    if reset is not None:
        typer.echo(f"{source}: watermark set to {mark.value or 'the beginning'}; "
                   f"the next run reads after it")
    elif mark.run_id is None:
        typer.echo(f"{source}: no watermark yet (the next run reads everything)")
    else:
        when = f"{mark.finished:%Y-%m-%d %H:%M}" if mark.finished else "?"
        typer.echo(f"{source}: watermark {mark.value or 'none (reads everything)'} "
                   f"(run {mark.run_id}, {mark.status}, {when})")


GROUPS = {"districts": districts_app, "ingest": ingest_app, "quarantine": quarantine_app,
          "sources": sources_app}


def register_commands(cli: typer.Typer) -> None:
    """Add the connectors' command groups, the long-lived listeners (``listen``) and the
    task queue's ``worker`` and ``scheduler`` to ``cli`` (once)."""
    from connectors.cli_queue import listen_app, scheduler, worker

    present = {group.name for group in cli.registered_groups}
    for name, group in {**GROUPS, "listen": listen_app}.items():
        if name not in present:
            cli.add_typer(group, name=name)
    commands = {command.name for command in cli.registered_commands}
    for name, function in (("worker", worker), ("scheduler", scheduler)):
        if name not in commands:
            cli.command(name)(function)
