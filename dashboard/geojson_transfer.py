"""GeoJSON sent to the browser's maps: geobuf (base64) when geobuf is installed, else plain
GeoJSON; ``FORMAT`` is what dash-leaflet's ``GeoJSON(format=...)`` must be told."""
from __future__ import annotations

import base64
from typing import Any

try:  # compact transfer of many points; plain GeoJSON when geobuf is missing
    import geobuf
except ImportError:  # pragma: no cover - geobuf is a dependency; this keeps maps working
    geobuf = None

FORMAT = "geobuf" if geobuf is not None else "geojson"


def encode(collection: dict[str, Any]) -> str | dict[str, Any] | None:
    """A FeatureCollection for the browser: geobuf (base64) when available, else plain;
    None for an empty one under geobuf (which cannot encode it; "no data" is empty)."""
    if geobuf is None:
        return collection
    if not collection["features"]:
        return None
    return base64.b64encode(geobuf.encode(collection)).decode("ascii")
