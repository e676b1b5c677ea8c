"""District geometry: assigning located things to districts (a point-in-polygon spatial
join, geopandas), distances and label points."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import geopandas as gpd
import h3
import numpy as np
import shapely
from shapely.geometry import shape
from shapely.ops import polylabel
from sqlalchemy import Connection, select

from dashboard.model import District

WGS84 = "EPSG:4326"
# From this many districts on, one spatial join beats testing each district's polygon.
JOIN_FROM_DISTRICTS = 64

HOTSPOT_RESOLUTION = 9  # H3 cells about 350 m across (0.1 km²): a street corner's scale
EARTH_METRES = 6_371_000.0
# A degree of latitude on the sphere ``metres_between`` measures on (111,195 m), a hair
# short so that a box made with it always holds the circle it stands for.
DEGREE_METRES = math.radians(1) * EARTH_METRES * 0.999


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    dlat, dlon = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = (math.sin(dlat / 2) ** 2
         + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(dlon / 2) ** 2)
    return 2 * EARTH_METRES * math.asin(math.sqrt(a))


def hotspot_cell(lat: float | None, lon: float | None) -> str | None:
    """The H3 cell a place falls in, at the hotspots' resolution (None: no place)."""
    if lat is None or lon is None or not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return str(h3.latlng_to_cell(lat, lon, HOTSPOT_RESOLUTION))


def box_around(lat: float, lon: float, metres: float) -> tuple[float, float, float, float]:
    """(south, north, west, east) of a box that holds every point within ``metres`` of
    (lat, lon): a filter an index can use before the exact distance."""
    dlat = metres / DEGREE_METRES
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def label_point(geometry: dict[str, Any] | None) -> list[float] | None:
    """Where a district's map label goes, as [lat, lon]: the pole of inaccessibility of its
    largest part (the inside point farthest from its edges; a centroid can fall outside a
    concave district or on its rim), found in locally equirectangular coordinates so that
    "farthest" is in metres. None without usable geometry."""
    if not geometry:
        return None
    try:
        region = shapely.make_valid(shape(geometry))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    parts = [p for p in getattr(region, "geoms", [region])
             if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:
        return None
    largest = max(parts, key=lambda p: p.area)
    scale_x = math.cos(math.radians(largest.centroid.y))
    projected = shapely.transform(largest, lambda xy: xy * np.array([scale_x, 1.0]))
    pole = polylabel(projected, tolerance=1e-5)  # about a metre
    return [round(pole.y, 6), round(pole.x / scale_x, 6)]


@dataclass(frozen=True, eq=False)
class DistrictIndex:
    """The districts' polygons, ready for vectorised point-in-polygon lookups."""

    ids: tuple[str, ...]
    polygons: tuple[Any, ...]

    @classmethod
    def load(cls, conn: Connection) -> DistrictIndex:
        """Every district of the store."""
        rows = conn.execute(select(District.id, District.geometry)).all()
        return cls.from_geojson([(i, g) for i, g in rows if g])

    @classmethod
    def from_geojson(cls, items: Sequence[tuple[str, dict[str, Any]]]) -> DistrictIndex:
        ids, polygons = [], []
        for district_id, geometry in items:
            try:
                polygon = shape(geometry)
            except (ValueError, TypeError, KeyError, AttributeError):
                continue  # a district without usable geometry assigns nothing
            if polygon.is_empty:
                continue
            ids.append(district_id)
            polygons.append(shapely.make_valid(polygon))
        return cls(tuple(ids), tuple(polygons))

    def assign(
        self, lats: Sequence[float | None], lons: Sequence[float | None]
    ) -> list[str | None]:
        """The district id containing each point (None outside every district or unlocated);
        a point on two overlapping districts gets the first.

        Many districts (a metropolis' neighbourhoods): one geopandas spatial join, the
        districts in an STR-tree. A few: each district's polygon against every point
        (``shapely.contains_xy``, no point objects made), which is faster below
        ``JOIN_FROM_DISTRICTS`` (bench/district_assign.py measures both)."""
        lat = np.array([np.nan if v is None else v for v in lats], dtype=float)
        lon = np.array([np.nan if v is None else v for v in lons], dtype=float)
        found = np.full(len(lat), None, dtype=object)
        located = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
        if not self.ids or not len(located):
            return list(found)
        if len(self.ids) < JOIN_FROM_DISTRICTS:
            taken = np.zeros(len(located), dtype=bool)
            xs, ys = lon[located], lat[located]
            for district_id, polygon in zip(self.ids, self.polygons, strict=True):
                inside = shapely.contains_xy(polygon, xs, ys)
                found[located[inside & ~taken]] = district_id
                taken |= inside
            return list(found)
        points = gpd.GeoDataFrame(
            {"point": located}, geometry=gpd.points_from_xy(lon[located], lat[located]),
            crs=WGS84)
        joined = gpd.sjoin(points, self.frame, how="inner", predicate="within")
        first = joined.sort_values(["point", "order"]).drop_duplicates("point")
        found[first["point"].to_numpy()] = first["district"].to_numpy()
        return list(found)

    @cached_property
    def frame(self) -> gpd.GeoDataFrame:
        """The districts as a GeoDataFrame with its spatial index built (once)."""
        frame = gpd.GeoDataFrame({"district": list(self.ids), "order": range(len(self.ids))},
                                 geometry=list(self.polygons), crs=WGS84)
        frame.sindex.query(shapely.box(0, 0, 0, 0))  # builds the STR-tree now
        return frame
