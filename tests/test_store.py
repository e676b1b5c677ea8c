"""The unified store on SQLite and PostgreSQL: schema, upserts, observation ingest, rollups."""
from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import Connection, func, insert, inspect, select

from dashboard.model import Asset, Base, District, Observation, Rollup, ServiceRequest
from dashboard.store import bump_data_version, data_version, upsert
from dashboard.store.observations import day_starts, ingest_observations

TZ = "Europe/Madrid"
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC


def _assets(conn: Connection) -> tuple[int, int]:
    conn.execute(
        insert(District), [{"id": "d1", "name": "Centro", "geometry": {}, "population": 100}]
    )
    conn.execute(
        insert(Asset),
        [
            {"id": "urn:ngsi-ld:AirQualityObserved:t:1", "type": "AirQualityObserved",
             "domain": "environment", "district_id": "d1"},
            {"id": "urn:ngsi-ld:AirQualityObserved:t:2", "type": "AirQualityObserved",
             "domain": "environment", "district_id": None},
        ],
    )
    pks = conn.execute(select(Asset.pk).order_by(Asset.pk)).scalars().all()
    return pks[0], pks[1]


RollupRow = tuple[int, float, float, float]


def _rollups(conn: Connection, grain: str) -> dict[tuple[str, int], RollupRow]:
    rows = conn.execute(
        select(Rollup.district_id, Rollup.bucket, Rollup.count, Rollup.sum, Rollup.min, Rollup.max)
        .where(Rollup.grain == grain)
    )
    return {(d, b): (c, s, lo, hi) for d, b, c, s, lo, hi in rows}


def test_every_model_table_is_created(engine) -> None:
    names = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= names


def test_upsert_is_idempotent_and_updates(conn: Connection) -> None:
    row = {"id": "d9", "name": "Old", "geometry": {"type": "Polygon", "coordinates": []},
           "population": 1}
    upsert(conn, District.__table__, [row])
    upsert(conn, District.__table__, [row])
    upsert(conn, District.__table__, [{**row, "name": "New"}])
    names = conn.execute(select(District.name).where(District.id == "d9")).scalars().all()
    assert names == ["New"]
    upsert(conn, District.__table__, [{**row, "name": "Ignored"}], update=False)
    assert conn.execute(select(District.name).where(District.id == "d9")).scalar() == "New"


def test_observation_ingest_builds_rollups_and_is_idempotent(conn: Connection) -> None:
    inside, outside = _assets(conn)
    batch = pd.DataFrame(
        {
            "asset_pk": [inside, inside, inside, outside],
            "metric": "no2",
            "time": [T0 + 60, T0 + 120, T0 + 3600 + 5, T0 + 60],
            "value": [10.0, 30.0, 50.0, 7.0],
            "unit": "ug/m3",
        }
    )
    first = ingest_observations(conn, batch, TZ)
    assert (first.new, first.updated) == (4, 0)
    again = ingest_observations(conn, batch, TZ)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 4)
    assert conn.execute(select(func.count()).select_from(Observation)).scalar() == 4

    hourly = _rollups(conn, "hour")
    assert hourly[("d1", T0)] == (2, 40.0, 10.0, 30.0)
    assert hourly[("d1", T0 + 3600)] == (1, 50.0, 50.0, 50.0)
    assert hourly[("", T0)] == (1, 7.0, 7.0, 7.0)  # outside every district, still counted
    midnight = int(day_starts(pd.Series([T0]).to_numpy(), TZ)[0])
    assert midnight == T0 - 3600  # local midnight in Madrid is 23:00 UTC in winter
    assert _rollups(conn, "day")[("d1", midnight)] == (3, 90.0, 10.0, 50.0)


def test_changed_value_updates_row_and_recomputes_buckets(conn: Connection) -> None:
    inside, _ = _assets(conn)
    batch = pd.DataFrame(
        {"asset_pk": [inside, inside], "metric": "no2", "time": [T0, T0 + 60],
         "value": [10.0, 90.0]}
    )
    ingest_observations(conn, batch, TZ)
    corrected = batch.assign(value=[10.0, 20.0])
    result = ingest_observations(conn, corrected, TZ)
    assert (result.new, result.updated) == (0, 1)
    assert _rollups(conn, "hour")[("d1", T0)] == (2, 30.0, 10.0, 20.0)
    value = conn.execute(select(Observation.value).where(Observation.time == T0 + 60)).scalar()
    assert value == 20.0


def test_duplicates_inside_one_batch_keep_the_last(conn: Connection) -> None:
    inside, _ = _assets(conn)
    batch = pd.DataFrame(
        {"asset_pk": [inside, inside], "metric": "no2", "time": [T0, T0], "value": [1.0, 2.0]}
    )
    assert ingest_observations(conn, batch, TZ).new == 1
    assert _rollups(conn, "hour")[("d1", T0)] == (1, 2.0, 2.0, 2.0)


def test_unknown_asset_is_a_clear_error(conn: Connection) -> None:
    batch = pd.DataFrame({"asset_pk": [987654], "metric": "no2", "time": [T0], "value": [1.0]})
    with pytest.raises(ValueError, match="unknown asset"):
        ingest_observations(conn, batch, TZ)


def test_data_version_bumps(conn: Connection) -> None:
    before = data_version(conn)
    assert bump_data_version(conn) == before + 1
    assert data_version(conn) == before + 1


def test_datetimes_round_trip_as_aware_utc(conn: Connection) -> None:
    from datetime import datetime, timedelta, timezone

    local = datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    conn.execute(
        insert(ServiceRequest),
        [{"id": "SR-1", "service_code": "pothole", "department": "Obras", "status": "open",
          "requested_at": local}],
    )
    stored = conn.execute(select(ServiceRequest.requested_at)).scalar()
    assert stored == datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    assert stored.tzinfo is not None


def test_missing_units_stay_null_beside_given_ones(conn: Connection) -> None:
    inside, _ = _assets(conn)
    batch = pd.DataFrame({"asset_pk": [inside, inside], "metric": ["no2", "pm10"],
                          "time": [T0, T0], "value": [1.0, 2.0], "unit": ["ug/m3", None]})
    ingest_observations(conn, batch, TZ)
    units = dict(conn.execute(select(Observation.metric, Observation.unit)).all())
    assert units == {"no2": "ug/m3", "pm10": None}


def test_sqlite_page_cache_follows_the_setting(tmp_path, monkeypatch) -> None:
    """``CITYLENS_SQLITE_CACHE_MB`` sets each SQLite connection's page cache (64 MB by
    default); a value that is no number keeps the default."""
    from sqlalchemy import text as sql_text

    from dashboard.store.engine import make_engine as fresh_engine

    def cache_of(name: str) -> int:
        engine = fresh_engine(f"sqlite:///{tmp_path / name}")
        with engine.connect() as conn:
            size = int(conn.execute(sql_text("PRAGMA cache_size")).scalar_one())
        engine.dispose()
        return size

    monkeypatch.delenv("CITYLENS_SQLITE_CACHE_MB", raising=False)
    assert cache_of("default.db") == -64_000
    monkeypatch.setenv("CITYLENS_SQLITE_CACHE_MB", "16")
    assert cache_of("small.db") == -16_000
    monkeypatch.setenv("CITYLENS_SQLITE_CACHE_MB", "lots")
    assert cache_of("bad.db") == -64_000


def test_a_batch_of_blank_values_stores_nothing(conn: Connection) -> None:
    inside, _ = _assets(conn)
    blank = pd.DataFrame({"asset_pk": [inside], "metric": "no2", "time": [T0],
                          "value": [float("nan")]})
    assert ingest_observations(conn, blank, TZ) == ingest_observations(conn, blank.iloc[:0], TZ)
    assert conn.execute(select(func.count()).select_from(Observation)).scalar() == 0
