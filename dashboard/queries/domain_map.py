"""The domain page's map, clustered on the server for the view the map shows.

The browser sends its view (bounds and zoom) as it moves; the server answers with the
assets in it, each one as a point when few enough are in view (at most ``POINTS_UP_TO``),
otherwise gathered into clusters on a grid of ``CELL_PIXELS``-pixel cells of the Web
Mercator map at that zoom: a cluster says how many assets it holds, in which states, and
the box to zoom to. Whatever the domain's size (15,000 streetlights), one answer holds at
most a few hundred features, none left off; answers are geobuf-encoded once and cached
per view cell until the domain's data changes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from dashboard.geojson_transfer import encode
from dashboard.model import Asset
from dashboard.queries.base import cached
from dashboard.queries.domain import STATES, asset_features, domain_assets, domain_scopes
from dashboard.settings import Settings

POINTS_UP_TO = 400  # assets in view shown one by one up to this many
POINTS_FROM_ZOOM = 17  # and from this zoom on (a street), however many share a spot
CELL_PIXELS = 64  # the side of a cluster's grid cell on screen
TILE = 256  # pixels of the whole world at zoom 0 (Web Mercator)
MAX_ZOOM = 20
DEFAULT_ZOOM = 12  # a view that does not say its zoom (a city's extent)
MAX_LAT = 85.05112878


def _world_xy(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator coordinates in [0, 1) of the world."""
    x = (lon + 180.0) / 360.0
    sin = np.sin(np.radians(np.clip(lat, -MAX_LAT, MAX_LAT)))
    y = 0.5 - np.log((1 + sin) / (1 - sin)) / (4 * math.pi)
    return x, y


def _in_view(lon: np.ndarray, lat: np.ndarray, bounds: Sequence[Sequence[float]] | None
             ) -> np.ndarray:
    if not bounds:
        return np.ones(len(lon), dtype=bool)
    (south, west), (north, east) = bounds
    pad_lat, pad_lon = (north - south) * 0.1, (east - west) * 0.1  # a margin for panning
    return ((lat >= south - pad_lat) & (lat <= north + pad_lat)
            & (lon >= west - pad_lon) & (lon <= east + pad_lon))


def _abbreviated(count: int) -> str:
    return f"{count / 1000:.1f}k".replace(".0k", "k") if count >= 1000 else str(count)


def _cluster(members: list[dict[str, Any]], lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    states = {s: 0 for s in STATES}
    for asset in members:
        state = asset.get("state")
        states[state if state in states else "no data"] += 1
    worst = next(s for s in STATES if states[s])
    count = len(members)
    return {"type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(float(lon.mean()), 6),
                                                         round(float(lat.mean()), 6)]},
            "properties": {"cluster": True, "point_count": count,
                           "point_count_abbreviated": _abbreviated(count),
                           "states": states, "state": worst,
                           "bounds": [[float(lat.min()), float(lon.min())],
                                      [float(lat.max()), float(lon.max())]]}}


def _level(zoom: float) -> int:
    """The whole zoom level whose grid a view at ``zoom`` is clustered on."""
    return min(MAX_ZOOM, max(0, int(math.floor(zoom))))


def clustered(assets: list[dict[str, Any]], domain: str,
              bounds: Sequence[Sequence[float]] | None, zoom: float | None) -> dict[str, Any]:
    """The located ``assets`` (``domain_assets`` rows) in view as GeoJSON: every one when at
    most ``POINTS_UP_TO`` are or the map is zoomed to a street (``POINTS_FROM_ZOOM``),
    otherwise one feature per grid cell (a lone asset stays itself); the most urgent are
    last, so drawn on top. Only what is shown becomes a feature."""
    located = [a for a in assets if a.get("lat") is not None and a.get("lon") is not None]
    if not located:
        return {"type": "FeatureCollection", "features": []}
    lon = np.fromiter((a["lon"] for a in located), dtype=float, count=len(located))
    lat = np.fromiter((a["lat"] for a in located), dtype=float, count=len(located))
    visible = np.flatnonzero(_in_view(lon, lat, bounds))
    level = _level(zoom if zoom is not None else DEFAULT_ZOOM)
    if len(visible) <= POINTS_UP_TO or level >= POINTS_FROM_ZOOM:
        shown = asset_features([located[i] for i in visible], domain)["features"]
    else:
        cells = (2 ** level) * TILE / CELL_PIXELS
        x, y = _world_xy(lon[visible], lat[visible])
        keys = np.floor(x * cells).astype(np.int64) * (2 ** 40) + np.floor(y * cells).astype(
            np.int64)
        order = np.argsort(keys, kind="stable")
        shown = []
        for group in np.split(order, np.flatnonzero(np.diff(keys[order])) + 1):
            members = visible[group]
            if len(members) == 1:
                shown.extend(asset_features([located[members[0]]], domain)["features"])
            else:
                shown.append(_cluster([located[i] for i in members], lon[members],
                                      lat[members]))
    urgency = {s: i for i, s in enumerate(STATES)}
    shown.sort(key=lambda f: -urgency.get(f["properties"].get("state"), len(STATES)))
    return {"type": "FeatureCollection", "features": shown}


def _view_key(bounds: Sequence[Sequence[float]] | None, zoom: float | None
              ) -> dict[str, Any]:
    """The view rounded to the grid the clusters use, so nearby views share a cache entry."""
    level = None if zoom is None else _level(zoom)
    if not bounds:
        return {"zoom": level, "bounds": None}
    step = 360.0 / (2 ** (level or 0)) / 8
    return {"zoom": level, "bounds": [[round(c / step) * step for c in corner]
                                      for corner in bounds]}


def domain_map_view(settings: Settings, domain: str, district: str | None,
                    bounds: Sequence[Sequence[float]] | None, zoom: float | None
                    ) -> dict[str, Any]:
    """``{"data", "shown", "total"}``: the map's features for the view, geobuf-encoded, how
    many assets they stand for and how many the filters hold; cached per view cell."""
    fresh = settings.model_copy(update={"cache_stale_seconds": 0})
    view = _view_key(bounds, zoom)

    def compute(_: Connection) -> dict[str, Any]:
        assets = domain_assets(fresh, domain, district)["assets"]
        shown = clustered(assets, domain, view["bounds"], zoom)
        count = sum(f["properties"].get("point_count", 1) for f in shown["features"])
        groups = sum(1 for f in shown["features"] if f["properties"].get("cluster"))
        located = sum(1 for a in assets if a["lat"] is not None and a["lon"] is not None)
        return {"data": encode(shown), "shown": count, "clusters": groups, "total": located}

    hour = int(settings.current_time().timestamp()) // 3600
    return cached(settings, "domain_map_view", {"domain": domain, "district": district,
                                                "hour": hour, **view}, compute,
                  domain_scopes(domain))


def empty_view() -> dict[str, Any]:
    """The map's data when there is nothing to show."""
    return {"data": encode({"type": "FeatureCollection", "features": []}), "shown": 0,
            "clusters": 0, "total": 0}


def map_note(view: dict[str, Any]) -> str:
    """What the map says about its features: how many of the assets are in view, and how
    its clusters work when it shows some."""
    parts = []
    if view["shown"] < view["total"]:
        parts.append(f"{view['shown']:,} of {view['total']:,} located assets in view.")
    if view.get("clusters"):
        parts.append("Numbered circles group nearby assets; click one to zoom in.")
    return " ".join(parts)


def initial_zoom(bounds: Sequence[Sequence[float]] | None, width_pixels: int = 900) -> float:
    """The zoom at which ``bounds`` fit a map about ``width_pixels`` wide (before the
    browser tells the real one)."""
    if not bounds:
        return 2.0
    (south, west), (north, east) = bounds
    x0, y0 = _world_xy(np.array([west]), np.array([north]))
    x1, y1 = _world_xy(np.array([east]), np.array([south]))
    span = max(float(x1[0] - x0[0]), float(y1[0] - y0[0]) * 2, 1e-9)
    return max(0.0, min(float(MAX_ZOOM), math.log2(width_pixels / TILE / span)))


def domain_total(settings: Settings, domain: str) -> int:
    """How many assets ``domain`` has (any district), without reading their states."""

    def compute(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(Asset)
                                .where(Asset.domain == domain)).scalar_one())

    return cached(settings, "domain_total", {"domain": domain}, compute, ("assets",))
