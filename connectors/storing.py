"""Store a batch of mapped records in the unified store, in the caller's transaction.

Entities are upserted on their natural keys (idempotent), citizens before the records
that name them; located assets, requests and notices get their district by
point-in-polygon; observations go through the ingest that keeps rollups and alerts in step.
A record whose rows do not fit the model, or name a citizen or district that does not
exist (``connectors.storing_refs``), is refused with its reason (the runner quarantines it)
before anything of it is written.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Table, bindparam, select, update

from connectors.base import Mapped, Plausible
from connectors.storing_refs import MissingReference, check_references, rows_with_ids
from dashboard.geo import DistrictIndex, hotspot_cell
from dashboard.ingest import ingest_observation_batch
from dashboard.kpis.definitions import ValueRanges, load_plausible_ranges, plausible_range
from dashboard.model import (
    Asset,
    Case,
    Citizen,
    District,
    Notice,
    Participation,
    Service,
    ServiceRequest,
    citizen_search_key,
)
from dashboard.settings import Settings
from dashboard.store import bump_data_version, upsert
from dashboard.store.partitions import retention_horizon
from dashboard.store.request_duplicates import find_duplicates, mark_duplicates
from dashboard.store.request_rollups import RequestTracker, rebuild_request_rollups
from dashboard.store.upsert import table_of

Record = tuple[Mapping[str, Any], Mapped]
ENTITY_TABLES: dict[str, tuple[Table, list[str]]] = {
    "districts": (table_of(District), ["id"]),
    "services": (table_of(Service), ["service_code"]),
    "citizens": (table_of(Citizen), ["id"]),  # before the records that name them
    "assets": (table_of(Asset), ["id"]),
    "service_requests": (table_of(ServiceRequest), ["id"]),
    "cases": (table_of(Case), ["id"]),
    "participation": (table_of(Participation), ["id"]),
    "notices": (table_of(Notice), ["id"]),
}
LOCATED = frozenset({"assets", "service_requests", "notices"})  # district from lat/lon
# The data-version scope each entity's writes touch (``dashboard.store.version``); asset
# rows also touch their domain's scope.
ENTITY_SCOPES = {"districts": "districts", "services": "requests", "citizens": "citizens",
                 "assets": "assets", "service_requests": "requests", "cases": "cases",
                 "participation": "participation", "notices": "notices"}
# Entities whose rollups (``dashboard.store.request_rollups``) follow every write, by kind.
ROLLED_UP = {"service_requests": "requests", "cases": "cases"}
OBSERVATION_FIELDS = {"asset_id", "metric", "time", "value", "unit"}
# An asset row with only these columns is a placeholder: inserted when absent, never updating.
PLACEHOLDER_COLUMNS = frozenset({"id", "type", "domain", "source_id"})
# JSON-object columns a partial update adds to, instead of replacing: entity -> column
MERGED_JSON = {"assets": "attributes"}


# Times that say when something happened (never in the future); other times (due dates,
# notices' dates) may be planned ahead, up to PLANNED_AHEAD.
HAPPENED = {"service_requests": ("requested_at", "updated_at", "closed_at"),
            "cases": ("opened_at", "closed_at"), "participation": ("time",)}
PLANNED_AHEAD = timedelta(days=3660)
MAX_VALUE = 1e12  # no city metric comes near; sums of many such stay finite


@dataclass(frozen=True)
class TimeBounds:
    """The plausible times of a batch: from ``earliest`` to ``latest`` (now plus the
    skew) for what happened, to ``planned`` for what is planned; readings no older than
    ``readings_from`` (the retention of raw readings, when one is set)."""

    earliest: datetime
    latest: datetime
    planned: datetime
    readings_from: datetime

    @classmethod
    def of(cls, settings: Settings) -> TimeBounds:
        now = settings.current_time()
        horizon = retention_horizon(now, settings.raw_retention_months)
        readings_from = settings.earliest_record
        if horizon is not None:
            readings_from = max(readings_from, datetime.fromtimestamp(horizon, timezone.utc))
        return cls(settings.earliest_record,
                   now + timedelta(minutes=settings.future_skew_minutes), now + PLANNED_AHEAD,
                   readings_from)

    def check_reading(self, moment: datetime) -> None:
        """ValueError, in one line, for a reading dated in the future or older than the
        raw readings the store keeps."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        if self.earliest <= moment < self.readings_from:
            raise ValueError(f"observation time {moment.isoformat()} is older than the raw "
                             f"readings kept (from {self.readings_from:%Y-%m-%d}, "
                             "CITYLENS_RAW_RETENTION_MONTHS)")
        self.check("observation time", moment, happened=True)

    def check(self, what: str, moment: datetime, happened: bool) -> None:
        """ValueError, in one line, when ``moment`` is not plausible."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        latest = self.latest if happened else self.planned
        if moment < self.earliest or moment > latest:
            raise ValueError(f"{what} {moment.isoformat()} is outside the plausible range "
                             f"{self.earliest:%Y-%m-%d} .. {latest.isoformat()}")


def _check_values(mapped: Mapped, ranges: ValueRanges) -> None:
    """ValueError, in one line, for a reading outside its metric's plausible range."""
    if not ranges or not mapped.observations:
        return
    types = {asset["id"]: asset.get("type") for asset in mapped.assets}
    for obs in mapped.observations:
        bounds = plausible_range(ranges, types.get(obs["asset_id"]), obs["metric"])
        if bounds and not bounds[0] <= obs["value"] <= bounds[1]:
            raise ValueError(f"reading {obs['metric']} = {obs['value']:g} is outside its "
                             f"plausible range {bounds[0]:g} .. {bounds[1]:g}")


def plausible_ranges(settings: Settings) -> ValueRanges:
    """The plausible readings of the KPI catalogue (none when it has no such section)."""
    try:
        return load_plausible_ranges(settings.kpis_file)
    except FileNotFoundError:
        return {}


def plausible_of(settings: Settings) -> Plausible:
    """The checks of ``store_batch`` for streams that map chunks in one go."""
    bounds = TimeBounds.of(settings)
    return Plausible(bounds.readings_from, bounds.latest, plausible_ranges(settings), MAX_VALUE)


def _check_times(mapped: Mapped, bounds: TimeBounds) -> None:
    for obs in mapped.observations:
        bounds.check_reading(obs["time"])
    for entity in ENTITY_TABLES:
        for row in getattr(mapped, entity):
            for field, value in row.items():
                if isinstance(value, datetime):
                    bounds.check(f"{entity}.{field}", value,
                                 happened=field in HAPPENED.get(entity, ()))


def _check(mapped: Mapped) -> None:
    """Raise ValueError when a mapped record does not fit the model."""
    for entity, (table, key) in ENTITY_TABLES.items():
        columns = set(table.columns.keys())
        for row in getattr(mapped, entity):
            unknown = set(row) - columns
            if unknown:
                raise ValueError(f"{entity}: unknown fields {sorted(unknown)}")
            missing = [k for k in key if row.get(k) in (None, "")]
            if missing:
                raise ValueError(f"{entity}: missing {missing}")
    for obs in mapped.observations:
        if set(obs) - OBSERVATION_FIELDS or not {"asset_id", "metric", "time", "value"} <= set(obs):
            raise ValueError(f"observation fields must be {sorted(OBSERVATION_FIELDS)}")
        if not isinstance(obs["time"], datetime) or obs["time"].tzinfo is None:
            raise ValueError(f"observation time must be an aware datetime: {obs['time']!r}")
        value = float(obs["value"])
        if not math.isfinite(value):
            raise ValueError(f"observation value is not a finite number: {obs['value']!r}")
        if abs(value) > MAX_VALUE:  # 1e308 would push the rollups' sums to infinity
            raise ValueError(f"observation value {value:g} is out of range (beyond "
                             f"±{MAX_VALUE:g})")


def _rows(
    records: Sequence[Record], entity: str, key: list[str], source_id: str | None
) -> list[list[dict[str, Any]]]:
    """The entity's rows of the batch, one per key (rows of one key merge, later columns
    win), grouped by column set so a row only ever writes the columns it has."""
    table = ENTITY_TABLES[entity][0]
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for _, mapped in records:
        for row in getattr(mapped, entity):
            row = dict(row)
            if source_id and "source_id" in table.columns and not row.get("source_id"):
                row["source_id"] = source_id
            found = tuple(row[k] for k in key)
            before = by_key.get(found, {})
            by_key[found] = {**before, **row}
            if entity in MERGED_JSON and isinstance(before.get(MERGED_JSON[entity]), dict):
                column = MERGED_JSON[entity]  # a later partial update adds to the earlier
                by_key[found][column] = {**before[column], **(row.get(column) or {})}
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in by_key.values():
        groups.setdefault(frozenset(row), []).append(row)
    return list(groups.values())


def _with_districts(rows: list[dict[str, Any]], index: DistrictIndex) -> None:
    """Give rows that say where they are their district; rows that do not say (a partial
    update) keep the district they have (rows of one group share their columns)."""
    if rows and "lat" not in rows[0] and "district_id" not in rows[0]:
        return
    todo = [r for r in rows if not r.get("district_id") and r.get("lat") is not None]
    if not todo:
        return
    for row, district in zip(
        todo, index.assign([r["lat"] for r in todo], [r.get("lon") for r in todo]), strict=True
    ):
        row["district_id"] = district
    for row in rows:
        row.setdefault("district_id", None)


def _with_search_text(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Give citizen rows that write a name, e-mail or phone their ``search_text``; a
    field the row leaves out is taken from the stored citizen (rows of one group share
    their columns, so either every row of ``rows`` gets it or none does)."""
    fields = ("name", "email", "phone")
    if not rows or not set(fields) & set(rows[0]):
        return
    stored: dict[str, Any] = {}
    if not set(fields) <= set(rows[0]):
        stored = {r.id: r for r in rows_with_ids(conn, Citizen.id, (row["id"] for row in rows),
                                                 Citizen.id, Citizen.name, Citizen.email,
                                                 Citizen.phone)}
    for row in rows:
        old = stored.get(row["id"])
        values = [row[f] if f in row else getattr(old, f, None) for f in fields]
        row["search_text"] = citizen_search_key(*values)


def asset_pks(conn: Connection, ids: set[str]) -> dict[str, int]:
    """The store's pk of each asset URN in ``ids`` that it holds."""
    return {row.id: row.pk for row in rows_with_ids(conn, Asset.id, ids, Asset.id, Asset.pk)}


def ingest_with_last_seen(conn: Connection, settings: Settings, frame: pd.DataFrame) -> None:
    """Ingest observations (asset_pk, metric, time, value, unit) and move each asset's
    ``last_seen`` to its newest reading."""
    ingest_observation_batch(conn, frame, settings)
    seen = frame.groupby("asset_pk")["time"].max()
    conn.execute(
        update(Asset).where(Asset.pk == bindparam("b_pk")).values(last_seen=bindparam("seen")),
        [{"b_pk": int(pk), "seen": pd.Timestamp(int(t), unit="s", tz="UTC").to_pydatetime()}
         for pk, t in zip(seen.index.tolist(), seen.tolist(), strict=True)],
    )


def _store_observations(
    conn: Connection, settings: Settings, records: Sequence[Record]
) -> tuple[bool, list[tuple[Any, str]]]:
    pks = asset_pks(conn, {o["asset_id"] for _, m in records for o in m.observations})
    refused: list[tuple[Any, str]] = []
    rows: list[tuple[int, str, int, float, Any]] = []
    for raw, mapped in records:
        unknown = {o["asset_id"] for o in mapped.observations} - pks.keys()
        if unknown:
            missing = sorted(unknown)
            refused.append((raw, MissingReference(
                f"observations of unknown assets {missing[:3]}", "asset", missing[0])))
            continue
        rows.extend(
            (pks[o["asset_id"]], o["metric"], int(o["time"].timestamp()), float(o["value"]),
             o.get("unit"))
            for o in mapped.observations
        )
    if not rows:
        return False, refused
    frame = pd.DataFrame(rows, columns=["asset_pk", "metric", "time", "value", "unit"])
    ingest_with_last_seen(conn, settings, frame)
    return True, refused


def store_batch(
    conn: Connection, settings: Settings, records: Sequence[Record], source_id: str | None = None
) -> tuple[int, list[tuple[Any, str]]]:
    """Store the records (stamped with ``source_id``); return how many were stored and the
    refused ones with their reasons."""
    refused: list[tuple[Any, str]] = []
    good: list[Record] = []
    bounds = TimeBounds.of(settings)
    ranges = plausible_ranges(settings)
    for raw, mapped in records:
        try:
            _check(mapped)
            _check_times(mapped, bounds)
            _check_values(mapped, ranges)
        except (ValueError, TypeError) as error:
            refused.append((raw, str(error)))
        else:
            good.append((raw, mapped))
    good, unknown_refs = check_references(conn, good)
    refused.extend(unknown_refs)
    index: DistrictIndex | None = None
    scopes: set[str] | None = set()
    for entity, (table, key) in ENTITY_TABLES.items():
        for rows in _rows(good, entity, key, source_id):
            placeholder = entity == "assets" and set(rows[0]) <= PLACEHOLDER_COLUMNS
            if placeholder:  # readings of known sensors change no asset record
                rows = _absent_assets(conn, rows)
                if not rows:
                    continue
            scopes = _touched(scopes, entity, rows)
            if entity == "citizens":
                _with_search_text(conn, rows)
            if entity in LOCATED:
                index = index or DistrictIndex.load(conn)
                _with_districts(rows, index)
            if entity == "service_requests" and "lat" in rows[0]:
                for row in rows:
                    row["h3_cell"] = hotspot_cell(row.get("lat"), row.get("lon"))
            if entity in MERGED_JSON and MERGED_JSON[entity] in rows[0]:
                _merge_stored_json(conn, table, rows, MERGED_JSON[entity])
            _upsert_in_step(conn, settings, entity, table, rows, key, update=not placeholder)
    _, unknown = _store_observations(conn, settings, good)  # bumps its own scopes
    refused.extend(unknown)
    if scopes is None or scopes:
        bump_data_version(conn, scopes)
    return len(good) - len(unknown), refused


def _merge_stored_json(conn: Connection, table: Table, rows: list[dict[str, Any]],
                       column: str) -> None:
    """Put the stored JSON object of ``column`` under each row's own (new keys win), so a
    partial update adds and changes attributes and keeps the others."""
    stored = {key: value for key, value in rows_with_ids(
        conn, table.c.id, (row["id"] for row in rows), table.c.id, table.c[column])}
    for row in rows:
        old = stored.get(row["id"])
        if isinstance(old, dict) and old:
            row[column] = {**old, **(row[column] or {})}


def _absent_assets(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The placeholder asset rows whose asset is not stored yet (the others would change
    nothing, and must not make every asset view recompute)."""
    known = {found.id for found in rows_with_ids(conn, Asset.id, (row["id"] for row in rows),
                                                  Asset.id)}
    return [row for row in rows if row["id"] not in known]


def _new_duplicates(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, str]:
    """The possible duplicates among the requests of ``rows`` not stored yet."""
    known = {found.id for found in rows_with_ids(
        conn, ServiceRequest.id, (row["id"] for row in rows), ServiceRequest.id)}
    return find_duplicates(conn, [row for row in rows if row["id"] not in known])


def _service_domains(conn: Connection, codes: list[str]) -> dict[str, str]:
    stmt = select(Service.service_code, Service.domain).where(
        Service.service_code.in_(bindparam("codes", expanding=True)))
    return dict(conn.execute(stmt, {"codes": codes}).all())


def _upsert_in_step(conn: Connection, settings: Settings, entity: str, table: Table,
                    rows: list[dict[str, Any]], key: list[str], *, update: bool) -> None:
    """Upsert ``rows``, keeping the request and case rollups in step: the records written
    move their buckets; a service that changes domain rebuilds the request rollups."""
    kind = ROLLED_UP.get(entity)
    if kind is not None:
        tracker = RequestTracker(kind, settings.timezone, [row["id"] for row in rows])
        tracker.before(conn)
        repeats = _new_duplicates(conn, rows) if entity == "service_requests" else {}
        upsert(conn, table, rows, key, update=update)
        mark_duplicates(conn, repeats)
        tracker.after(conn)
        return
    if entity == "services" and "domain" in rows[0]:
        codes = [row["service_code"] for row in rows]
        before = _service_domains(conn, codes)
        upsert(conn, table, rows, key, update=update)
        after = _service_domains(conn, codes)
        if any(code in before and before[code] != after.get(code) for code in codes):
            rebuild_request_rollups(conn, settings.timezone, ["requests"])
        return
    upsert(conn, table, rows, key, update=update)


def _touched(scopes: set[str] | None, entity: str, rows: list[dict[str, Any]]
             ) -> set[str] | None:
    """``scopes`` plus those that writing ``rows`` of ``entity`` touches; None (everything)
    when an asset row does not say its domain."""
    if scopes is None:
        return None
    if entity == "assets":
        domains = {row.get("domain") for row in rows}
        if None in domains:
            return None
        scopes |= {f"domain:{d}" for d in domains}
    return scopes | {ENTITY_SCOPES[entity]}
