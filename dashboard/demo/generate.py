"""Generate the demo city into the store: districts, assets, observations, requests, people.

Deterministic given (seed, scale, end): every random draw comes from a stream keyed by the
seed and stable sub-keys (see :mod:`dashboard.demo.clock`), so the same inputs write the
same rows, and a day's data is the same whatever range it is generated in.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml
from sqlalchemy import Engine

from dashboard.demo import feeds
from dashboard.demo.assets import AssetGroup, asset_rows, build_assets
from dashboard.demo.citizens import Citizens, build_citizens, citizen_rows
from dashboard.demo.clock import DAY, HOUR, Context
from dashboard.demo.commitments import add_demo_commitments
from dashboard.demo.config import CityConfig, Scale, load_config
from dashboard.demo.consultations import add_demo_consultations
from dashboard.demo.feeds_telemetry import TelemetryExport
from dashboard.demo.geography import District, build_districts
from dashboard.demo.models_utility import lamp_broken
from dashboard.demo.notices import notice_rows
from dashboard.demo.procedures import day_cases, day_participation
from dashboard.demo.requests import build_catalogue, day_requests, service_rows
from dashboard.demo.series import observation_batches
from dashboard.demo.transit import write_gtfs
from dashboard.demo.transit_live import FEEDS, write_realtime
from dashboard.demo.users import add_demo_users
from dashboard.settings import Settings
from dashboard.store import bump_data_version, init_store, unit_of_work
from dashboard.store.partitions import partition_span
from dashboard.store.version import get_meta, set_meta

Progress = Callable[[str], None]
OBSERVATION_BATCH_ROWS = 300_000
# How the e-administration system spells a procedure's status.
CASE_STATUS = {"open": "abierto", "resolved": "resuelto", "rejected": "denegado"}


def feeds_folder(settings: Settings, scale: str, seed: int) -> Path:
    """Where the demo writes its feeds: ``<var>/demo-feeds/<scale>-<seed>``."""
    return Path(settings.var_dir) / "demo-feeds" / f"{scale}-{seed}"


@dataclass(frozen=True)
class DemoSummary:
    """What a demo generation wrote (rows generated per table) and the span it covers."""

    scale: str
    seed: int
    districts: int
    assets: int
    observations: int
    service_requests: int
    citizens: int
    cases: int
    participation: int
    notices: int
    start: datetime
    end: datetime
    seconds: float = 0.0


def _floor_hour(moment: datetime | None) -> datetime:
    if moment is None:
        moment = datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("end must be an aware datetime (UTC)")
    moment = moment.astimezone(timezone.utc)
    return moment.replace(minute=0, second=0, microsecond=0)


def _check_no_other_demo(engine: Engine, scale: str, seed: int) -> None:
    """Refuse to write over a demo of another seed or scale (ids would clash, values differ)."""
    with engine.connect() as conn:
        present = get_meta(conn, "demo")
    if present:
        facts = json.loads(present)
        if (facts.get("seed"), facts.get("scale")) != (seed, scale):
            raise ValueError(
                f"the store already holds a demo city (scale {facts.get('scale')}, seed "
                f"{facts.get('seed')}); generate scale {scale}, seed {seed} into an empty store"
            )


def asset_status(group: AssetGroup, seed: int, end: int) -> np.ndarray:
    """Each asset's status at ``end``: lamps out awaiting repair are ``defectiveLamp``."""
    status = np.full(group.size, "ok", dtype=object)
    if group.type.model == "streetlight":
        broken = lamp_broken(seed, group.size, np.array([end - HOUR]))[:, 0]
        status[broken] = "defectiveLamp"
    return status


def _write_registers(folder: Path, config: CityConfig, districts: list[District],
                     groups: list[AssetGroup], citizens: Citizens, seed: int, end: int
                     ) -> list[dict[str, Any]]:
    """Districts (GeoJSON), the census (CSV) and the device registry (NGSI v2 entities)."""
    entries = [feeds.write_districts(folder / "districts.geojson",
                                     [d.row() for d in districts])]
    columns = feeds.export_columns("citizens")
    census = feeds.CsvExport(folder / "citizens.csv", list(columns.values()))
    census.write(feeds.renamed(
        feeds.citizen_cells(citizen_rows(config, citizens, [d.id for d in districts], seed)),
        columns))
    census.close()
    entries.append({"id": "demo-citizens", "kind": "csv", "location": str(census.path),
                    "mapping": feeds.mapping_path("citizens")})
    broker = feeds.JsonListWriter(folder / "devices.json")
    for group in groups:
        if group.type.model == "transit":
            continue  # the bus stops come from the bus company's GTFS feed
        rows = asset_rows(config, group, districts, asset_status(group, seed, end))
        broker.write(feeds.asset_entity(row) for row in rows)
    broker.close()
    entries.append({"id": "demo-devices", "kind": "ngsi", "location": str(broker.path),
                    "domains": feeds.domain_overrides(config)})
    return entries


def _write_transit(folder: Path, settings: Settings, config: CityConfig,
                   groups: list[AssetGroup], districts: list[District], seed: int,
                   start: datetime, end: datetime) -> tuple[list[dict[str, Any]],
                                                           list[dict[str, Any]], int, int]:
    """The bus company's GTFS feed (written first: its stops are the GtfsStop assets) and
    its realtime feeds at ``end``. Returns their sources (static, realtime), and the buses
    and readings the realtime feeds hold."""
    stops = next((g for g in groups if g.type.model == "transit"), None)
    if stops is None or config.transit is None or not stops.size:
        return [], [], 0, 0
    place = folder / "transit"
    place.mkdir(exist_ok=True)
    local = ZoneInfo(settings.timezone)
    table = write_gtfs(place / "gtfs.zip", config, stops, settings.timezone,
                       start.astimezone(local).date(), (end + timedelta(days=60)).date())
    now = write_realtime(place, table, end, seed, settings.timezone, districts)
    feed = {"feed_id": config.slug}
    static = [{"id": "demo-gtfs", "kind": "gtfs", "location": str(place / "gtfs.zip"), **feed}]
    live = [{"id": f"demo-gtfs-rt-{name.replace('_', '-')}", "kind": "gtfs-rt",
             "location": str(place / f"{name}.pb"), **feed} for name in FEEDS]
    return static, live, now.vehicles, now.readings


def _write_telemetry(folder: Path, settings: Settings, groups: list[AssetGroup], ctx: Context,
                     start: int, end: int, progress: Progress) -> tuple[list[dict[str, Any]], int]:
    """Each sensor type's readings as a CSV log; returns their sources and the reading count."""
    export = TelemetryExport(folder / "telemetry", groups, settings.timezone)
    total = 0
    try:
        for frame in observation_batches(groups, export.positions(), ctx, start, end,
                                         OBSERVATION_BATCH_ROWS):
            export.write(frame)
            total += len(frame)
            day = datetime.fromtimestamp(int(frame["time"].max()), timezone.utc)
            progress(f"telemetry logs: {total:,} readings up to {day:%Y-%m-%d}")
    finally:
        export.close()
    return export.sources(), total


def _write_activity(folder: Path, config: CityConfig, scale: Scale, districts: list[District],
                    citizens: Citizens, ctx: Context, start: int, end: int, end_dt: datetime
                    ) -> tuple[list[dict[str, Any]], tuple[int, int, int, int]]:
    """Open311 services and requests, procedures, participation and the noticeboard."""
    feeds.write_services(folder / "services.xml", service_rows(config))
    catalogue = build_catalogue(config)
    requests = feeds.JsonListWriter(folder / "requests.json")
    columns = {name: feeds.export_columns(name) for name in ("cases", "participation",
                                                             "notices")}
    cases = feeds.CsvExport(folder / "cases.csv", list(columns["cases"].values()))
    participation = feeds.CsvExport(folder / "participation.csv",
                                    list(columns["participation"].values()))
    for day in range(start // DAY, (end - 1) // DAY + 1):
        requests.write(feeds.open311_request(row) for row in day_requests(
            config, catalogue, districts, citizens, ctx, scale.requests_per_day, day, start, end))
        cases.write(feeds.renamed(
            day_cases(config, districts, citizens, ctx, scale.cases_per_day, day, start, end),
            columns["cases"], {"status": CASE_STATUS}))
        participation.write(feeds.renamed(
            day_participation(config, districts, citizens, ctx, scale.participation_per_day,
                              day, start, end), columns["participation"]))
    for export in (requests, cases, participation):
        export.close()
    board = feeds.CsvExport(folder / "notices.csv", list(columns["notices"].values()))
    board.write(feeds.renamed(feeds.notice_cells(notice_rows(config, districts, end_dt)),
                              columns["notices"]))
    board.close()
    entries = [
        {"id": "demo-open311", "kind": "open311", "location": str(requests.path),
         "services": str(folder / "services.xml")},
        {"id": "demo-cases", "kind": "csv", "location": str(cases.path),
         "mapping": feeds.mapping_path("cases")},
        {"id": "demo-participation", "kind": "csv", "location": str(participation.path),
         "mapping": feeds.mapping_path("participation")},
        {"id": "demo-notices", "kind": "csv", "location": str(board.path),
         "mapping": feeds.mapping_path("notices")},
    ]
    return entries, (requests.count, cases.count, participation.count, board.count)


IngestFeeds = Callable[[Engine, Settings, Path, Progress], None]  # runs the feeds file


def generate_demo(engine: Engine, settings: Settings, *, ingest: IngestFeeds,
                  scale: str = "tiny", seed: int = 7, end: datetime | None = None,
                  progress: Callable[[str], None] | None = None) -> DemoSummary:
    """Generate the demo city of ``scale`` into the store behind ``engine``: write its feeds
    as a city's systems would export them, then ``ingest`` them (the connectors do that:
    ``connectors.demo.generate_demo`` passes their ingest, the core never imports them).

    ``end`` (aware, UTC; floored to the hour; default the current hour) is when the data
    stops; it starts ``days`` of the scale earlier. Same (seed, scale, end), same rows.
    Running again with a later end tops the data up (earlier days come out identical);
    a store holding a demo of another seed or scale is refused (ValueError).
    """
    started = time.perf_counter()
    say: Progress = progress or (lambda _message: None)
    config = load_config()
    if scale not in config.scales:
        raise ValueError(f"unknown demo scale {scale!r}; choose one of {', '.join(config.scales)}")
    spec = config.scales[scale]
    end_dt = _floor_hour(end)
    start_dt = end_dt - timedelta(days=spec.days)
    start_s, end_s = int(start_dt.timestamp()), int(end_dt.timestamp())
    ctx = Context(seed, settings.timezone, config.centre[0], config.centre[1], config.buildings)
    init_store(engine)
    _check_no_other_demo(engine, scale, seed)
    districts = build_districts(config)
    groups = build_assets(config, spec, districts, seed)
    say(f"demo city {config.name} ({scale}, seed {seed}): {start_dt:%Y-%m-%d} to {end_dt:%Y-%m-%d}")
    citizens = build_citizens(config, spec, seed)
    folder = feeds_folder(settings, scale, seed)
    (folder / "telemetry").mkdir(parents=True, exist_ok=True)
    entries = _write_registers(folder, config, districts, groups, citizens, seed, end_s)
    say(f"{len(districts)} districts, {sum(g.size for g in groups):,} assets, "
        f"{len(citizens.ids):,} citizens")
    gtfs, gtfs_rt, buses, bus_readings = _write_transit(folder, settings, config, groups,
                                                        districts, seed, start_dt, end_dt)
    telemetry, observations = _write_telemetry(folder, settings, groups, ctx, start_s, end_s,
                                               say)
    activity, (requests, cases, participation, notices) = _write_activity(
        folder, config, spec, districts, citizens, ctx, start_s, end_s, end_dt)
    entries += gtfs + telemetry + activity + gtfs_rt
    sources = folder / feeds.SOURCES_FILE
    sources.write_text("# The demo city's feeds, written by the generator; "
                       "`citylens sources run --config` this file to ingest them again.\n"
                       + yaml.safe_dump({"sources": feeds.in_run_order(entries)},
                                        sort_keys=False), encoding="utf-8")
    with unit_of_work(engine) as conn:  # PostgreSQL: each month's readings to its partition
        partition_span(conn, start_dt, end_dt)
    say(f"feeds written to {folder}; ingesting them through the connectors")
    ingest(engine, settings, sources, say)
    citizen_count = len(citizens.ids)
    with unit_of_work(engine) as conn:
        set_meta(conn, "demo", json.dumps({"seed": seed, "scale": scale,
                                           "start": start_dt.isoformat(),
                                           "end": end_dt.isoformat(),
                                           "feeds": str(folder)}))
        add_demo_users(conn, [d.id for d in districts])
        participation += add_demo_consultations(conn, settings, end_dt, seed)
        add_demo_commitments(conn, settings, end_dt)
        bump_data_version(conn)
    summary = DemoSummary(
        scale=scale, seed=seed, districts=len(districts),
        assets=sum(g.size for g in groups) + buses, observations=observations + bus_readings,
        service_requests=requests, citizens=citizen_count,
        cases=cases, participation=participation, notices=notices,
        start=start_dt, end=end_dt, seconds=round(time.perf_counter() - started, 2),
    )
    say(f"done in {summary.seconds:.1f} s")
    return summary
