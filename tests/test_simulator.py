"""The demo simulator: each tick stores new readings through the CSV connector and, now and
then, a service request through the Open311 connector; the KPIs see them."""
from __future__ import annotations

import json
import random
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.simulator import Simulator
from dashboard import queries
from dashboard.model import Observation, ServiceRequest
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.version import get_meta


@pytest.fixture
def live_city(tiny_city: Settings, tmp_path: Path) -> Settings:
    """A copy of the tiny city (its feeds stay where the tiny city wrote them)."""
    var_dir = tmp_path / "var"
    shutil.copytree(tiny_city.var_dir, var_dir)
    return tiny_city.model_copy(update={"var_dir": var_dir})


def _feeds(settings: Settings) -> Path:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return Path(json.loads(get_meta(conn, "demo") or "{}")["feeds"])


def test_a_tick_stores_readings_of_every_type_and_a_request(live_city: Settings) -> None:
    engine = get_engine(live_city.resolved_database_url)
    simulator = Simulator(engine, live_city, _feeds(live_city), rng=random.Random(3))
    now = live_city.current_time() + timedelta(minutes=10)
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
    stored = simulator.tick(now, request=True)
    types = {p.stem for p in (_feeds(live_city) / "telemetry").glob("*.yaml")}
    assert {f"demo-live-{t}" for t in types} <= set(stored)
    assert stored["demo-live-requests"] == 1
    assert all(n > 0 for n in stored.values())
    with engine.connect() as conn:
        after = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
        newest = conn.execute(select(func.max(Observation.time))).scalar_one()
        live = conn.execute(select(ServiceRequest.status, ServiceRequest.district_id).where(
            ServiceRequest.id.like("SR-LIVE-%"))).all()
    assert after > before and newest == int(now.timestamp())
    assert [status for status, _ in live] == ["open"] and live[0][1]  # placed in a district
    # A second tick later stores again (the sources' watermarks move on with time).
    again = simulator.tick(now + timedelta(seconds=5), request=False)
    assert all(n > 0 for n in again.values()) and "demo-live-requests" not in again


def test_the_kpis_see_the_simulated_readings(live_city: Settings) -> None:
    engine = get_engine(live_city.resolved_database_url)
    later = live_city.model_copy(update={"now": live_city.current_time() + timedelta(hours=3)})
    before = queries.overview(later, None, "day")
    no2_before = {k["id"]: k["as_of"] for k in before["kpis"]}["air_no2"]
    Simulator(engine, later, _feeds(later), rng=random.Random(5)).tick(
        later.current_time() - timedelta(minutes=5), request=False)
    after = {k["id"]: k["as_of"] for k in queries.overview(later, None, "day")["kpis"]}
    assert after["air_no2"] > no2_before  # fresher data, seen at once
