"""Read models on a tiny demo city: shapes, consistency, and the Redis-shared cache."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis

from connectors.demo import generate_demo
from dashboard import queries
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import REDIS_URL, service_missing

NOW = datetime(2026, 3, 16, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    var_dir: Path = tmp_path_factory.mktemp("queries-var")
    settings = Settings(var_dir=var_dir, redis_url=None, now=NOW)
    generate_demo(get_engine(settings.resolved_database_url), settings, scale="tiny", seed=7,
                  end=NOW)
    return settings


def test_overview_city_score_is_the_mean_of_kpi_scores(demo_settings: Settings) -> None:
    data = queries.overview(demo_settings, None, "week")
    scores = [k["score"] for k in data["kpis"] if k["score"] is not None]
    assert data["city_score"]["value"] == pytest.approx(sum(scores) / len(scores))
    assert data["city_score"]["kpis_scored"] == len(scores) >= 12
    assert data["as_of"] <= NOW.isoformat()


def test_district_scores_cover_every_district(demo_settings: Settings) -> None:
    shapes = queries.district_scores(demo_settings, "month", None)
    options = queries.district_options(demo_settings)
    assert {f["id"] for f in shapes["features"]} == {d["id"] for d in options}
    for feature in shapes["features"]:
        own = queries.overview(demo_settings, feature["id"], "month")["city_score"]["value"]
        assert feature["properties"]["score"] == pytest.approx(own)
        assert feature["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_asset_layers_hold_every_located_asset(demo_settings: Settings) -> None:
    counts = queries.asset_domains(demo_settings)
    assert len(counts) >= 8
    for domain, count in counts.items():
        layer = queries.asset_layer(demo_settings, domain, None)
        assert len(layer["features"]) == count
    district = queries.district_options(demo_settings)[0]["id"]
    some = queries.asset_layer(demo_settings, "lighting", district)["features"]
    assert some and all(f["properties"]["district_id"] == district for f in some)


def test_alerts_are_most_severe_first(demo_settings: Settings) -> None:
    alerts = queries.active_alerts(demo_settings, None, limit=50)
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert [rank[a["severity"]] for a in alerts] == sorted(rank[a["severity"]] for a in alerts)
    assert all(a["rule_text"]["en"] for a in alerts)


def test_unknown_inputs_are_clear_errors(demo_settings: Settings) -> None:
    with pytest.raises(ValueError, match="unknown window"):
        queries.overview(demo_settings, None, "decade")
    with pytest.raises(ValueError, match="unknown district"):
        queries.overview(demo_settings, "atlantis", "week")


def test_redis_cache_serves_the_same_answers(demo_settings: Settings) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing("Redis at " + REDIS_URL, error)
    shared = demo_settings.model_copy(update={"redis_url": REDIS_URL})
    for key in client.scan_iter("citylens:q:*"):
        client.delete(key)
    first = queries.overview(shared, None, "month")
    assert any(client.scan_iter("citylens:q:kpi_group:*"))  # stored where workers share it
    assert queries.overview(shared, None, "month") == first
    assert queries.overview(demo_settings, None, "month") == first  # in-process agrees


def test_no_previous_score_without_earlier_data(tiny_city: Settings) -> None:
    """The tiny city's feeds start two weeks before "now": a quarter has no previous quarter
    to compare with, so no KPI gets an invented previous value of 0 (which scored 2.0 and
    turned into "▼ 0.85 worsening" while every card said "No earlier data")."""
    quarter = queries.overview(tiny_city, None, "quarter")
    assert quarter["city_score"]["previous"] is None
    assert quarter["city_score"]["trend"] is None
    assert [k["id"] for k in quarter["kpis"] if k["previous"] is not None] == []
    week = queries.overview(tiny_city, None, "week")  # a week before "now" has data
    assert week["city_score"]["previous"] is not None
    assert any(k["previous"] is not None and k["domain"] == "services" for k in week["kpis"])
