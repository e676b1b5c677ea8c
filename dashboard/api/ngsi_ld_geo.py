"""NGSI-LD geo-queries (``georel``, ``geometry``, ``coordinates``, ``geoproperty``): parsed
into a ``GeoQuery`` that gives an index-friendly box of lat/lon for the store and tests a
GeoJSON value exactly with shapely.

Relations: ``near;maxDistance==N`` / ``near;minDistance==N`` (metres, great circle between
points, a local metric projection otherwise), ``within``, ``contains``, ``intersects``,
``disjoint``, ``equals``, ``overlaps`` (the entity's geometry against the query's).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from dashboard.geo import DEGREE_METRES, box_around, metres_between

GEOMETRIES = ("Point", "LineString", "Polygon", "MultiPolygon")
RELATIONS = ("near", "within", "contains", "intersects", "disjoint", "equals", "overlaps")
MAX_COORDINATES = 100_000  # characters of the coordinates parameter
MAX_DISTANCE = 20_000_000.0  # metres: half the Earth's circumference


class GeoError(ValueError):
    """A geo-query that cannot be understood; the message names the parameter."""


@dataclass(frozen=True)
class GeoQuery:
    """One geo-query: the relation, the query geometry and, for ``near``, a distance."""

    relation: str
    geometry: BaseGeometry
    geoproperty: str = "location"
    max_distance: float | None = None
    min_distance: float | None = None

    def box(self) -> tuple[float, float, float, float] | None:
        """(south, north, west, east) holding every point that can match, or None when
        points anywhere may (``disjoint``, ``near;minDistance``)."""
        if self.relation == "disjoint" or self.min_distance is not None:
            return None
        west, south, east, north = self.geometry.bounds
        if self.max_distance is None:
            return south, north, west, east
        low = box_around(south, west, self.max_distance)
        high = box_around(north, east, self.max_distance)
        far = box_around(max(abs(south), abs(north)), west, self.max_distance)
        spread = far[3] - west  # longitude degrees at the latitude nearest a pole
        return low[0], high[1], west - spread, east + spread

    def matches(self, value: Any) -> bool:
        """Whether a GeoJSON geometry (an entity's geoproperty) satisfies the query."""
        if not isinstance(value, Mapping):
            return False
        try:
            other = shape(dict(value))
        except (ValueError, TypeError, KeyError, AttributeError, shapely.errors.GEOSException):
            return False
        if other.is_empty:
            return False
        if self.relation == "near":
            distance = metres_apart(other, self.geometry)
            if self.max_distance is not None:
                return distance <= self.max_distance
            return distance >= (self.min_distance or 0.0)
        test = {"within": other.within, "contains": other.contains,
                "intersects": other.intersects, "disjoint": other.disjoint,
                "equals": other.equals, "overlaps": other.overlaps}[self.relation]
        return bool(test(self.geometry))


def metres_apart(a: BaseGeometry, b: BaseGeometry) -> float:
    """Distance in metres: great circle between two points, else planar in a local
    equirectangular projection around ``b`` (well under 1 % off at city scale)."""
    if isinstance(a, Point) and isinstance(b, Point):
        return metres_between(a.y, a.x, b.y, b.x)
    lat0 = b.centroid.y
    scale = np.array([DEGREE_METRES * math.cos(math.radians(lat0)), DEGREE_METRES])
    project = (lambda xy: xy * scale)  # noqa: E731
    return float(shapely.transform(a, project).distance(shapely.transform(b, project)))


def _distance(part: str) -> tuple[str, float]:
    name, sep, number = part.partition("==")
    if not sep or name not in ("maxDistance", "minDistance"):
        raise GeoError("georel: near takes ;maxDistance==N or ;minDistance==N (metres)")
    try:
        metres = float(number)
    except ValueError:
        raise GeoError(f"georel: {name} {number!r} is not a number") from None
    if not 0 <= metres <= MAX_DISTANCE:
        raise GeoError(f"georel: {name} must be between 0 and {MAX_DISTANCE:.0f} metres")
    return name, metres


def _shape(geometry: str, coordinates: str) -> BaseGeometry:
    if geometry not in GEOMETRIES:
        raise GeoError(f"geometry: {geometry!r} is not one of {', '.join(GEOMETRIES)}")
    if len(coordinates) > MAX_COORDINATES:
        raise GeoError(f"coordinates: longer than {MAX_COORDINATES} characters")
    try:
        parsed = json.loads(coordinates)
        found = shape({"type": geometry, "coordinates": parsed})
    except (ValueError, TypeError, IndexError, AttributeError,
            shapely.errors.GEOSException) as error:
        raise GeoError(f"coordinates: not a {geometry} as a JSON array "
                       f"({' '.join(str(error).split())[:80]})") from None
    if found.is_empty or not found.is_valid:
        raise GeoError(f"coordinates: not a valid {geometry} "
                       f"({shapely.is_valid_reason(found)})")
    west, south, east, north = found.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise GeoError("coordinates: [longitude, latitude] out of range")
    return found


def parse_geo(georel: str | None, geometry: str | None, coordinates: str | None,
              geoproperty: str | None) -> GeoQuery | None:
    """The geo-query of a request's parameters (None without ``georel``); GeoError when
    they are incomplete or wrong."""
    if georel is None:
        if geometry is not None or coordinates is not None:
            raise GeoError("georel: required with geometry and coordinates")
        return None
    if geometry is None or coordinates is None:
        raise GeoError("geometry and coordinates: both required with georel")
    relation, *rest = georel.split(";")
    if relation not in RELATIONS:
        raise GeoError(f"georel: {relation!r} is not one of {', '.join(RELATIONS)}")
    found = _shape(geometry, coordinates)
    distances = dict(_distance(part) for part in rest)
    if relation == "near" and len(distances) != 1:
        raise GeoError("georel: near takes one of ;maxDistance==N or ;minDistance==N")
    if relation != "near" and distances:
        raise GeoError(f"georel: {relation} takes no distance")
    return GeoQuery(relation, found, geoproperty or "location",
                    distances.get("maxDistance"), distances.get("minDistance"))
