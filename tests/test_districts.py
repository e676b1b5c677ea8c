"""The districts connector: real GeoJSON fixtures, bad features, re-assignment of assets."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, insert, select

from connectors import get_connector
from connectors.runner import run_source
from dashboard.model import Asset, District, Quarantine, Rollup, ServiceRequest
from dashboard.settings import Settings
from dashboard.store import unit_of_work
from dashboard.store.observations import ingest_observations
from dashboard.store.reassign import reassign_districts
from tests.conftest import CITYLENS_CLI

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "districts"


def _fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} is absent (../shared/fixtures not beside the project)")
    return path


def _square(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def _load(engine: Engine, path: Path, **config: object):
    connector = get_connector("districts")({"location": str(path), **config})
    return run_source(engine, Settings(), connector, "districts", str(path), full=True)


@pytest.mark.parametrize(("name", "count", "first"), [
    ("madrid-districts.geojson", 21, "Centro"), ("bern-districts.geojson", 6, "Innere Stadt"),
])
def test_real_district_files_load_fully(fresh_engine: Engine, name, count, first) -> None:
    report = _load(fresh_engine, _fixture(name), name_field="name")
    assert (report.records_in, report.stored, report.quarantined) == (count, count, 0)
    again = _load(fresh_engine, _fixture(name), name_field="name")
    assert again.stored == count
    with fresh_engine.connect() as conn:
        rows = conn.execute(select(District.name, District.area_km2, District.geometry)).all()
    assert len(rows) == count  # loading twice stores nothing twice
    assert first in {n for n, _, _ in rows}
    assert all(area > 0.1 and geometry["type"] == "MultiPolygon" for _, area, geometry in rows)


def test_madrid_centro_has_a_plausible_area(fresh_engine: Engine) -> None:
    _load(fresh_engine, _fixture("madrid-districts.geojson"), name_field="name")
    with fresh_engine.connect() as conn:
        area = conn.execute(select(District.area_km2).where(District.id == "centro")).scalar_one()
    assert 4.5 < area < 6.0  # Madrid's Centro district is about 5.2 km²


def test_bad_features_are_quarantined_and_good_ones_kept(fresh_engine, tmp_path) -> None:
    path = tmp_path / "mixed.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Good", "pop": "1200"},
         "geometry": _square(0, 0, 1, 1)},
        {"type": "Feature", "properties": {}, "geometry": _square(1, 0, 2, 1)},
        {"type": "Feature", "properties": {"name": "Line"},
         "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
        {"type": "Feature", "properties": {"name": "Bad pop", "pop": "many"},
         "geometry": _square(2, 0, 3, 1)},
    ]}))
    report = _load(fresh_engine, path, population_field="pop")
    assert (report.stored, report.quarantined, report.status) == (1, 3, "partial")
    with fresh_engine.connect() as conn:
        assert conn.execute(select(District.population)).scalar_one() == 1200
        reasons = conn.execute(select(Quarantine.reason)).scalars().all()
    assert any("no name" in r for r in reasons) and any("LineString" in r for r in reasons)
    assert any("not a number" in r for r in reasons)


def test_new_boundaries_move_assets_requests_and_their_rollups(fresh_engine, tmp_path) -> None:
    with unit_of_work(fresh_engine) as conn:
        conn.execute(
            insert(District), [{"id": "old", "name": "Old", "geometry": _square(0, 0, 2, 2)}]
        )
        conn.execute(insert(Asset), [{"id": "urn:a", "type": "WasteContainer", "domain": "waste",
                                      "lat": 1.5, "lon": 1.5, "district_id": "old"}])
        conn.execute(insert(ServiceRequest), [{
            "id": "SR-1", "service_code": "x", "department": "d", "status": "open",
            "requested_at": pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime(),
            "lat": 1.5, "lon": 1.5, "district_id": "old"}])
        pk = conn.execute(select(Asset.pk)).scalar_one()
        ingest_observations(conn, pd.DataFrame({
            "asset_pk": pk, "metric": "fillingLevel", "time": [1_767_225_600, 1_767_229_200],
            "value": [0.2, 0.4]}), "Europe/Madrid")
    path = tmp_path / "new.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Old", "code": "old"},
         "geometry": _square(0, 0, 1, 1)},
        {"type": "Feature", "properties": {"name": "New", "code": "new"},
         "geometry": _square(1, 1, 2, 2)},
    ]}))
    _load(fresh_engine, path, id_field="code")
    with unit_of_work(fresh_engine) as conn:
        moved = reassign_districts(conn, "Europe/Madrid")
    assert (moved.assets, moved.service_requests) == (1, 1)
    assert moved.rollup_metrics == ("WasteContainer.fillingLevel",)
    with fresh_engine.connect() as conn:
        assert conn.execute(select(Asset.district_id)).scalar_one() == "new"
        assert conn.execute(select(ServiceRequest.district_id)).scalar_one() == "new"
        rollups = conn.execute(
            select(Rollup.district_id, func.sum(Rollup.count)).where(Rollup.grain == "hour")
            .group_by(Rollup.district_id)
        ).all()
    assert rollups == [("new", 2)]


def test_cli_rejects_a_broken_file_in_one_line_and_writes_nothing(tmp_path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    env = {**os.environ, "CITYLENS_VAR_DIR": str(tmp_path / "var"), "CITYLENS_REDIS_URL": ""}
    env.pop("CITYLENS_DATABASE_URL", None)
    done = subprocess.run(
        [*CITYLENS_CLI, "districts", "load", str(broken),
         "--name-field", "NAME"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and str(broken) in done.stderr
    assert "not valid JSON" in done.stderr
    listed = subprocess.run(
        [*CITYLENS_CLI, "quarantine", "list", "--json"], env=env,
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert json.loads(listed.stdout) == []
