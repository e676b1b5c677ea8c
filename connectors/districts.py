"""``districts``: a GeoJSON FeatureCollection of (Multi)Polygons -> districts.

After a load every located asset and service request is assigned again (see
``dashboard.store.reassign``), so the map, KPIs and rollups follow the new boundaries.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape

from connectors.base import CheckResult, Connector, ConnectorConfig, Mapped, SourceFormatError
from connectors.base import Stream as BaseStream
from connectors.common import load_json, one_line
from connectors.registry import register
from dashboard.geo import area_km2


class DistrictsConfig(ConnectorConfig):
    location: str
    name_field: str = "name"
    id_field: str | None = None
    population_field: str | None = None
    id_prefix: str = ""


def slug(text: str) -> str:
    """ASCII, lower-case, dash-separated (``"Fuencarral-El Pardo"`` -> ``fuencarral-el-pardo``)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


class DistrictStream(BaseStream):
    name = "districts"
    primary_key = ("id",)
    cursor_field = None
    entity = "District"

    def __init__(self, config: DistrictsConfig) -> None:
        self.config = config

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        path = Path(self.config.location)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise SourceFormatError(f"{path}: no such file") from error
        except UnicodeDecodeError as error:
            raise SourceFormatError(f"{path}: not valid JSON: {one_line(error)}") from error
        document = load_json(text, str(path))
        if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
            raise SourceFormatError(f"{path}: not a GeoJSON FeatureCollection")
        features = document.get("features")
        if not isinstance(features, list):
            raise SourceFormatError(f"{path}: the FeatureCollection has no features list")
        yield from features

    def map(self, record: Mapping[str, Any]) -> Mapped:
        properties = record.get("properties") or {}
        name = properties.get(self.config.name_field)
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"feature has no name in property {self.config.name_field!r}")
        raw_id = properties.get(self.config.id_field) if self.config.id_field else None
        own_id = str(raw_id) if raw_id not in (None, "") else slug(name)
        district_id = self.config.id_prefix + own_id
        geojson = record.get("geometry")
        if geojson is None:
            raise ValueError(f"district {name!r}: no geometry")
        try:
            geometry = shape(geojson)
        except (AttributeError, TypeError, ValueError, KeyError) as error:
            raise ValueError(f"district {name!r}: unreadable geometry ({error})") from error
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
            raise ValueError(f"district {name!r}: geometry is {geometry.geom_type}, not a polygon")
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        field = self.config.population_field
        population = properties.get(field) if field else 0
        try:
            population = int(population or 0)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"district {name!r}: population {population!r} is not a number"
            ) from error
        centroid = geometry.representative_point()
        return Mapped(districts=[{
            "id": district_id, "name": name.strip(), "geometry": mapping(geometry),
            "population": population, "area_km2": round(area_km2(geometry), 3),
            "centroid_lat": centroid.y, "centroid_lon": centroid.x,
        }])


@register
class DistrictsConnector(Connector):
    """Districts from a GeoJSON file."""

    kind = "districts"
    config_model = DistrictsConfig

    def check(self) -> CheckResult:
        path = Path(self.config.location)
        return CheckResult(path.is_file(), "" if path.is_file() else f"{path}: no such file")

    def streams(self) -> list[BaseStream]:
        return [DistrictStream(self.config)]
