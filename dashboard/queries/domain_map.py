"""The domain page's map layers, ready for the browser and cached as such: the assets cut
to the most urgent ``MAP_POINT_LIMIT``, clustered above ``CLUSTER_ABOVE``, geobuf-encoded
(base64) once per data version, so a cached page is served without re-encoding 15,000
streetlights on every view."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from dashboard.geojson_transfer import encode
from dashboard.model import Asset
from dashboard.queries.base import cached
from dashboard.queries.domain import asset_features, domain_assets, domain_scopes
from dashboard.settings import Settings

MAP_POINT_LIMIT = 3000  # never more points than this to the browser
CLUSTER_ABOVE = 400  # cluster the points when there are more than this


def map_features(collection: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The collection cut to ``MAP_POINT_LIMIT`` points (most urgent kept, and last so they
    are drawn on top) and how many were left off (features come most urgent first)."""
    features = collection["features"]
    kept = features[:MAP_POINT_LIMIT][::-1]  # drawn in order: the most urgent on top
    return {"type": "FeatureCollection", "features": kept}, len(features) - len(kept)


def layer_payload(collection: dict[str, Any]) -> dict[str, Any]:
    """``{"points", "clusters", "note"}``: the data of the map's plain and clustered layers
    (one of them empty) and what the map says about them."""
    shown, left_off = map_features(collection)
    note = (f"Showing the {len(shown['features']):,} most urgent of "
            f"{len(collection['features']):,} assets; choose a district to narrow the map."
            if left_off else "")
    empty = encode({"type": "FeatureCollection", "features": []})
    if len(shown["features"]) > CLUSTER_ABOVE:
        return {"points": empty, "clusters": encode(shown),
                "note": note or "Numbered circles group nearby assets; click one to zoom in."}
    return {"points": encode(shown), "clusters": empty, "note": note}


def domain_layers(settings: Settings, domain: str, district: str | None) -> dict[str, Any]:
    """The map layers of ``domain`` (optionally one district), encoded, cached like
    ``domain_assets`` (per hour and until the domain's data changes)."""
    fresh = settings.model_copy(update={"cache_stale_seconds": 0})

    def compute(_: Connection) -> dict[str, Any]:
        data = domain_assets(fresh, domain, district)
        return layer_payload(asset_features(data["assets"], domain))

    hour = int(settings.current_time().timestamp()) // 3600
    return cached(settings, "domain_layers", {"domain": domain, "district": district,
                                              "hour": hour}, compute,
                  domain_scopes(domain))


def domain_total(settings: Settings, domain: str) -> int:
    """How many assets ``domain`` has (any district), without reading their states."""

    def compute(conn: Connection) -> int:
        return int(conn.execute(select(func.count()).select_from(Asset)
                                .where(Asset.domain == domain)).scalar_one())

    return cached(settings, "domain_total", {"domain": domain}, compute, ("assets",))
