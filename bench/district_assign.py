"""Assigning located things to districts: this CityLens (one geopandas spatial join, an
STR-tree of the districts, for every point at once) against the previous way (each
district's polygon tested against every point, ``shapely.contains_xy`` once per district),
in the same run, on the same points. Both ways' answers are checked equal before any time
is compared.

Two maps: a city of ``--districts`` districts drawn as Voronoi cells over a 40 x 40 km
square around Madrid (a metropolis of many small districts, as a sub-municipal deployment
loads), and the real 21 districts of Madrid when ``../shared/fixtures`` is beside the
project. ``--points`` random points fall over each map (a tenth outside it).

    .venv/bin/python bench/district_assign.py [--points 200000] [--districts 1000]
        [--repeat 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping

from dashboard.geo import DistrictIndex

MADRID = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "districts" / \
    "madrid-districts.geojson"


def previous_assign(index: DistrictIndex, lats: Sequence[float | None],
                    lons: Sequence[float | None]) -> list[str | None]:
    """The way before issue 21: every district against every located point."""
    lat = np.array([np.nan if v is None else v for v in lats], dtype=float)
    lon = np.array([np.nan if v is None else v for v in lons], dtype=float)
    found: list[str | None] = [None] * len(lat)
    located = np.isfinite(lat) & np.isfinite(lon)
    for district_id, polygon in zip(index.ids, index.polygons, strict=True):
        inside = np.zeros(len(lat), dtype=bool)
        inside[located] = shapely.contains_xy(polygon, lon[located], lat[located])
        for position in np.flatnonzero(inside):
            if found[position] is None:
                found[position] = district_id
    return found


def voronoi_city(count: int) -> DistrictIndex:
    """``count`` Voronoi districts tiling a 40 x 40 km square around Madrid."""
    rng = np.random.default_rng(21)
    box = shapely.box(-3.94, 40.24, -3.46, 40.60)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(-3.94, -3.46, count),
                                                 rng.uniform(40.24, 40.60, count)]))
    cells = shapely.voronoi_polygons(seeds, extend_to=box)
    parts = [shapely.intersection(cell, box) for cell in shapely.get_parts(cells)]
    return DistrictIndex.from_geojson([(f"d{n:04d}", mapping(p)) for n, p in enumerate(parts)])


def madrid() -> DistrictIndex | None:
    """Madrid's real districts, when the fixtures are beside the project."""
    if not MADRID.exists():
        return None
    document = json.loads(MADRID.read_text())
    return DistrictIndex.from_geojson([(f["properties"]["name"], f["geometry"])
                                       for f in document["features"]])


def points(index: DistrictIndex, count: int) -> tuple[list[float | None], list[float | None]]:
    """``count`` points over the districts' extent and a margin around it."""
    west, south, east, north = shapely.total_bounds(np.array(index.polygons, dtype=object))
    margin_x, margin_y = (east - west) * 0.05, (north - south) * 0.05
    rng = np.random.default_rng(7)
    lats: list[float | None] = list(rng.uniform(south - margin_y, north + margin_y, count))
    lons: list[float | None] = list(rng.uniform(west - margin_x, east + margin_x, count))
    lats[::1000] = [None] * len(lats[::1000])  # some things have no place
    return lats, lons


def measure(run: Callable[[], list[str | None]], repeat: int) -> tuple[list[str | None], float,
                                                                          float, float]:
    """(answer, median ms, best ms, peak MB) over ``repeat`` runs."""
    seconds = []
    answer: list[str | None] = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = run()
        seconds.append(time.perf_counter() - started)
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return answer, statistics.median(seconds) * 1000, min(seconds) * 1000, peak


def compare(name: str, index: DistrictIndex, count: int, repeat: int) -> dict[str, Any]:
    """Both ways on one map; their answers must be equal."""
    lats, lons = points(index, count)
    new, new_ms, new_best, new_mb = measure(lambda: index.assign(lats, lons), repeat)
    old, old_ms, old_best, old_mb = measure(lambda: previous_assign(index, lats, lons), repeat)
    if new != old:
        differ = sum(a != b for a, b in zip(new, old, strict=True))
        raise SystemExit(f"{name}: the two ways disagree on {differ} of {count} points")
    return {"map": name, "districts": len(index.ids), "points": count,
            "assigned": sum(a is not None for a in new),
            "citylens_ms": round(new_ms, 1), "citylens_best_ms": round(new_best, 1),
            "citylens_peak_mb": round(new_mb, 1), "previous_ms": round(old_ms, 1),
            "previous_best_ms": round(old_best, 1), "previous_peak_mb": round(old_mb, 1),
            "ratio": round(old_ms / new_ms, 2) if new_ms else None}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--districts", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--var-dir", help="unused: the benchmark keeps no store")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    maps: list[tuple[str, DistrictIndex]] = [(f"Voronoi {args.districts}",
                                              voronoi_city(args.districts))]
    real = madrid()
    if real is not None:
        maps.append(("Madrid (21 real districts)", real))
    rows = [compare(name, index, args.points, args.repeat) for name, index in maps]
    if args.json:
        print(json.dumps({"results": rows}))
        return
    for row in rows:
        print(f"{row['map']}: {row['points']:,} points, {row['assigned']:,} in a district; "
              f"this CityLens {row['citylens_ms']:,.0f} ms (peak {row['citylens_peak_mb']} MB), "
              f"previous {row['previous_ms']:,.0f} ms (peak {row['previous_peak_mb']} MB): "
              f"{row['ratio']}x")


if __name__ == "__main__":
    main()
