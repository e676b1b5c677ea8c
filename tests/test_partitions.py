"""Observations partitioned by month on PostgreSQL (migration 0009), ``citylens db maintain``
and the retention of raw readings, against the real server (and SQLite, which keeps one
table and deletes old rows instead)."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timezone

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import Connection, Engine, func, insert, inspect, select, text
from typer.testing import CliRunner

from connectors.storing import TimeBounds
from dashboard.kpis.definitions import load_kpis
from dashboard.kpis.engine import compute_kpi_table
from dashboard.kpis.windows import window_for
from dashboard.model import Asset, District, Observation, Rollup
from dashboard.settings import Settings
from dashboard.store.observations import day_starts, ingest_observations
from dashboard.store.partitions import (
    DEFAULT,
    TIME_INDEX,
    epoch,
    is_partitioned,
    kept_from,
    maintain,
    partition_months,
    partition_span,
)
from dashboard.store.reassign import rebuild_rollups
from dashboard.store.schema import _config, upgrade_store
from tests.conftest import throwaway_pg_store

TZ = "Europe/Madrid"
NOW = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)
FIRST = datetime(2026, 6, 1, tzinfo=timezone.utc)
HOUR = 3600
KEPT_MONTHS = 2  # at NOW: raw readings from 2026-09-01 on
HORIZON = epoch(date(2026, 9, 1))


@pytest.fixture
def pg() -> Engine:
    with throwaway_pg_store("citylens_parts") as engine:
        yield engine


def _city(conn: Connection) -> list[int]:
    """Two air stations in a district and one outside every district."""
    conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": {},
                                     "population": 1000}])
    conn.execute(insert(Asset), [
        {"id": f"urn:ngsi-ld:AirQualityObserved:p:{n}", "type": "AirQualityObserved",
         "domain": "environment", "district_id": district}
        for n, district in enumerate(["d1", "d1", None])])
    return list(conn.execute(select(Asset.pk).order_by(Asset.pk)).scalars())


def _readings(pks: list[int], start: datetime, end: datetime, step: int = HOUR) -> pd.DataFrame:
    """A reading of no2 every ``step`` seconds from each station, values that vary."""
    times = list(range(int(start.timestamp()), int(end.timestamp()), step))
    rows = [{"asset_pk": pk, "metric": "no2", "time": t,
             "value": float((t // step * 7 + pk * 13) % 97), "unit": "ug/m3"}
            for pk in pks for t in times]
    return pd.DataFrame(rows)


def _fill(engine: Engine, start: datetime = FIRST, end: datetime = NOW) -> pd.DataFrame:
    with engine.begin() as conn:
        pks = _city(conn)
        readings = _readings(pks, start, end)
        ingest_observations(conn, readings, TZ)
    return readings


def _month(epoch_second: int) -> date:
    moment = datetime.fromtimestamp(epoch_second, timezone.utc)
    return date(moment.year, moment.month, 1)


def _rows_by_partition(conn: Connection) -> Counter[str]:
    found = conn.execute(text("SELECT tableoid::regclass::text, COUNT(*) FROM observations "
                              "GROUP BY 1")).all()
    return Counter({name.split(".")[-1]: n for name, n in found})


def _rollups(conn: Connection) -> set[tuple[object, ...]]:
    return set(conn.execute(select(Rollup.metric, Rollup.grain, Rollup.bucket,
                                   Rollup.district_id, Rollup.count, Rollup.sum, Rollup.min,
                                   Rollup.max)).all())


def _kpi_values(conn: Connection, window_name: str) -> dict[tuple[str | None, str], object]:
    window = window_for(window_name, NOW, TZ)
    table = compute_kpi_table(conn, load_kpis(Settings().kpis_file), window, NOW)
    return {(place, value.id): value.value for place, values in table.places.items()
            for value in values}


def _at(*day: int) -> int:
    return int(datetime(*day, tzinfo=timezone.utc).timestamp())


def _plan(conn: Connection, sql: str) -> str:
    return "\n".join(conn.execute(text(f"EXPLAIN {sql}")).scalars())


def test_a_new_store_is_partitioned_with_months_ahead_and_a_brin_index(pg: Engine) -> None:
    with pg.begin() as conn:
        assert is_partitioned(conn)
        done = maintain(conn, NOW, ahead_months=3, retention_months=0)
        months = partition_months(conn)
        brin = conn.execute(text("SELECT COUNT(*) FROM pg_indexes WHERE indexdef LIKE "
                                 "'%USING brin (\"time\")%' AND tablename LIKE 'observations%' "
                                 "AND schemaname = current_schema()")).scalar()
        parent_index = conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"),
                                    {"name": TIME_INDEX}).scalar()
    wanted = [date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1), date(2027, 2, 1)]
    assert set(wanted) <= set(months)
    assert set(done.created) <= {f"observations_{m:%Y_%m}" for m in wanted}
    assert parent_index and brin >= len(months) + 1  # every partition, the default too
    with pg.begin() as conn:
        again = maintain(conn, NOW, ahead_months=3, retention_months=0)
    assert again.created == [] and again.lines() == ["nothing to do"]


def test_readings_land_in_their_month_and_the_default_partition_empties_into_new_months(
        pg: Engine) -> None:
    with pg.begin() as conn:
        maintain(conn, NOW, ahead_months=3, retention_months=0)
        before = set(partition_months(conn))
    readings = _fill(pg)
    by_month = Counter(_month(t) for t in readings["time"])
    with pg.connect() as conn:
        placed = _rows_by_partition(conn)
    # months the migration or maintenance had made hold their readings; others wait
    assert placed[DEFAULT] == sum(n for m, n in by_month.items() if m not in before)
    for month in before & set(by_month):
        assert placed[f"observations_{month:%Y_%m}"] == by_month[month]
    with pg.begin() as conn:
        done = maintain(conn, NOW, ahead_months=3, retention_months=0)
        placed = _rows_by_partition(conn)
    assert done.moved == sum(n for m, n in by_month.items() if m not in before)
    assert placed == Counter({f"observations_{m:%Y_%m}": n for m, n in by_month.items()})
    assert sum(placed.values()) == len(readings)


def test_retention_drops_old_raw_readings_and_keeps_rollups_and_kpis(
        fresh_engine: Engine) -> None:
    readings = _fill(fresh_engine)
    with fresh_engine.begin() as conn:
        maintain(conn, NOW, ahead_months=3, retention_months=0)  # rehome, drop nothing
        rollups = _rollups(conn)
        kpis = {name: _kpi_values(conn, name) for name in ("quarter", "month", "week")}
    assert any(v is not None for v in kpis["quarter"].values())
    with fresh_engine.begin() as conn:
        done = maintain(conn, NOW, ahead_months=3, retention_months=KEPT_MONTHS)
    with fresh_engine.begin() as conn:
        kept = conn.execute(select(func.count()).select_from(Observation)).scalar()
        oldest = conn.execute(select(func.min(Observation.time))).scalar()
        assert _rollups(conn) == rollups
        assert {name: _kpi_values(conn, name) for name in kpis} == kpis
        assert kept_from(conn) == HORIZON
        months = partition_months(conn) if is_partitioned(conn) else []
        # districts redrawn: rollups are rebuilt from the raw readings kept, the older stay
        rebuild_rollups(conn, TZ, {"AirQualityObserved.no2"})
        assert _rollups(conn) == rollups
    assert kept == int((readings["time"] >= HORIZON).sum()) and oldest >= HORIZON
    if fresh_engine.dialect.name == "postgresql":
        assert [name for name, _ in done.dropped] == [
            "observations_2026_06", "observations_2026_07", "observations_2026_08"]
        assert min(months) == date(2026, 9, 1)
        assert done.deleted == 0
    else:
        assert done.deleted == int((readings["time"] < HORIZON).sum())
    assert any("kept from 2026-09-01" in line for line in done.lines())


def test_a_corrected_reading_in_a_bucket_that_began_before_the_horizon_adjusts_it(
        fresh_engine: Engine) -> None:
    """Europe/Madrid's 1 September begins at 22:00 UTC on 31 August: its day bucket lost two
    hours of raw readings to the retention, so a correction moves it by the difference."""
    readings = _fill(fresh_engine, datetime(2026, 8, 25, tzinfo=timezone.utc),
                     datetime(2026, 9, 5, tzinfo=timezone.utc))
    with fresh_engine.begin() as conn:
        maintain(conn, NOW, ahead_months=3, retention_months=KEPT_MONTHS)
        station = int(readings["asset_pk"].iloc[0])
        changed = readings[(readings["asset_pk"] == station)
                           & (readings["time"] == HORIZON + HOUR)].copy()
        changed["value"] = 999.0
        result = ingest_observations(conn, changed, TZ)
        assert result.updated == 1
        day, hour = int(day_starts(pd.Series([HORIZON]).to_numpy(), TZ)[0]), HORIZON + HOUR
        got = {grain: conn.execute(select(Rollup.count, Rollup.sum, Rollup.min, Rollup.max)
                                   .where(Rollup.metric == "AirQualityObserved.no2",
                                          Rollup.district_id == "d1", Rollup.grain == grain,
                                          Rollup.bucket == bucket)).one()
               for grain, bucket in (("day", day), ("hour", hour))}
    assert day < HORIZON
    truth = readings.copy()
    truth.loc[changed.index, "value"] = 999.0
    in_d1 = truth[truth["asset_pk"].isin(readings["asset_pk"].unique()[:2])]
    for grain, (start, end) in {"day": (day, day + 86400), "hour": (hour, hour + HOUR)}.items():
        bucket = in_d1[(in_d1["time"] >= start) & (in_d1["time"] < end)]["value"]
        assert tuple(got[grain]) == (len(bucket), bucket.sum(), bucket.min(), bucket.max())


def test_readings_older_than_the_retention_are_refused_with_their_reason() -> None:
    bounds = TimeBounds.of(Settings(now=NOW, raw_retention_months=KEPT_MONTHS))
    bounds.check_reading(datetime(2026, 9, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match=r"older than the raw readings kept \(from 2026-09-01"):
        bounds.check_reading(datetime(2026, 8, 31, 23, 59, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="outside the plausible range"):
        bounds.check_reading(datetime(2026, 11, 24, tzinfo=timezone.utc))
    forever = TimeBounds.of(Settings(now=NOW))
    forever.check_reading(datetime(2001, 1, 1, tzinfo=timezone.utc))


def test_time_range_queries_read_only_the_partitions_of_their_range(pg: Engine) -> None:
    readings = _fill(pg)
    with pg.begin() as conn:
        maintain(conn, NOW, ahead_months=3, retention_months=0)
        conn.execute(text("ANALYZE observations"))
    pk = int(readings["asset_pk"].iloc[0])
    week = (_at(2026, 10, 5), _at(2026, 10, 12))
    across = (_at(2026, 9, 28), _at(2026, 10, 5))
    with pg.connect() as conn:
        series = _plan(conn, "SELECT time, value FROM observations WHERE asset_pk = "
                             f"{pk} AND metric = 'no2' AND time >= {week[0]} AND "
                             f"time < {week[1]} ORDER BY time")
        scan = _plan(conn, "SELECT COUNT(*) FROM observations WHERE time >= "
                           f"{across[0]} AND time < {across[1]}")
        everything = _plan(conn, "SELECT COUNT(*) FROM observations")
    assert "observations_2026_10" in series
    for other in ("observations_2026_09", "observations_2026_11", DEFAULT):
        assert other not in series
    assert "observations_2026_09" in scan and "observations_2026_10" in scan
    assert "observations_2026_08" not in scan and DEFAULT not in scan
    assert "observations_2026_06" in everything  # no time range: every partition


def test_upgrading_a_store_of_the_previous_release_keeps_every_reading(pg: Engine) -> None:
    with pg.begin() as conn:
        command.downgrade(_config(conn), "0008_one_running_run")
        assert not inspect(conn).has_table("latest_readings")
        assert not is_partitioned(conn)
        readings = _readings(_city(conn), FIRST, NOW)  # as the previous release stored them
        conn.execute(insert(Observation), readings.to_dict("records"))
    with pg.connect() as conn:
        before = set(conn.execute(select(Observation.asset_pk, Observation.metric,
                                         Observation.time, Observation.value)).all())
    assert upgrade_store(pg) == "0008_one_running_run"
    with pg.connect() as conn:
        assert is_partitioned(conn)
        after = set(conn.execute(select(Observation.asset_pk, Observation.metric,
                                        Observation.time, Observation.value)).all())
        placed = _rows_by_partition(conn)
    assert after == before and len(after) == len(readings)
    assert DEFAULT not in placed  # every month that held readings got its partition
    newest = readings.sort_values("time").groupby(["asset_pk", "metric"]).last()
    with pg.connect() as conn:
        latest = {(pk, m): (t, v) for pk, m, t, v in conn.execute(text(
            "SELECT asset_pk, metric, time, value FROM latest_readings"))}
    assert latest == {key: (row.time, row.value) for key, row in newest.iterrows()}


def test_the_maintain_command_says_what_it_did(tmp_path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    from dashboard.cli import app
    from dashboard.settings import get_settings
    from dashboard.store import get_engine

    with throwaway_pg_store("citylens_maint") as engine:
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        url = engine.url.render_as_string(hide_password=False)
        url = f"{url.split('?')[0]}?options=-csearch_path%3D{schema}"
        readings = _fill(engine)
        with engine.connect() as conn:  # the migration made some, as of the wall clock
            before = partition_months(conn)
        for name, value in {"CITYLENS_DATABASE_URL": url, "CITYLENS_NOW": NOW.isoformat(),
                            "CITYLENS_RAW_RETENTION_MONTHS": str(KEPT_MONTHS),
                            "CITYLENS_PARTITIONS_AHEAD_MONTHS": "2"}.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        runner = CliRunner()
        try:
            first = runner.invoke(app, ["db", "maintain"])
            second = runner.invoke(app, ["db", "maintain"])
            with engine.connect() as conn:
                after = partition_months(conn)
        finally:
            get_settings.cache_clear()
            get_engine(url).dispose()
    assert first.exit_code == 0, first.output
    said = first.output.splitlines()
    # the months before the horizon waited in the default partition: deleted, not moved
    old = sum(1 for t in readings["time"] if t < HORIZON)
    assert f"deleted {old:,} readings older than the retention" in said
    wanted = [date(2026, m, 1) for m in (9, 10, 11, 12)] + [date(2027, 1, 1)]
    assert [line for line in said if line.startswith("created")] == [
        f"created partition observations_{m:%Y_%m}" for m in wanted if m not in before]
    assert set(wanted) <= set(after)
    assert "raw readings kept from 2026-09-01 (UTC); rollups kept whole" in said
    assert second.exit_code == 0
    assert second.output.splitlines() == ["raw readings kept from 2026-09-01 (UTC); "
                                          "rollups kept whole"]


def test_a_backfill_can_have_its_months_made_first(pg: Engine, sqlite_engine: Engine) -> None:
    """The demo city (and any import of history) makes its months' partitions before it
    ingests, so its readings never wait in the default partition."""
    first, last = datetime(2025, 1, 5, tzinfo=timezone.utc), datetime(2025, 3, 2,
                                                                       tzinfo=timezone.utc)
    with pg.begin() as conn:
        made = partition_span(conn, first, last)
        again = partition_span(conn, first, last)
    assert made == ["observations_2025_01", "observations_2025_02", "observations_2025_03"]
    assert again == []
    readings = _fill(pg, first, last)
    with pg.connect() as conn:
        placed = _rows_by_partition(conn)
    assert DEFAULT not in placed and sum(placed.values()) == len(readings)
    with sqlite_engine.begin() as conn:
        assert partition_span(conn, first, last) == []  # one table: nothing to make
