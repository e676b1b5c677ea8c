"""The municipality level of a metropolitan deployment: a municipality's KPIs are computed
from its districts exactly as the city's are from all of them."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from dashboard.kpis import compute_kpi_table, load_kpis, window_for
from dashboard.model import Asset, District
from dashboard.settings import Settings
from dashboard.store import make_engine
from tests.conftest import TINY_NOW

ROLLUP_TABLES = ("rollups", "request_rollups", "request_durations")


def _copy(settings: Settings, folder: Path) -> str:
    source = Path(settings.resolved_database_url.removeprefix("sqlite:///"))
    target = folder / "city.db"
    shutil.copy(source, target)
    return f"sqlite:///{target}"


@pytest.mark.parametrize("window", ["day", "week", "month"])
def test_a_municipality_is_its_districts_as_the_city_is_all_of_them(
        tiny_city: Settings, tmp_path: Path, window: str) -> None:
    """The oracle: the KPIs of the municipality of half the districts, in the whole store,
    equal the city's KPIs in a copy of the store that holds only those districts and
    what lies in them (their rollups, assets and residents)."""
    whole = make_engine(_copy(tiny_city, tmp_path))
    with whole.begin() as conn:
        ids = sorted(conn.scalars(select(District.id)))
        north = ids[: len(ids) // 2]
        conn.execute(update(District).where(District.id.in_(north))
                     .values(municipality_id="norte", municipality_name="Norte"))
    (tmp_path / "only").mkdir()
    shutil.copy(tmp_path / "city.db", tmp_path / "only" / "city.db")
    only = make_engine(f"sqlite:///{tmp_path / 'only' / 'city.db'}")
    with only.begin() as conn:
        for table in ROLLUP_TABLES:
            conn.execute(text(f"DELETE FROM {table} WHERE district_id IS NULL OR "
                              f"district_id NOT IN ({', '.join(repr(i) for i in north)})"))
        # what lies outside is gone: its assets read as a kind no KPI reads, its
        # districts house no one (rows kept for the foreign keys)
        conn.execute(update(Asset).where(Asset.district_id.not_in(north)
                                         | Asset.district_id.is_(None))
                     .values(type="Elsewhere", district_id=None))
        conn.execute(update(District).where(District.id.not_in(north)).values(population=0))
    kpis = load_kpis(tiny_city.kpis_file)
    span = window_for(window, TINY_NOW, tiny_city.timezone)
    with whole.connect() as conn:
        municipality = compute_kpi_table(conn, kpis, span, TINY_NOW, within=north)
        city = compute_kpi_table(conn, kpis, span, TINY_NOW)
    with only.connect() as conn:
        expected = compute_kpi_table(conn, kpis, span, TINY_NOW)
    assert set(municipality.places) == {None, *north}
    got = [v.as_dict() for v in municipality.for_place(None)]
    want = [v.as_dict() for v in expected.for_place(None)]
    assert got == want and any(v["value"] is not None for v in got)
    for district in north:  # each district is itself, whatever the level
        assert ([v.as_dict() for v in municipality.for_place(district)]
                == [v.as_dict() for v in city.for_place(district)])
    # and it is not simply the city again
    assert [v.value for v in municipality.for_place(None)] != \
        [v.value for v in city.for_place(None)]


def test_the_command_line_reads_a_municipality_and_refuses_an_unknown_one(
        tmp_path: Path) -> None:
    import json
    import os
    import subprocess

    from tests.conftest import CITYLENS_CLI

    root = Path(__file__).resolve().parents[1]
    fixture = root.parent / "shared" / "fixtures" / "districts" / "bern-districts.geojson"
    if not fixture.exists():
        pytest.skip(f"fixture {fixture} is absent (../shared/fixtures not beside the project)")
    env = {**os.environ, "CITYLENS_VAR_DIR": str(tmp_path / "var"), "CITYLENS_REDIS_URL": ""}
    env.pop("CITYLENS_DATABASE_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CITYLENS_CLI, *args], env=env, cwd=root, capture_output=True,
                              text=True, timeout=120)

    loaded = cli("districts", "load", str(fixture), "--municipality", "Bern", "--json")
    assert loaded.returncode == 0, loaded.stderr
    answer = cli("kpis", "--municipality", "bern", "--json")
    assert answer.returncode == 0, answer.stderr
    data = json.loads(answer.stdout)
    assert data["municipality"] == "bern" and data["kpis"]
    district = cli("kpis", "--municipality", "bern", "--district", "bern-innere-stadt", "--json")
    assert district.returncode == 0, district.stderr
    unknown = cli("kpis", "--municipality", "zurich")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: unknown municipality 'zurich'"

    from app import create_app

    client = create_app(Settings(var_dir=tmp_path / "var", database_url="", redis_url=None,
                                 now=TINY_NOW)).server.test_client()
    api = client.get("/api/v1/kpis?municipality=bern").get_json()
    assert api["municipality"] == "bern" and [k["id"] for k in api["kpis"]] == \
        [k["id"] for k in data["kpis"]]
    refused = client.get("/api/v1/kpis?municipality=zurich")
    assert refused.status_code == 400 and refused.get_json()["error"]["parameter"] == \
        "municipality"
