"""District boundaries as a GIS department keeps them: Shapefiles (plain and zipped),
GeoPackages and GeoJSON in national projected systems, made here from the real WGS84
fixtures with pyproj, load to the same districts and areas; bad rings are repaired or
quarantined; undeclared metres are refused; municipalities; the spatial join; display
outlines that keep shared edges shared."""
from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import mapping, shape
from sqlalchemy import Engine, select

from connectors import get_connector
from connectors.base import SourceFormatError
from connectors.gis_files import read_gis_layer
from connectors.runner import run_source
from dashboard.district_shapes import display_outlines
from dashboard.geo import JOIN_FROM_DISTRICTS, DistrictIndex
from dashboard.model import District, Quarantine
from dashboard.settings import Settings
from tests.conftest import CITYLENS_CLI

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "districts"
# (fixture, its national projected system): ETRS89 / UTM zone 30N for Madrid, the Swiss
# LV95 grid for Bern; and a US State Plane (New York Long Island, US feet) to be sure feet
# are feet.
SYSTEMS = [("madrid-districts.geojson", 25830), ("bern-districts.geojson", 2056),
           ("madrid-districts.geojson", 2263)]


def _fixture(name: str) -> Path:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} is absent (../shared/fixtures not beside the project)")
    return path


def _projected(name: str, epsg: int) -> gpd.GeoDataFrame:
    """The fixture's districts reprojected with pyproj to ``epsg``."""
    source = gpd.read_file(_fixture(name))
    to_grid = Transformer.from_crs(4326, epsg, always_xy=True)
    geometries = [shapely.transform(g, lambda xy: np.column_stack(to_grid.transform(
        xy[:, 0], xy[:, 1]))) for g in source.geometry]
    frame = gpd.GeoDataFrame({"NOMBRE": source["name"], "CODIGO": source["cartodb_id"]},
                             geometry=geometries, crs=f"EPSG:{epsg}")
    return frame


def _write(frame: gpd.GeoDataFrame, folder: Path, kind: str) -> tuple[Path, dict[str, Any]]:
    """A file of ``kind`` holding ``frame``, and the loader options it needs."""
    if kind == "shp":
        path = folder / "distritos.shp"
        frame.to_file(path)
        return path, {}
    if kind == "zip":
        frame.to_file(folder / "distritos.shp")
        path = folder / "distritos.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for part in folder.glob("distritos.*"):
                if part.suffix != ".zip":
                    archive.write(part, part.name)
        return path, {}
    if kind == "gpkg":
        path = folder / "limites.gpkg"
        frame.to_file(path, layer="distritos")
        frame.head(2).to_file(path, layer="ambitos")  # a second polygon layer
        return path, {"layer": "distritos"}
    path = folder / "distritos.geojson"  # GeoJSON 2008 with a crs member, as GDAL writes
    frame.to_file(path, driver="GeoJSON")
    assert '"crs"' in path.read_text()[:400]
    return path, {}


def _load(engine: Engine, path: Path | str, **config: Any) -> Any:
    connector = get_connector("districts")({"location": str(path), **config})
    return run_source(engine, Settings(), connector, "districts", str(path), full=True)


def _districts(engine: Engine) -> dict[str, tuple[str, float, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(District.id, District.name, District.area_km2,
                                   District.geometry))
        return {i: (n, a, shape(g)) for i, n, a, g in rows}


@pytest.mark.parametrize("kind", ["shp", "zip", "gpkg", "geojson"])
@pytest.mark.parametrize(("name", "epsg"), SYSTEMS)
def test_projected_files_load_to_the_same_districts_as_the_wgs84_original(
        fresh_engine: Engine, tmp_path: Path, name: str, epsg: int, kind: str) -> None:
    original = gpd.read_file(_fixture(name))
    # The WGS84 original through the same loader, in a store of its own.
    from dashboard.store import init_store, make_engine

    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    init_store(reference)
    _load(reference, _fixture(name), name_field="name", id_field="cartodb_id")
    expected = _districts(reference)
    path, options = _write(_projected(name, epsg), tmp_path, kind)
    report = _load(fresh_engine, path, name_field="NOMBRE", id_field="CODIGO", **options)
    assert (report.stored, report.quarantined, report.status) == (len(original), 0, "ok")
    loaded = _districts(fresh_engine)
    assert loaded.keys() == expected.keys()
    for district_id, (name_there, area, geometry) in expected.items():
        got_name, got_area, got_geometry = loaded[district_id]
        assert got_name == name_there
        assert got_area == pytest.approx(area, rel=0.005)
        # back in degrees, where the original was: within a metre everywhere (1e-5 degrees;
        # datum shifts such as CH1903+ <-> WGS84 are not exactly invertible)
        assert got_geometry.hausdorff_distance(geometry) < 1e-5
        west, south, east, north = got_geometry.bounds
        assert -180 <= west <= east <= 180 and -90 <= south <= north <= 90


def test_areas_are_true_areas_in_an_equal_area_projection(fresh_engine: Engine) -> None:
    """Against the districts' area measured by the file's own UTM grid (a conformal
    projection: 0.1 % off at most near Madrid), not a flat-earth guess."""
    _load(fresh_engine, _fixture("madrid-districts.geojson"), name_field="name")
    utm = gpd.read_file(_fixture("madrid-districts.geojson")).to_crs(25830)
    by_name = {n: a for n, a, _ in _districts(fresh_engine).values()}
    for district_name, geometry in zip(utm["name"], utm.geometry, strict=True):
        assert by_name[district_name] == pytest.approx(geometry.area / 1e6, rel=0.002)
    assert 5.1 < by_name["Centro"] < 5.35  # Madrid's Centro district is about 5.2 km²


def test_a_file_without_a_coordinate_system_in_metres_is_refused_naming_crs(
        tmp_path: Path) -> None:
    frame = _projected("madrid-districts.geojson", 25830)
    frame.to_file(tmp_path / "sin_prj.shp")
    (tmp_path / "sin_prj.prj").unlink()
    env = {**os.environ, "CITYLENS_VAR_DIR": str(tmp_path / "var"), "CITYLENS_REDIS_URL": ""}
    env.pop("CITYLENS_DATABASE_URL", None)
    refused = subprocess.run(
        [*CITYLENS_CLI, "districts", "load", str(tmp_path / "sin_prj.shp"), "--name-field",
         "NOMBRE"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    message = refused.stderr.strip()
    assert "\n" not in message and "--crs" in message and "cannot be degrees" in message
    loaded = subprocess.run(
        [*CITYLENS_CLI, "districts", "load", str(tmp_path / "sin_prj.shp"), "--name-field",
         "NOMBRE", "--crs", "EPSG:25830", "--json"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["stored"] == 21


def test_a_geojson_without_crs_member_in_metres_is_refused(tmp_path: Path) -> None:
    frame = _projected("bern-districts.geojson", 2056)
    document = json.loads(frame.to_json())
    document.pop("crs", None)
    path = tmp_path / "bern.geojson"
    path.write_text(json.dumps(document))
    with pytest.raises(SourceFormatError, match="--crs EPSG"):
        read_gis_layer(str(path))
    layer = read_gis_layer(str(path), crs="2056")
    assert layer.source_crs == "EPSG:2056" and not layer.declared
    assert layer.wgs84().total_bounds[0] == pytest.approx(7.29, abs=0.1)


def test_layers_unknown_files_and_systems_get_one_line_errors(tmp_path: Path) -> None:
    frame = _projected("madrid-districts.geojson", 25830)
    path, _ = _write(frame, tmp_path, "gpkg")
    with pytest.raises(SourceFormatError, match="choose one with --layer") as many:
        read_gis_layer(str(path))
    assert "distritos" in str(many.value) and "ambitos" in str(many.value)
    with pytest.raises(SourceFormatError, match="no layer 'barrios'"):
        read_gis_layer(str(path), layer="barrios")
    with pytest.raises(SourceFormatError, match="not a coordinate system"):
        read_gis_layer(str(path), layer="distritos", crs="EPSG:99999999")
    text = tmp_path / "notes.txt"
    text.write_text("not a map")
    with pytest.raises(SourceFormatError, match="notes.txt"):
        read_gis_layer(str(text))
    with pytest.raises(SourceFormatError, match="no such file"):
        read_gis_layer(str(tmp_path / "absent.shp"))
    assert len(read_gis_layer(str(path), layer="ambitos").frame) == 2


def test_invalid_rings_are_repaired_or_quarantined_with_the_reason(
        fresh_engine: Engine, tmp_path: Path) -> None:
    to_grid = Transformer.from_crs(4326, 25830, always_xy=True)

    def grid(coords: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [to_grid.transform(x, y) for x, y in coords]

    bowtie = shapely.Polygon(grid([(-3.70, 40.40), (-3.69, 40.41), (-3.69, 40.40),
                                   (-3.70, 40.41), (-3.70, 40.40)]))
    x0, y0 = to_grid.transform(-3.68, 40.40)  # a ring folded onto a line: no area at all
    collapsed = shapely.Polygon([(x0, y0), (x0 + 500, y0), (x0 + 1000, y0), (x0, y0)])
    square = shapely.box(*to_grid.transform(-3.66, 40.40), *to_grid.transform(-3.65, 40.41))
    frame = gpd.GeoDataFrame({"name": ["Lazo", "Raya", "Plaza"]},
                             geometry=[bowtie, collapsed, square], crs="EPSG:25830")
    path = tmp_path / "rings.gpkg"
    frame.to_file(path)
    assert not bowtie.is_valid and not collapsed.is_valid
    report = _load(fresh_engine, path)
    assert (report.stored, report.quarantined) == (2, 1)
    loaded = {n: (a, g) for n, a, g in _districts(fresh_engine).values()}
    area, geometry = loaded["Lazo"]
    assert geometry.is_valid and geometry.geom_type == "MultiPolygon"
    assert area == pytest.approx(shapely.make_valid(bowtie).area / 1e6, rel=0.005)
    assert area > 0
    assert loaded["Plaza"][0] == pytest.approx(square.area / 1e6, rel=0.005)
    with fresh_engine.connect() as conn:
        reason = conn.execute(select(Quarantine.reason)).scalar_one()
    assert "Raya" in reason and "leaves no area" in reason


def test_municipalities_from_a_property_or_for_the_whole_file(
        fresh_engine: Engine, tmp_path: Path) -> None:
    madrid = gpd.read_file(_fixture("madrid-districts.geojson")).head(3)
    bern = gpd.read_file(_fixture("bern-districts.geojson")).head(2)
    metro = gpd.GeoDataFrame({
        "name": ["Centro", *madrid["name"][1:], "Centro", *bern["name"][1:]],
        "municipio": ["Madrid"] * 3 + ["Bern"] * 2,
    }, geometry=[*madrid.geometry, *bern.geometry], crs="EPSG:4326")
    metro.to_file(tmp_path / "metro.gpkg")
    report = _load(fresh_engine, tmp_path / "metro.gpkg", parent_field="municipio")
    assert (report.stored, report.quarantined) == (5, 0)
    _load(fresh_engine, _fixture("bern-districts.geojson"), municipality="Bern")
    with fresh_engine.connect() as conn:
        rows = conn.execute(select(District.id, District.municipality_id,
                                   District.municipality_name)).all()
    by_id = {i: (m, n) for i, m, n in rows}
    assert by_id["madrid-centro"] == ("madrid", "Madrid")  # two Centros, two ids
    assert by_id["bern-centro"] == ("bern", "Bern")
    assert by_id["bern-innere-stadt"] == ("bern", "Bern")
    # Madrid's 3 stay beside Bern's: the metropolitan file's "Centro" of Bern and the
    # Bern file's 6 districts
    assert len(by_id) == 3 + 1 + 6


def test_a_district_without_its_parent_area_is_quarantined(
        fresh_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "parents.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "A", "muni": "Getafe"},
         "geometry": mapping(shapely.box(0, 0, 1, 1))},
        {"type": "Feature", "properties": {"name": "B"},
         "geometry": mapping(shapely.box(1, 0, 2, 1))},
    ]}))
    report = _load(fresh_engine, path, parent_field="muni")
    assert (report.stored, report.quarantined) == (1, 1)
    with fresh_engine.connect() as conn:
        assert "parent area" in conn.execute(select(Quarantine.reason)).scalar_one()


def _voronoi_districts(count: int) -> list[tuple[str, dict[str, Any]]]:
    rng = np.random.default_rng(count)
    box = shapely.box(-3.9, 40.3, -3.5, 40.6)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(-3.9, -3.5, count),
                                                 rng.uniform(40.3, 40.6, count)]))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=box))
    return [(f"v{n}", mapping(shapely.intersection(c, box))) for n, c in enumerate(cells)]


@pytest.mark.parametrize("districts", ["madrid", "voronoi"])
def test_the_spatial_join_equals_point_in_polygon(districts: str) -> None:
    """Madrid's 21 districts take the per-district test, 150 Voronoi cells the spatial
    join (``JOIN_FROM_DISTRICTS``): both must give what each point's own test gives."""
    if districts == "madrid":
        frame = gpd.read_file(_fixture("madrid-districts.geojson"))
        items = [(str(i), mapping(g)) for i, g in zip(frame["cartodb_id"], frame.geometry,
                                                     strict=True)]
    else:
        items = _voronoi_districts(150)
    index = DistrictIndex.from_geojson(items)
    assert (len(index.ids) >= JOIN_FROM_DISTRICTS) == (districts == "voronoi")
    west, south, east, north = shapely.total_bounds(np.array(index.polygons, dtype=object))
    rng = np.random.default_rng(21)
    lats = list(rng.uniform(south - 0.02, north + 0.02, 20_000))
    lons = list(rng.uniform(west - 0.02, east + 0.02, 20_000))
    lats[:3], lons[:3] = [None, float("nan"), 40.4], [None, -3.7, float("nan")]
    found = index.assign(lats, lons)
    expected: list[str | None] = []
    for lat, lon in zip(lats, lons, strict=True):
        here = None
        if lat is not None and lon is not None and np.isfinite(lat) and np.isfinite(lon):
            point = shapely.Point(lon, lat)
            here = next((i for i, p in zip(index.ids, index.polygons, strict=True)
                         if p.contains(point)), None)
        expected.append(here)
    assert found == expected
    assert sum(f is not None for f in found) > 5_000 and found[:3] == [None, None, None]


@pytest.mark.parametrize("count", [2, JOIN_FROM_DISTRICTS + 6])
def test_overlapping_districts_give_a_point_to_the_first(count: int) -> None:
    boxes = [("a", mapping(shapely.box(0, 0, 2, 2))), ("b", mapping(shapely.box(1, 1, 3, 3)))]
    boxes += [(f"far{n}", mapping(shapely.box(10 + n, 10, 10.5 + n, 11)))
              for n in range(count - 2)]
    index = DistrictIndex.from_geojson(boxes)
    assert index.assign([1.5, 2.5, 0.5, 5], [1.5, 2.5, 0.5, 5]) == ["a", "b", "a", None]
    assert DistrictIndex.from_geojson([]).assign([1.0], [1.0]) == [None]


@pytest.mark.parametrize("name", ["madrid-districts.geojson", "bern-districts.geojson"])
def test_display_outlines_are_lighter_and_neighbours_still_share_edges(name: str) -> None:
    districts = gpd.read_file(_fixture(name))
    originals = [mapping(g) for g in districts.geometry]
    outlines = display_outlines(originals)
    before = np.array([shape(g) for g in originals])
    after = np.array([shape(g) for g in outlines])
    assert shapely.get_num_coordinates(after).sum() < shapely.get_num_coordinates(before).sum() / 2
    assert bool(shapely.coverage_is_valid(after))  # no gap, no overlap between neighbours
    shared_before = sum(1 for i in range(len(before)) for j in range(i + 1, len(before))
                        if before[i].intersection(before[j]).length > 0)
    shared_after = sum(1 for i in range(len(after)) for j in range(i + 1, len(after))
                       if after[i].intersection(after[j]).length > 0)
    assert shared_after == shared_before > 0
    for was, now in zip(before, after, strict=True):
        assert now.symmetric_difference(was).area < was.area * 0.02
    assert display_outlines([None, originals[0]])[0] is None


def test_heights_are_dropped_and_a_feature_without_geometry_is_quarantined(
        fresh_engine: Engine, tmp_path: Path) -> None:
    """GIS exports often carry heights (Polygon Z): the district is stored flat; a feature
    with no geometry at all is quarantined, the rest stored."""
    x0, y0 = 440_000, 4_470_000
    frame = gpd.GeoDataFrame({"name": ["Alta", "Vacía"]}, geometry=[
        shapely.Polygon([(x0, y0, 10), (x0 + 1000, y0, 11), (x0 + 1000, y0 + 1000, 12),
                         (x0, y0 + 1000, 10)]), None], crs="EPSG:25830")
    frame.to_file(tmp_path / "z.gpkg")
    report = _load(fresh_engine, tmp_path / "z.gpkg")
    assert (report.stored, report.quarantined) == (1, 1)
    name, area, geometry = next(iter(_districts(fresh_engine).values()))
    assert name == "Alta" and not geometry.has_z
    assert area == pytest.approx(1.0, rel=0.002)  # 1 km² on the UTM grid
    with fresh_engine.connect() as conn:
        assert "no geometry" in conn.execute(select(Quarantine.reason)).scalar_one()
