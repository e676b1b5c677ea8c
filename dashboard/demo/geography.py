"""The demo city's districts: Voronoi cells of seed points clipped to the land."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Point, Polygon, mapping
from shapely.geometry.base import BaseMultipartGeometry

from dashboard.demo.config import CityConfig
from dashboard.district_shapes import area_km2


@dataclass(frozen=True)
class District:
    """A generated district: id, spec index, polygon and derived facts."""

    id: str
    index: int
    name: str
    polygon: Polygon
    population: int
    area_km2: float

    def row(self) -> dict[str, Any]:
        """The row for the ``districts`` table."""
        centroid = self.polygon.centroid
        return {
            "id": self.id,
            "name": self.name,
            "geometry": mapping_lists(self.polygon),
            "population": self.population,
            "area_km2": round(self.area_km2, 3),
            "centroid_lat": round(centroid.y, 6),
            "centroid_lon": round(centroid.x, 6),
        }


def mapping_lists(polygon: Polygon) -> dict[str, Any]:
    """A GeoJSON Polygon with plain lists (JSON-friendly, [lon, lat] order)."""
    geo = mapping(shapely.set_precision(polygon, 1e-6))
    rings = [[list(point) for point in ring] for ring in geo["coordinates"]]
    return {"type": geo["type"], "coordinates": rings}


def build_districts(config: CityConfig) -> list[District]:
    """The districts, in config order, with ids ``<slug>-01``…; identical at every scale."""
    land = Polygon(config.land)
    seeds = [Point(d.seed) for d in config.districts]
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=land.envelope.buffer(0.1))
    districts = []
    for index, spec in enumerate(config.districts):
        cell = next(c for c in cells.geoms if c.contains(seeds[index]))
        clipped = cell.intersection(land)
        if isinstance(clipped, BaseMultipartGeometry):  # keep the piece around the seed
            clipped = max(clipped.geoms, key=lambda g: g.area)
        if not isinstance(clipped, Polygon):
            raise ValueError(f"district {spec.name!r}: its land is not a polygon")
        polygon = shapely.set_precision(clipped, 1e-6)
        districts.append(
            District(
                id=f"{config.slug}-{index + 1:02d}",
                index=index,
                name=spec.name,
                polygon=polygon,
                population=spec.population,
                area_km2=area_km2(polygon),
            )
        )
    return districts


def points_in(polygon: Polygon, n: int, gen: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points (lon, lat) strictly inside ``polygon``, shape (n, 2)."""
    minx, miny, maxx, maxy = polygon.bounds
    inner = polygon.buffer(-1e-5)  # keep clear of the edges (and of rounding)
    found: list[np.ndarray] = []
    total = 0
    while total < n:
        want = max(16, int((n - total) * 1.5 * (maxx - minx) * (maxy - miny) / polygon.area))
        xy = np.column_stack([gen.uniform(minx, maxx, want), gen.uniform(miny, maxy, want)])
        keep = xy[shapely.contains_xy(inner, xy[:, 0], xy[:, 1])]
        found.append(keep)
        total += len(keep)
    return np.round(np.concatenate(found)[:n], 6)


def assign_districts(districts: list[District], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Index of the district containing each point (point-in-polygon), -1 when none."""
    out = np.full(lon.shape, -1, dtype=int)
    for district in districts:
        inside = shapely.contains_xy(district.polygon, lon, lat)
        out[inside & (out < 0)] = district.index
    return out


def district_points(districts: list[District], which: np.ndarray,
                    gen: np.random.Generator) -> np.ndarray:
    """A random point inside the district of each entry of ``which`` (indices), (n, 2)."""
    xy = np.zeros((which.size, 2))
    for district in districts:
        rows = np.flatnonzero(which == district.index)
        if rows.size:
            xy[rows] = points_in(district.polygon, rows.size, gen)
    return xy
