"""The open datasets' rows, streamed from the store in chunks (a server-side cursor on
PostgreSQL, SQLite's own cursor), as Arrow record batches: never a whole table in memory.

Only public fields leave here: service requests carry exactly the fields of the API
(``dashboard.api.reads.REQUEST_FIELDS``: no citizen, no address, no free text), with
locations rounded to ``PUBLISHED_DECIMALS``.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import shapely
from shapely.geometry import shape
from sqlalchemy import Connection, select

from dashboard.api.reads import PUBLISHED_DECIMALS, REQUEST_FIELDS
from dashboard.model import Asset, District, LatestReading, Observation, ServiceRequest
from dashboard.opendata.sinks import GEOMETRY, batches

CHUNK = 50_000
UTC_SECONDS = pa.timestamp("s", tz="UTC")

DISTRICTS = pa.schema([("id", pa.string()), ("name", pa.string()),
                       ("population", pa.int64()), ("area_km2", pa.float64()),
                       ("municipality_id", pa.string()), ("municipality_name", pa.string()),
                       (GEOMETRY, pa.binary())])
ASSETS = pa.schema([("id", pa.string()), ("type", pa.string()), ("domain", pa.string()),
                    ("name", pa.string()), ("lat", pa.float64()), ("lon", pa.float64()),
                    ("district_id", pa.string()), ("status", pa.string()),
                    ("last_seen", UTC_SECONDS), ("latest_readings", pa.string())])
OBSERVATIONS = pa.schema([("asset_id", pa.string()), ("metric", pa.string()),
                          ("time", UTC_SECONDS), ("value", pa.float64()),
                          ("unit", pa.string())])
_REQUEST_TYPES = {"requested_at": UTC_SECONDS, "updated_at": UTC_SECONDS,
                  "closed_at": UTC_SECONDS, "expected_at": UTC_SECONDS,
                  "lat": pa.float64(), "lon": pa.float64()}
SERVICE_REQUESTS = pa.schema([(name, _REQUEST_TYPES.get(name, pa.string()))
                              for name in REQUEST_FIELDS])


def _chunks(conn: Connection, stmt: Any, size: int = CHUNK) -> Iterator[list[tuple[Any, ...]]]:
    """``stmt``'s rows as lists of plain tuples, ``size`` at a time, streamed."""
    result = conn.execution_options(yield_per=size).execute(stmt)
    for part in result.partitions(size):
        yield [tuple(row) for row in part]


def district_batches(conn: Connection) -> Iterator[pa.RecordBatch]:
    """Districts by id: id, name, population, area in km², municipality (id and name, empty
    in a single city), geometry (WKB, lon/lat)."""
    stmt = select(District.id, District.name, District.population, District.area_km2,
                  District.municipality_id, District.municipality_name,
                  District.geometry).order_by(District.id)

    def rows() -> Iterator[list[tuple[Any, ...]]]:
        for chunk in _chunks(conn, stmt, 500):
            yield [(i, name, int(population or 0), float(area or 0.0), municipality,
                    municipality_name, shapely.to_wkb(shape(geometry)) if geometry else None)
                   for i, name, population, area, municipality, municipality_name, geometry
                   in chunk]

    return batches(rows(), DISTRICTS)


def _latest_of(conn: Connection, low: int, high: int) -> dict[int, dict[str, Any]]:
    """The latest reading of each metric of the assets whose key is in [low, high]."""
    found: dict[int, dict[str, Any]] = {}
    stmt = select(LatestReading.asset_pk, LatestReading.metric, LatestReading.value,
                  LatestReading.unit, LatestReading.time).where(
        LatestReading.asset_pk >= low, LatestReading.asset_pk <= high)
    for pk, metric, value, unit, time in conn.execute(stmt):
        found.setdefault(pk, {})[metric] = {"value": value, "unit": unit,
                                            "time": _iso_epoch(time)}
    return found


def _iso_epoch(epoch: int) -> str:
    return np.datetime_as_string(np.datetime64(int(epoch), "s")) + "Z"


def asset_batches(conn: Connection, size: int = CHUNK) -> Iterator[pa.RecordBatch]:
    """Assets by store key: id, type, domain, name, lat, lon, district, status, last seen
    and their latest readings (JSON: metric -> value, unit, time)."""
    stmt = select(Asset.pk, Asset.id, Asset.type, Asset.domain, Asset.name, Asset.lat,
                  Asset.lon, Asset.district_id, Asset.status, Asset.last_seen
                  ).order_by(Asset.pk)

    def rows() -> Iterator[list[tuple[Any, ...]]]:
        for chunk in _chunks(conn, stmt, size):
            latest = _latest_of(conn, chunk[0][0], chunk[-1][0])
            yield [(*row[1:], json.dumps(latest.get(row[0], {}), ensure_ascii=False,
                                         sort_keys=True)) for row in chunk]

    return batches(rows(), ASSETS)


def request_batches(conn: Connection, size: int = CHUNK) -> Iterator[pa.RecordBatch]:
    """Service requests by id, with the API's public fields only (locations rounded)."""
    sr = ServiceRequest
    stmt = select(*[getattr(sr, name) for name in REQUEST_FIELDS]).order_by(sr.id)
    lat, lon = REQUEST_FIELDS.index("lat"), REQUEST_FIELDS.index("lon")

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, PUBLISHED_DECIMALS)

    def rows() -> Iterator[list[tuple[Any, ...]]]:
        for chunk in _chunks(conn, stmt, size):
            for i, row in enumerate(chunk):
                values = list(row)
                values[lat], values[lon] = rounded(values[lat]), rounded(values[lon])
                chunk[i] = tuple(values)
            yield chunk

    return batches(rows(), SERVICE_REQUESTS)


def asset_ids(conn: Connection) -> pa.Array:
    """Every asset's public id at the position of its store key (a lookup table)."""
    pairs = conn.execute(select(Asset.pk, Asset.id)).all()
    table = np.full(max((pk for pk, _ in pairs), default=0) + 1, None, dtype=object)
    for pk, public in pairs:
        table[pk] = public
    return pa.array(table, pa.string())


def observation_batches(conn: Connection, start: int, end: int,
                        size: int = CHUNK) -> Iterator[pa.RecordBatch]:
    """Raw readings with ``start <= time < end`` (epoch s), in no particular order: asset
    id, metric, time (UTC), value, unit. The asset ids come from one lookup table, not a
    join per row; on PostgreSQL only the monthly partitions of the span are read."""
    ids = asset_ids(conn)
    ob = Observation
    stmt = select(ob.asset_pk, ob.metric, ob.time, ob.value, ob.unit).where(
        ob.time >= start, ob.time < end)
    for chunk in _chunks(conn, stmt, size):
        pks, metrics, times, values, units = zip(*chunk, strict=True)
        yield pa.RecordBatch.from_arrays([
            ids.take(pa.array(pks, pa.int64())),
            pa.array(metrics, pa.string()),
            pa.array(times, pa.int64()).cast(UTC_SECONDS),
            pa.array(values, pa.float64()),
            pa.array(units, pa.string()),
        ], schema=OBSERVATIONS)
