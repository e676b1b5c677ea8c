"""GTFS static connector: the stops of a GTFS zip as ``GtfsStop`` assets.

``stops.txt``, ``routes.txt``, ``trips.txt`` and ``stop_times.txt`` are streamed from the
zip with the csv module (BOM and extra columns tolerated; all but ``stops.txt`` optional).
Routes and trips are not entities of the model: the short names of the routes serving a
stop are kept in its attributes, from a stop -> route-ids dict built while streaming
``stop_times.txt`` (memory bounded by stops x routes, plus the trip -> route index).
The feed is static: no cursor, a re-run upserts the same rows.
"""
from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    Mapped,
    SourceFormatError,
    Stream,
)
from connectors.common import one_line
from connectors.registry import register

STOP_TYPE = "GtfsStop"
DOMAIN = "mobility"
READ_ERRORS = (zipfile.BadZipFile, zlib.error, csv.Error, UnicodeDecodeError, EOFError,
               NotImplementedError, RuntimeError)


def stop_urn(feed_id: str, stop_id: str) -> str:
    """The URN of a GTFS stop of a feed."""
    return f"urn:ngsi-ld:{STOP_TYPE}:{feed_id}:{stop_id}"


class GtfsConfig(ConnectorConfig):
    """Where the GTFS zip is and the feed id used in the URNs."""

    location: str = Field(description="path of a GTFS static zip")
    feed_id: str = Field(default="gtfs", min_length=1, pattern=r"^[^\s:]+$",
                         description="feed part of the stop URNs")


def _rows(archive: zipfile.ZipFile, name: str) -> Iterator[dict[str, str]]:
    """The rows of one member as dicts with stripped header names; nothing if absent."""
    try:
        member = archive.getinfo(name)
    except KeyError:
        return
    with archive.open(member) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        header = [h.strip() for h in next(reader, [])]
        for values in reader:
            if values:
                yield {h: v.strip() for h, v in zip(header, values, strict=False)}


def read_stops(path: str) -> Iterator[dict[str, Any]]:
    """Each stop row of the zip, with ``routes``: the sorted short names serving it."""
    try:
        with zipfile.ZipFile(path) as archive:
            if "stops.txt" not in archive.namelist():
                raise_format(path, "no stops.txt in the zip")
            names: dict[str, str] = {}
            for route in _rows(archive, "routes.txt"):
                route_id = route.get("route_id", "")
                names[route_id] = (route.get("route_short_name")
                                   or route.get("route_long_name") or route_id)
            trip_route = {t.get("trip_id", ""): t.get("route_id", "")
                          for t in _rows(archive, "trips.txt")}
            serving: dict[str, set[str]] = {}
            for stop_time in _rows(archive, "stop_times.txt"):
                served = trip_route.get(stop_time.get("trip_id", ""))
                if served is not None:
                    serving.setdefault(stop_time.get("stop_id", ""), set()).add(served)
            del trip_route
            for stop in _rows(archive, "stops.txt"):
                routes = serving.get(stop.get("stop_id", ""), set())
                yield {**stop, "routes": sorted({names.get(r, r) for r in routes})}
    except READ_ERRORS as error:
        raise_format(path, f"{type(error).__name__}: {one_line(error)}")


def raise_format(path: str, problem: str) -> None:
    """Raise the one-line SourceFormatError naming the zip."""
    raise SourceFormatError(f"{path}: not a readable GTFS zip: {problem}")


def _coordinate(record: Mapping[str, Any], field: str, limit: float) -> float:
    value = record.get(field)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{field} is not a number: {str(value)[:40]!r}") from None
    if not -limit <= number <= limit:  # also refuses NaN
        raise ValueError(f"{field} out of range: {str(value)[:40]!r}")
    return number


def map_stop(record: Mapping[str, Any], feed_id: str) -> Mapped:
    """One stop row as a ``GtfsStop`` asset; ValueError when it has no id or position."""
    if not isinstance(record, Mapping):
        raise ValueError(f"stop is not a row: {type(record).__name__}")
    stop_id = str(record.get("stop_id") or "").strip()
    if not stop_id:
        raise ValueError("stop has no stop_id")
    routes = record.get("routes") or []
    return Mapped(assets=[{
        "id": stop_urn(feed_id, stop_id)[:200], "type": STOP_TYPE, "domain": DOMAIN,
        "name": str(record.get("stop_name") or stop_id)[:200],
        "lat": _coordinate(record, "stop_lat", 90), "lon": _coordinate(record, "stop_lon", 180),
        "status": "ok",
        "attributes": {
            "stop_id": stop_id,
            "stop_code": record.get("stop_code") or None,
            "wheelchair_boarding": record.get("wheelchair_boarding") or None,
            "parent_station": record.get("parent_station") or None,
            "routes": [str(r) for r in routes] if isinstance(routes, list) else [],
        },
    }])


class StopsStream(Stream):
    """The stops of the feed, read whole each run."""

    name = "stops"
    primary_key = ("stop_id",)
    cursor_field = None
    entity = "Asset"

    def __init__(self, config: GtfsConfig) -> None:
        self.config = config

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        yield from read_stops(self.config.location)

    def map(self, record: Mapping[str, Any]) -> Mapped:
        return map_stop(record, self.config.feed_id)


@register
class GtfsConnector(Connector):
    """A GTFS static feed (zip): its stops, with the routes serving them."""

    kind: ClassVar[str] = "gtfs"
    config_model: ClassVar[type[ConnectorConfig]] = GtfsConfig
    config: GtfsConfig

    def check(self) -> CheckResult:
        """The zip exists and lists stops.txt."""
        location = self.config.location
        if not Path(location).is_file():
            return CheckResult(False, f"{location}: no such file")
        try:
            with zipfile.ZipFile(location) as archive:
                found = "stops.txt" in archive.namelist()
        except (zipfile.BadZipFile, OSError) as error:
            return CheckResult(False, f"{location}: {one_line(error)}")
        return CheckResult(found, f"{location}: {'stops.txt found' if found else 'no stops.txt'}")

    def streams(self) -> list[Stream]:
        return [StopsStream(self.config)]
