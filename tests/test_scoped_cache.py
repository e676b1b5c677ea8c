"""Invalidation scoped to what changed: a batch of waste readings recomputes the waste
KPIs and leaves the service-request KPIs, district shapes and alerts cached; a new service
request does the opposite; a write that names no scope still invalidates everything."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy import text as sql

from connectors.base import Mapped
from connectors.storing import store_batch
from dashboard import queries
from dashboard.kpis import engine as kpi_engine
from dashboard.model import District
from dashboard.settings import Settings
from dashboard.store import bump_data_version, get_engine, unit_of_work
from dashboard.store.version import scope_versions

NOW = datetime(2026, 5, 4, 10, 30, tzinfo=timezone.utc)


@pytest.fixture
def city(tmp_path) -> Settings:
    settings = Settings(var_dir=tmp_path / "var", database_url="", redis_url=None, now=NOW)
    with unit_of_work(get_engine(settings.resolved_database_url)) as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "North", "population": 1000,
                                         "geometry": {"type": "Polygon", "coordinates": [
                                             [[0, 0], [1, 0], [1, 1], [0, 0]]]}}])
    _store(settings, Mapped(
        assets=[{"id": "urn:bin:1", "type": "WasteContainer", "domain": "waste",
                 "district_id": "d1"}],
        services=[{"service_code": "pothole", "service_name": "Pothole",
                   "department": "Works", "sla_hours": 72.0}]))
    _store(settings, _reading(NOW - timedelta(hours=3), 0.4))
    _store(settings, _request("SR-1", NOW - timedelta(days=2)))
    return settings


def _store(settings: Settings, mapped: Mapped) -> None:
    with unit_of_work(get_engine(settings.resolved_database_url)) as conn:
        stored, refused = store_batch(conn, settings, [({"raw": 1}, mapped)], "test")
        assert not refused, refused


def _reading(at: datetime, value: float) -> Mapped:
    return Mapped(observations=[{"asset_id": "urn:bin:1", "metric": "fillingLevel",
                                 "time": at, "value": value}])


def _request(sr_id: str, at: datetime) -> Mapped:
    return Mapped(service_requests=[{"id": sr_id, "service_code": "pothole",
                                     "department": "Works", "status": "open",
                                     "requested_at": at, "district_id": "d1"}])


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts what the KPI engine recomputes: per source, and rollups per metric."""
    seen: Counter[str] = Counter()

    def counting(name: str, real: Any) -> Any:
        def wrapper(conn: Any, kpis: Any, *args: Any) -> Any:
            if kpis:
                seen[name] += 1
                seen.update(f"metric:{k.metric}" for k in kpis if k.metric)
            return real(conn, kpis, *args)
        return wrapper

    for name in ("rollup_results", "request_results", "case_results"):
        monkeypatch.setattr(kpi_engine, name, counting(name, getattr(kpi_engine, name)))
    return seen


def test_waste_readings_recompute_only_the_waste_kpis(city: Settings,
                                                     computed: Counter[str]) -> None:
    first = queries.overview(city, None, "week")
    shapes = queries.district_outlines(city)
    assert computed["request_results"] == 1 and computed["rollup_results"] > 1
    computed.clear()
    assert queries.overview(city, None, "week") == first  # all cached
    assert not computed
    _store(city, _reading(NOW - timedelta(hours=1), 0.9))
    after = queries.overview(city, None, "week")
    assert computed == Counter({"rollup_results": 1, "metric:WasteContainer.fillingLevel": 1})
    assert queries.district_outlines(city) == shapes
    waste = {k["id"]: k["value"] for k in after["kpis"]}["waste_fill"]
    assert waste == pytest.approx((0.4 + 0.9) / 2 * 100)  # and the new value is there


def test_a_new_request_recomputes_only_the_request_kpis(city: Settings,
                                                       computed: Counter[str]) -> None:
    queries.overview(city, None, "week")
    computed.clear()
    _store(city, _request("SR-2", NOW - timedelta(hours=5)))
    queries.overview(city, None, "week")
    assert computed == Counter({"request_results": 1})


def test_a_write_without_scopes_invalidates_everything(city: Settings,
                                                      computed: Counter[str]) -> None:
    queries.overview(city, None, "week")
    computed.clear()
    with unit_of_work(get_engine(city.resolved_database_url)) as conn:
        bump_data_version(conn)
    queries.overview(city, None, "week")
    assert computed["request_results"] == 1 and computed["case_results"] == 1
    assert computed["rollup_results"] > 1


def test_scopes_record_the_writes_that_touched_them(city: Settings) -> None:
    with get_engine(city.resolved_database_url).connect() as conn:
        before = scope_versions(conn, ["type:WasteContainer", "domain:waste", "requests",
                                       "assets", "districts"])
    _store(city, _reading(NOW - timedelta(minutes=30), 0.5))
    with get_engine(city.resolved_database_url).connect() as conn:
        after = scope_versions(conn, list(before))
    changed = {scope for scope in before if before[scope] != after[scope]}
    assert changed == {"type:WasteContainer", "domain:waste"}


def test_readings_of_known_sensors_leave_the_asset_records_unchanged(city: Settings) -> None:
    """A file of readings names its sensors as placeholder assets: known ones change no
    asset record, so every other domain's asset views stay cached; a new one is added."""
    placeholder = {"type": "WasteContainer", "domain": "waste", "source_id": "test"}
    with get_engine(city.resolved_database_url).connect() as conn:
        before = scope_versions(conn, ["assets", "domain:waste", "domain:lighting"])
    _store(city, Mapped(assets=[{"id": "urn:bin:1", **placeholder}],
                        observations=_reading(NOW - timedelta(minutes=20), 0.6).observations))
    with get_engine(city.resolved_database_url).connect() as conn:
        after = scope_versions(conn, list(before))
    assert {s for s in before if before[s] != after[s]} == {"domain:waste"}
    _store(city, Mapped(assets=[{"id": "urn:bin:2", **placeholder}]))
    with get_engine(city.resolved_database_url).connect() as conn:
        added = scope_versions(conn, list(before))
        assert {s for s in before if after[s] != added[s]} == {"assets", "domain:waste"}
        names = conn.execute(sql("SELECT id FROM assets ORDER BY id")).scalars().all()
    assert names == ["urn:bin:1", "urn:bin:2"]


def test_a_waste_alert_leaves_other_domains_asset_views_cached(city: Settings) -> None:
    """Raising an alert bumps ``alerts`` and ``alerts:<domain>`` of the readings' domain:
    the waste domain's asset views recompute, the lighting domain's stay cached."""
    from dashboard.queries.domain import domain_assets

    lighting = domain_assets(city, "lighting", None)
    with get_engine(city.resolved_database_url).connect() as conn:
        before = scope_versions(conn, ["alerts", "alerts:waste", "alerts:lighting"])
    _store(city, _reading(NOW - timedelta(minutes=10), 0.99))  # over the fill threshold
    with get_engine(city.resolved_database_url).connect() as conn:
        after = scope_versions(conn, list(before))
        open_alerts = conn.execute(sql("SELECT COUNT(*) FROM alerts WHERE cleared_at IS NULL")
                                   ).scalar_one()
    assert open_alerts == 1
    assert {s for s in before if before[s] != after[s]} == {"alerts", "alerts:waste"}
    assert domain_assets(city, "lighting", None) is lighting  # kept, decoded, untouched
    waste = domain_assets(city, "waste", None)
    assert [a["state"] for a in waste["assets"]] == ["alert"]


def test_a_run_fills_the_shared_cache_for_the_next_viewer(tmp_path, computed) -> None:
    """With Redis (shared by the web workers), the ingesting process recomputes the default
    views right after its run: the next viewer computes nothing."""
    import redis

    from connectors.runner import run_source
    from dashboard.cache import get_cache
    from tests.conftest import REDIS_URL, service_missing
    from tests.test_runner import SQUARE, SensorConnector, _records

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        service_missing("Redis at " + REDIS_URL, error)
    now = datetime(2026, 1, 1, 10, 30, tzinfo=timezone.utc)  # the sensor's hours are that day
    settings = Settings(var_dir=tmp_path / "var", database_url="", redis_url=REDIS_URL,
                        now=now)
    get_cache(settings.redis_url, settings.cache_ttl_seconds).clear()
    engine = get_engine(settings.resolved_database_url)
    with unit_of_work(engine) as conn:
        conn.execute(insert(District), [{"id": "sq", "name": "Square", "geometry": SQUARE,
                                         "population": 100}])
    report = run_source(engine, settings, SensorConnector({"records": _records(range(5))}),
                        "s1")
    assert report.stored == 5 and computed["rollup_results"] > 0  # warmed by the run
    computed.clear()
    data = queries.overview(settings, None, "week")
    assert not computed  # the viewer found every KPI group computed
    no2 = next(k for k in data["kpis"] if k["id"] == "air_no2")
    assert no2["value"] == pytest.approx(sum(10 + t for t in range(5)) / 5)
