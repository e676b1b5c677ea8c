"""``districts``: district boundaries from the GIS department's own files -> districts.

Reads GeoJSON, Shapefiles (plain or zipped) and GeoPackage layers in any coordinate system
(``connectors.gis_files``), as WGS84. Areas are measured in an equal-area projection;
invalid rings are repaired, or the district is quarantined with the reason when repairing
leaves no area. A district may name its parent area (a municipality or borough), from a
property (``parent_field``) or for the whole file (``municipality``); then its id is the
parent's slug and its own (``getafe-centro``), so several municipalities' districts live
side by side.

After a load every located asset and service request is assigned again (see
``dashboard.store.reassign``), so the map, KPIs and rollups follow the new boundaries.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from shapely.geometry import mapping, shape

from connectors.base import CheckResult, Connector, ConnectorConfig, Mapped
from connectors.base import Stream as BaseStream
from connectors.gis_files import plain_value, read_gis_layer
from connectors.registry import register
from dashboard.district_shapes import area_km2, areas_km2, polygonal_part, repaired

EXTRA = "citylens"  # what reading found, kept beside each feature (and in quarantine)


class DistrictsConfig(ConnectorConfig):
    location: str
    name_field: str = "name"
    id_field: str | None = None
    population_field: str | None = None
    id_prefix: str = ""
    layer: str | None = None  # a GeoPackage's layer, or a Shapefile in a zip
    crs: str | None = None  # "EPSG:25830": the file's coordinate system, over what it says
    parent_field: str | None = None  # property naming each district's municipality
    municipality: str | None = None  # the municipality of every district in the file


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
        layer = read_gis_layer(self.config.location, layer=self.config.layer,
                               crs=self.config.crs)
        frame = layer.frame
        # Rings are repaired where the GIS drew them, in the file's own system: a ring
        # folded onto a straight line there bends into a sliver once reprojected.
        flat = shapely.force_2d(frame.geometry.to_numpy())  # heights (Polygon Z) are dropped
        checked = [repaired(g) if _present(g) else (None, None) for g in flat]
        kept = gpd.GeoSeries([fixed if fixed is not None else original
                              for (fixed, _), original in zip(checked, flat, strict=True)],
                             crs=frame.crs)
        lonlat = layer.wgs84(kept)
        areas = areas_km2(lonlat)
        columns = [c for c in frame.columns if c != frame.geometry.name]
        for position, geometry in enumerate(lonlat):
            row = frame.iloc[position]
            fixed, problem = checked[position]
            extra: dict[str, Any] = {"crs": layer.source_crs}
            if fixed is None and problem:
                extra["problem"] = problem
            else:
                extra["area_km2"] = round(float(areas[position]), 3)
                if problem:
                    extra["repaired"] = problem
            yield {
                "type": "Feature",
                "properties": {c: plain_value(row[c]) for c in columns},
                "geometry": mapping(geometry) if _present(geometry) else None,
                EXTRA: extra,
            }

    def map(self, record: Mapping[str, Any]) -> Mapped:
        properties = record.get("properties") or {}
        name = properties.get(self.config.name_field)
        if isinstance(name, (int, float)) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"feature has no name in property {self.config.name_field!r}")
        name = name.strip()
        municipality = self._municipality(properties)
        raw_id = properties.get(self.config.id_field) if self.config.id_field else None
        own_id = str(raw_id) if raw_id not in (None, "") else slug(name)
        parent = f"{slug(municipality)}-" if municipality and not self.config.id_prefix else ""
        district_id = self.config.id_prefix + parent + own_id
        geojson = record.get("geometry")
        if geojson is None:
            raise ValueError(f"district {name!r}: no geometry")
        try:
            geometry = shape(geojson)
        except (AttributeError, TypeError, ValueError, KeyError) as error:
            raise ValueError(f"district {name!r}: unreadable geometry ({error})") from error
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
            raise ValueError(f"district {name!r}: geometry is {geometry.geom_type}, not a polygon")
        extra = record.get(EXTRA) or {}
        if extra.get("problem"):
            raise ValueError(f"district {name!r}: {extra['problem']}")
        fixed, problem = repaired(geometry)
        if fixed is None:
            raise ValueError(f"district {name!r}: {problem}")
        geometry = polygonal_part(fixed) or fixed
        population = self._population(name, properties)
        area = extra.get("area_km2") if problem is None else None
        if area is None:
            area = round(area_km2(geometry), 3)
        centroid = geometry.representative_point()
        return Mapped(districts=[{
            "id": district_id, "name": name, "geometry": mapping(geometry),
            "population": population, "area_km2": area,
            "centroid_lat": centroid.y, "centroid_lon": centroid.x,
            "municipality_id": slug(municipality) if municipality else None,
            "municipality_name": municipality,
        }])

    def _municipality(self, properties: Mapping[str, Any]) -> str | None:
        if self.config.municipality:
            return self.config.municipality.strip()
        if not self.config.parent_field:
            return None
        parent = properties.get(self.config.parent_field)
        if isinstance(parent, (int, float)) and not isinstance(parent, bool):
            parent = str(parent)
        if not isinstance(parent, str) or not parent.strip():
            raise ValueError(f"feature has no parent area in property "
                             f"{self.config.parent_field!r}")
        return parent.strip()

    def _population(self, name: str, properties: Mapping[str, Any]) -> int:
        field = self.config.population_field
        population = properties.get(field) if field else 0
        try:
            return int(population or 0)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"district {name!r}: population {population!r} is not a number"
            ) from error


def _present(geometry: Any) -> bool:
    return geometry is not None and not geometry.is_empty


@register
class DistrictsConnector(Connector):
    """Districts from a GeoJSON, Shapefile or GeoPackage file."""

    kind = "districts"
    config_model = DistrictsConfig

    def check(self) -> CheckResult:
        path = Path(self.config.location)
        return CheckResult(path.is_file(), "" if path.is_file() else f"{path}: no such file")

    def streams(self) -> list[BaseStream]:
        return [DistrictStream(self.config)]
