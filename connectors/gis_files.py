"""Reading a GIS department's own files: GeoJSON, Shapefiles (plain or zipped) and
GeoPackages, in whatever coordinate system they declare, as WGS84 (geopandas with
pyogrio and pyproj).

The coordinate system comes from ``--crs`` when given, else from the file (a Shapefile's
``.prj``, a GeoPackage layer's SRS, a GeoJSON ``crs`` member). A GeoJSON file with no
``crs`` member is WGS84 (RFC 7946). A file that declares none and whose coordinates
cannot be degrees is refused: its metres would otherwise be taken for degrees.
"""
from __future__ import annotations

import math
import warnings
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError

from connectors.base import SourceFormatError
from connectors.common import load_json, one_line

WGS84 = "EPSG:4326"
GEOJSON_SUFFIXES = (".geojson", ".json")
POLYGONAL = ("Polygon", "MultiPolygon", "Polygon Z", "MultiPolygon Z", "Unknown", "Geometry")


@dataclass(frozen=True)
class GisLayer:
    """A layer read in its own coordinate system (``frame.crs``), with where that came from;
    ``wgs84`` reprojects it."""

    frame: gpd.GeoDataFrame
    source_crs: str  # e.g. "EPSG:25830", as declared or given
    declared: bool  # the file declared it (False: ``--crs`` or the GeoJSON default)

    def wgs84(self, geometries: gpd.GeoSeries | None = None) -> gpd.GeoSeries:
        """``geometries`` (default the layer's own, in its system) in WGS84 lon/lat."""
        series = self.frame.geometry if geometries is None else geometries
        series = gpd.GeoSeries(series, crs=self.frame.crs)
        return series if self.frame.crs.equals(CRS.from_user_input(WGS84)) else \
            series.to_crs(WGS84)


def parse_crs(text: str) -> CRS:
    """A coordinate system from ``EPSG:25830``, ``25830``, a WKT or a PROJ string; a
    SourceFormatError naming the text when pyproj does not know it."""
    try:
        return CRS.from_user_input(int(text) if text.strip().isdigit() else text)
    except CRSError as error:
        raise SourceFormatError(f"--crs {text!r}: not a coordinate system pyproj knows "
                                f"({one_line(error)})") from None


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else crs.name


def _geojson_declares_crs(path: Path) -> bool:
    """Whether a GeoJSON file has a ``crs`` member (GeoJSON 2008); also refuses text that
    is not JSON, in one line, before GDAL reads it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceFormatError(f"{path}: {one_line(error.strerror or error)}") from None
    document = load_json(data, str(path))
    if not isinstance(document, dict) or document.get("type") not in ("FeatureCollection",
                                                                      "Feature"):
        raise SourceFormatError(f"{path}: not a GeoJSON FeatureCollection")
    if document.get("type") == "FeatureCollection" and not isinstance(
            document.get("features"), list):
        raise SourceFormatError(f"{path}: the FeatureCollection has no features list")
    return isinstance(document.get("crs"), dict)


def _dataset(path: Path) -> str:
    """What pyogrio opens: the path, or the Shapefile inside a zip (``/vsizip/``)."""
    if path.suffix.lower() != ".zip":
        return str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            shapefiles = [n for n in archive.namelist()
                          if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
    except zipfile.BadZipFile as error:
        raise SourceFormatError(f"{path}: not a zip file ({one_line(error)})") from None
    if not shapefiles:
        raise SourceFormatError(f"{path}: the zip holds no Shapefile (.shp)")
    if len(shapefiles) > 1:
        raise SourceFormatError(f"{path}: the zip holds {len(shapefiles)} Shapefiles "
                                f"({', '.join(sorted(shapefiles)[:5])}); give one with --layer")
    return f"/vsizip/{path}/{shapefiles[0]}"


def _zip_member(path: Path, layer: str) -> str:
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if Path(name).stem == layer and name.lower().endswith(".shp"):
                return f"/vsizip/{path}/{name}"
    raise SourceFormatError(f"{path}: the zip has no Shapefile named {layer!r}")


def _layer_to_read(dataset: str, path: Path, layer: str | None) -> str | None:
    """The layer to read: the one asked for, the only one, or the only polygon layer."""
    try:
        layers = [(str(n), str(t)) for n, t in pyogrio.list_layers(dataset)]
    except pyogrio.errors.DataSourceError as error:
        raise SourceFormatError(f"{path}: not a GIS file GDAL can read "
                                f"({one_line(error).split(';')[0]})") from None
    names = [n for n, _ in layers]
    if layer is not None:
        if layer not in names:
            raise SourceFormatError(f"{path}: no layer {layer!r}; its layers are "
                                    f"{', '.join(names)}")
        return layer
    if len(layers) <= 1:
        return None
    polygonal = [n for n, kind in layers if kind in POLYGONAL]
    if len(polygonal) == 1:
        return polygonal[0]
    raise SourceFormatError(f"{path}: {len(layers)} layers ({', '.join(names[:8])}); "
                            "choose one with --layer")


def _could_be_degrees(frame: gpd.GeoDataFrame) -> bool:
    located = frame.geometry[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if located.empty:
        return True
    west, south, east, north = located.total_bounds
    return bool(-180.0 <= west and east <= 180.0 and -90.0 <= south and north <= 90.0)


def read_gis_layer(location: str, *, layer: str | None = None,
                   crs: str | None = None) -> GisLayer:
    """The features of a GeoJSON, Shapefile (plain or zipped) or GeoPackage layer, in its
    own coordinate system, known: ``crs`` ("EPSG:25830") overrides what the file declares.
    One-line
    SourceFormatError for a missing or unreadable file, an unknown layer or system, or
    undeclared coordinates that cannot be degrees."""
    path = Path(location)
    if not path.exists():
        raise SourceFormatError(f"{path}: no such file")
    given = parse_crs(crs) if crs else None
    geojson_crs = (_geojson_declares_crs(path)
                   if path.suffix.lower() in GEOJSON_SUFFIXES else None)
    if path.suffix.lower() == ".zip" and layer is not None:
        dataset, chosen = _zip_member(path, layer), None
    else:
        dataset = _dataset(path)
        chosen = _layer_to_read(dataset, path, layer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on field types
            frame = pyogrio.read_dataframe(dataset, layer=chosen)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise SourceFormatError(f"{path}: {one_line(error).split(';')[0]}") from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise SourceFormatError(f"{path}: the layer has no geometry")
    declared = frame.crs if geojson_crs is not False else None  # GDAL says 4326 for none
    if given is not None:
        source = given
    elif declared is not None:
        source = CRS.from_user_input(declared)
    elif _could_be_degrees(frame):
        source = CRS.from_user_input(WGS84)
    else:
        west, south, east, north = frame.geometry.total_bounds
        raise SourceFormatError(
            f"{path}: coordinates reach ({west:.0f}, {south:.0f})-({east:.0f}, {north:.0f}), "
            "which cannot be degrees, and the file declares no coordinate system; "
            "give it with --crs EPSG:NNNN (25830 is ETRS89 / UTM zone 30N)")
    frame = frame.set_crs(source, allow_override=True)
    return GisLayer(frame, _crs_name(source), given is None and declared is not None)


def plain_value(value: Any) -> Any:
    """A property value as JSON can hold it: numpy scalars as Python numbers, missing
    values (NaN, NaT, None) as None, dates and times as ISO text."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value
