"""District polygons: repairing invalid rings, areas in an equal-area projection, and
outlines simplified for display with the shared edges kept shared."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

WGS84 = "EPSG:4326"
DISPLAY_TOLERANCE_DEG = 0.0001  # about 10 m: finer than a district map ever shows
DISPLAY_DECIMALS = 5  # about 1 m


def equal_area_crs(geometries: gpd.GeoSeries) -> CRS:
    """A Lambert azimuthal equal-area projection centred on lon/lat ``geometries``: areas
    in it are true whatever the distance from the centre (shapes bend, areas do not)."""
    located = geometries[~(geometries.isna() | geometries.is_empty)]
    west, south, east, north = located.total_bounds if not located.empty else (0, 0, 0, 0)
    return CRS.from_proj4(f"+proj=laea +lat_0={(south + north) / 2:.6f} "
                          f"+lon_0={(west + east) / 2:.6f} +datum=WGS84 +units=m +no_defs")


def areas_km2(geometries: gpd.GeoSeries) -> np.ndarray:
    """Area in km² of each lon/lat geometry, measured in an equal-area projection
    (0 for a missing one)."""
    if geometries.empty:
        return np.zeros(0)
    series = gpd.GeoSeries(geometries, crs=WGS84)
    projected = series.to_crs(equal_area_crs(series))
    areas: np.ndarray = np.nan_to_num(projected.area.to_numpy(dtype=float) / 1e6)
    return areas


def area_km2(geometry: BaseGeometry) -> float:
    """Area in km² of one lon/lat (Multi)Polygon, in an equal-area projection."""
    return float(areas_km2(gpd.GeoSeries([geometry], crs=WGS84))[0])


def polygonal_part(geometry: BaseGeometry) -> BaseGeometry | None:
    """The (Multi)Polygon part of a geometry (a repaired ring may leave lines or points
    beside its polygons); None when it has no area."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return None if geometry.is_empty else geometry
    parts = [g for g in getattr(geometry, "geoms", [])
             if g.geom_type in ("Polygon", "MultiPolygon") and not g.is_empty]
    if not parts:
        return None
    merged = shapely.union_all(parts)
    return merged if merged.geom_type in ("Polygon", "MultiPolygon") else None


def repaired(geometry: BaseGeometry) -> tuple[BaseGeometry | None, str | None]:
    """(a valid polygon, the problem repaired) for a polygon with invalid rings; (None,
    why) when repairing leaves no area; (geometry, None) when it was valid."""
    if geometry.is_valid:
        return geometry, None
    problem = shapely.is_valid_reason(geometry)
    fixed = polygonal_part(shapely.make_valid(geometry))
    if fixed is None or fixed.area == 0:
        return None, f"invalid rings ({problem}) and repairing them leaves no area"
    return fixed, problem


def display_outlines(geometries: Sequence[dict[str, Any] | None]) -> list[dict[str, Any] | None]:
    """GeoJSON outlines simplified for the map, about 10 m, rounded to about 1 m. Districts
    that tile the city are simplified together as a coverage, so two neighbours still share
    each edge (no slivers, no gaps); otherwise each keeps its own topology."""
    shapes: list[BaseGeometry | None] = []
    for geometry in geometries:
        try:
            shapes.append(shapely.make_valid(shape(geometry)) if geometry else None)
        except (ValueError, TypeError, KeyError, AttributeError):
            shapes.append(None)
    parts = {i: polygonal_part(g) for i, g in enumerate(shapes) if g is not None}
    keep = [i for i, part in parts.items() if part is not None]
    polygons = np.empty(len(keep), dtype=object)
    polygons[:] = [parts[i] for i in keep]
    if not keep:
        return [None] * len(geometries)
    if bool(shapely.coverage_is_valid(polygons)):
        simple = shapely.coverage_simplify(polygons, DISPLAY_TOLERANCE_DEG)
    else:
        simple = shapely.simplify(polygons, DISPLAY_TOLERANCE_DEG, preserve_topology=True)
    simple = shapely.set_precision(simple, 10 ** -DISPLAY_DECIMALS, mode="pointwise")
    result: list[dict[str, Any] | None] = [None] * len(geometries)
    for index, outline in zip(keep, simple, strict=True):
        result[index] = mapping(outline) if not outline.is_empty else geometries[index]
    return result
