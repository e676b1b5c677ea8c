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
from typing import Any

import numpy as np
from sqlalchemy import Engine, bindparam, select, update

from dashboard.demo.assets import AssetGroup, asset_rows, build_assets
from dashboard.demo.citizens import Citizens, build_citizens, citizen_rows
from dashboard.demo.clock import DAY, HOUR, Context
from dashboard.demo.config import CityConfig, Scale, load_config
from dashboard.demo.geography import District, build_districts
from dashboard.demo.models_utility import lamp_broken
from dashboard.demo.notices import notice_rows
from dashboard.demo.procedures import day_cases, day_participation
from dashboard.demo.requests import build_catalogue, day_requests, service_rows
from dashboard.demo.series import observation_batches
from dashboard.ingest import ingest_observation_batch
from dashboard.model import (
    Asset,
    Base,
    Case,
    Citizen,
    Notice,
    Participation,
    Service,
    ServiceRequest,
)
from dashboard.model import (
    District as DistrictRow,
)
from dashboard.settings import Settings
from dashboard.store import bump_data_version, init_store, unit_of_work, upsert
from dashboard.store.version import get_meta, set_meta

Progress = Callable[[str], None]
OBSERVATION_BATCH_ROWS = 300_000
ENTITY_BATCH_ROWS = 20_000


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


def _write_entities(engine: Engine, config: CityConfig, districts: list[District],
                    groups: list[AssetGroup], seed: int, end: int, scale: Scale,
                    ) -> tuple[dict[str, np.ndarray], Citizens]:
    """Districts, services, assets and citizens; returns asset pks per type, citizens."""
    citizens = build_citizens(config, scale, seed)
    district_ids = [d.id for d in districts]
    with unit_of_work(engine) as conn:
        upsert(conn, DistrictRow.__table__, [d.row() for d in districts])
        upsert(conn, Service.__table__, service_rows(config))
        for group in groups:
            rows = asset_rows(config, group, districts, asset_status(group, seed, end))
            upsert(conn, Asset.__table__, rows, key=["id"])  # the URN, not the surrogate pk
        upsert(conn, Citizen.__table__, citizen_rows(config, citizens, district_ids, seed))
        wanted = {asset_id for group in groups for asset_id in group.ids}
        found = {row.id: row.pk for row in conn.execute(select(Asset.pk, Asset.id))
                 if row.id in wanted}
    pks = {g.type.type: np.array([found[i] for i in g.ids], dtype=np.int64) for g in groups}
    return pks, citizens


def _write_observations(engine: Engine, settings: Settings, groups: list[AssetGroup],
                        pks: dict[str, np.ndarray], ctx: Context, start: int, end: int,
                        progress: Progress) -> int:
    """Stream observation batches into the store, one transaction each."""
    total = 0
    last_seen: dict[int, int] = {}
    for frame in observation_batches(groups, pks, ctx, start, end, OBSERVATION_BATCH_ROWS):
        with unit_of_work(engine) as conn:
            ingest_observation_batch(conn, frame, settings)
        total += len(frame)
        latest = frame.groupby("asset_pk")["time"].max()
        last_seen.update(zip(latest.index.tolist(), latest.tolist(), strict=True))
        day = datetime.fromtimestamp(int(frame["time"].max()), timezone.utc)
        progress(f"observations: {total:,} up to {day:%Y-%m-%d}")
    if last_seen:
        stmt = update(Asset).where(Asset.pk == bindparam("b_pk")).values(
            last_seen=bindparam("b_seen"))
        with unit_of_work(engine) as conn:
            conn.execute(stmt, [
                {"b_pk": pk, "b_seen": datetime.fromtimestamp(t, timezone.utc)}
                for pk, t in sorted(last_seen.items())
            ])
    return total


def _write_people(engine: Engine, config: CityConfig, scale: Scale, districts: list[District],
                  citizens: Citizens, ctx: Context, start: int, end: int,
                  progress: Progress) -> tuple[int, int, int]:
    """Service requests, cases and participation, day by day, in bounded transactions."""
    catalogue = build_catalogue(config)
    tables: tuple[type[Base], ...] = (ServiceRequest, Case, Participation)
    buffers: dict[type[Base], list[dict[str, Any]]] = {table: [] for table in tables}
    counts: dict[type[Base], int] = {table: 0 for table in tables}

    def flush() -> None:
        with unit_of_work(engine) as conn:
            for table, rows in buffers.items():
                if rows:
                    upsert(conn, table.__table__, rows)
                    counts[table] += len(rows)
                    rows.clear()

    for day in range(start // DAY, (end - 1) // DAY + 1):
        buffers[ServiceRequest] += day_requests(config, catalogue, districts, citizens, ctx,
                                                scale.requests_per_day, day, start, end)
        buffers[Case] += day_cases(config, districts, citizens, ctx, scale.cases_per_day,
                                   day, start, end)
        buffers[Participation] += day_participation(config, districts, citizens, ctx,
                                                    scale.participation_per_day, day, start, end)
        if sum(len(rows) for rows in buffers.values()) >= ENTITY_BATCH_ROWS:
            flush()
            progress(f"service requests: {counts[ServiceRequest]:,}")
    flush()
    return counts[ServiceRequest], counts[Case], counts[Participation]


def generate_demo(engine: Engine, settings: Settings, *, scale: str = "tiny", seed: int = 7,
                  end: datetime | None = None,
                  progress: Callable[[str], None] | None = None) -> DemoSummary:
    """Generate the demo city of ``scale`` into the store behind ``engine``.

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
    pks, citizens = _write_entities(engine, config, districts, groups, seed, end_s, spec)
    citizen_count = len(citizens.ids)
    say(f"{len(districts)} districts, {sum(g.size for g in groups):,} assets, "
        f"{citizen_count:,} citizens")
    observations = _write_observations(engine, settings, groups, pks, ctx, start_s, end_s, say)
    requests, cases, participation = _write_people(engine, config, spec, districts, citizens,
                                                   ctx, start_s, end_s, say)
    notices = notice_rows(config, districts, end_dt)
    with unit_of_work(engine) as conn:
        upsert(conn, Notice.__table__, notices)
        set_meta(conn, "demo", json.dumps({"seed": seed, "scale": scale,
                                           "start": start_dt.isoformat(),
                                           "end": end_dt.isoformat()}))
        bump_data_version(conn)
    summary = DemoSummary(
        scale=scale, seed=seed, districts=len(districts), assets=sum(g.size for g in groups),
        observations=observations, service_requests=requests, citizens=citizen_count,
        cases=cases, participation=participation, notices=len(notices),
        start=start_dt, end=end_dt, seconds=round(time.perf_counter() - started, 2),
    )
    say(f"done in {summary.seconds:.1f} s")
    return summary
