"""The demo city's buses as the bus company publishes them: a GTFS static feed (zip).

The stops are the scale's ``GtfsStop`` assets: :func:`route_layout` spreads them evenly
along the routes of ``data/demo_city.yaml`` (``transit``) that a city of that many stops
runs, the first ones listed, one for every three stops. Every route runs both ways every
day, from the first headway's time to the last departure; a trip's times follow the
distance between its stops; each trip has the bus that runs it (its ``block_id``, a bus
starting back from where its last trip ended). :func:`read_timetable` reads a feed back,
for the realtime feeds (``dashboard.demo.transit_live``). Deterministic: no random draw.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from shapely.geometry import LineString

from dashboard.demo.config import CityConfig, RouteSpec, TransitSpec

if TYPE_CHECKING:
    from dashboard.demo.assets import AssetGroup

STOPS_PER_ROUTE = 3  # a city runs one route for every this many stops
ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # every member's date: the same feed, the same bytes
BUS = 3  # GTFS route_type


@dataclass(frozen=True)
class Trip:
    """One run of a bus along a route: its stops in order and the scheduled time at each,
    in seconds after the service day's local midnight."""

    trip_id: str
    route_id: str
    direction: int
    block_id: str
    stops: tuple[str, ...]
    times: tuple[int, ...]


@dataclass(frozen=True)
class Timetable:
    """What the realtime feeds need of a GTFS feed: stop positions and trips."""

    stops: dict[str, tuple[float, float]]  # stop_id -> (lon, lat)
    trips: tuple[Trip, ...]


def _spec(config: CityConfig) -> TransitSpec:
    if config.transit is None:
        raise ValueError("the demo city has no transit section")
    return config.transit


def _apportion(total: int, weights: np.ndarray, least: int = 2) -> np.ndarray:
    """``total`` split in proportion to ``weights`` (largest remainders), at least ``least``
    each where there are enough."""
    base = np.full(len(weights), min(least, total // len(weights)), dtype=int)
    rest = total - int(base.sum())
    ideal = rest * weights / weights.sum()
    extra = np.floor(ideal).astype(int)
    order = np.argsort(-(ideal - extra), kind="stable")
    extra[order[: rest - int(extra.sum())]] += 1
    counts: np.ndarray = base + extra
    return counts


def route_layout(config: CityConfig, n: int) -> tuple[list[RouteSpec], list[np.ndarray],
                                                      np.ndarray]:
    """The routes a city of ``n`` stops runs, each route's stops (indices, in the order of
    its path: stops are numbered route by route) and every stop's (lon, lat), evenly spaced
    along its route, rounded to 6 decimals (about 0.1 m)."""
    spec = _spec(config)
    routes = list(spec.routes[: min(len(spec.routes), max(1, n // STOPS_PER_ROUTE))])
    lines = [LineString(route.path) for route in routes]
    counts = _apportion(n, np.array([line.length for line in lines]))
    members, points, start = [], [], 0
    for line, count in zip(lines, counts, strict=True):
        for k in range(count):
            point = line.interpolate((k + 0.5) / count, normalized=True)
            points.append((point.x, point.y))
        members.append(np.arange(start, start + count))
        start += count
    return routes, members, np.round(np.array(points, dtype=float).reshape(-1, 2), 6)


def metres(a: Sequence[float], b: Sequence[float]) -> float:
    """Distance in metres between two (lon, lat) points close to each other."""
    dx = (b[0] - a[0]) * 111_320 * np.cos(np.radians((a[1] + b[1]) / 2))
    return float(np.hypot(dx, (b[1] - a[1]) * 110_540))


def stop_id(urn: str) -> str:
    """A stop's id in the feed: the number its asset URN ends with."""
    return urn.rsplit(":", 1)[-1]


def _departures(spec: TransitSpec, every: float) -> list[int]:
    """A route's departures from each end (minutes after local midnight)."""
    found, minute = [], spec.headways[0][0]
    while minute <= spec.last_departure:
        found.append(minute)
        headway = next(h for start, h in reversed(spec.headways) if start <= minute)
        minute += max(1, round(headway * every))
    return found


def _times(spec: TransitSpec, xy: np.ndarray) -> list[int]:
    """Seconds from a trip's first stop to each of its stops (to 10 s)."""
    speed = spec.speed_kmh / 3.6
    elapsed, times = 0.0, [0]
    for a, b in zip(xy[:-1], xy[1:], strict=True):
        elapsed += metres(a, b) / speed + spec.dwell_seconds
        times.append(int(round(elapsed / 10) * 10))
    return times


@dataclass
class _Bus:
    number: int
    free_from: int  # seconds after midnight
    at: str  # the stop where its last trip ended


def _blocks(trips: list[Trip], layover: int) -> list[Trip]:
    """The route's trips with the bus that runs each: the first bus waiting at the trip's
    first stop since its last trip ended (plus the layover), else a new one."""
    fleet: list[_Bus] = []
    done = []
    for trip in sorted(trips, key=lambda t: (t.times[0], t.direction)):
        bus = next((b for b in fleet if b.at == trip.stops[0] and b.free_from <= trip.times[0]),
                   None)
        if bus is None:
            bus = _Bus(len(fleet) + 1, 0, trip.stops[0])
            fleet.append(bus)
        bus.free_from, bus.at = trip.times[-1] + layover, trip.stops[-1]
        done.append(Trip(trip.trip_id, trip.route_id, trip.direction,
                         f"{trip.route_id}-{bus.number:02d}", trip.stops, trip.times))
    return done


def timetable(config: CityConfig, group: AssetGroup) -> tuple[list[RouteSpec], Timetable]:
    """The routes and every day's trips of the stops of ``group`` (the GtfsStop assets,
    placed by :func:`route_layout`)."""
    spec = _spec(config)
    routes, members, _xy = route_layout(config, group.size)
    xy = np.column_stack([group.lon, group.lat])
    ids = [stop_id(urn) for urn in group.ids]
    trips: list[Trip] = []
    for route, served in zip(routes, members, strict=True):
        runs = []
        for direction, order in enumerate((served, served[::-1])):
            offsets = _times(spec, xy[order])
            for minute in _departures(spec, route.every):
                runs.append(Trip(f"{route.id}_{direction}_{minute // 60:02d}{minute % 60:02d}",
                                 route.id, direction, "", tuple(ids[i] for i in order),
                                 tuple(minute * 60 + t for t in offsets)))
        trips += _blocks(runs, spec.layover_minutes * 60)
    stops = {ids[i]: (float(xy[i, 0]), float(xy[i, 1])) for i in range(group.size)}
    return routes, Timetable(stops, tuple(trips))


def clock_text(seconds: int) -> str:
    """Seconds after a service day's start as GTFS writes times: ``HH:MM:SS``."""
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def write_gtfs(path: Path, config: CityConfig, group: AssetGroup, tz: str, first: date,
               last: date) -> Timetable:
    """The bus company's GTFS zip (local times in ``tz``), its service running every day
    from ``first`` to ``last``; returns its timetable."""
    spec = _spec(config)
    routes, table = timetable(config, group)
    agency = spec.agency
    names = {stop_id(urn): f"{street} {int(num)}"
             for urn, street, num in zip(group.ids, group.streets, group.params["num"],
                                         strict=True)}
    ends = {(r.id, d): end.strip() for r in routes
            for d, end in enumerate(reversed(r.name.split("–", 1)))}
    members = {
        "agency.txt": _table(["agency_id", "agency_name", "agency_url", "agency_timezone",
                              "agency_lang"], [[agency["id"], agency["name"], agency["url"], tz,
                                                agency.get("lang", "")]]),
        "stops.txt": _table(["stop_id", "stop_code", "stop_name", "stop_lat", "stop_lon",
                             "wheelchair_boarding"],
                            [[i, str(int(i)), names[i], f"{lat:.6f}", f"{lon:.6f}", 1]
                             for i, (lon, lat) in table.stops.items()]),
        "routes.txt": _table(["route_id", "agency_id", "route_short_name", "route_long_name",
                              "route_type", "route_color", "route_text_color"],
                             [[r.id, agency["id"], r.id, r.name, BUS, r.color, "FFFFFF"]
                              for r in routes]),
        "calendar.txt": _table(["service_id", "monday", "tuesday", "wednesday", "thursday",
                                "friday", "saturday", "sunday", "start_date", "end_date"],
                               [["daily", *[1] * 7, f"{first:%Y%m%d}", f"{last:%Y%m%d}"]]),
        "trips.txt": _table(["route_id", "service_id", "trip_id", "trip_headsign",
                             "direction_id", "block_id"],
                            [[t.route_id, "daily", t.trip_id, ends[(t.route_id, t.direction)],
                              t.direction, t.block_id] for t in table.trips]),
        "stop_times.txt": _table(["trip_id", "arrival_time", "departure_time", "stop_id",
                                  "stop_sequence"],
                                 [[t.trip_id, clock_text(s), clock_text(s), stop, n + 1]
                                  for t in table.trips
                                  for n, (stop, s) in enumerate(zip(t.stops, t.times,
                                                                    strict=True))]),
        "feed_info.txt": _table(["feed_publisher_name", "feed_publisher_url", "feed_lang",
                                 "feed_start_date", "feed_end_date"],
                                [[agency["name"], agency["url"], agency.get("lang", ""),
                                  f"{first:%Y%m%d}", f"{last:%Y%m%d}"]]),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, ZIP_TIME), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return table


def _rows(archive: zipfile.ZipFile, name: str) -> Iterable[dict[str, str]]:
    with archive.open(name) as raw:
        yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig"))


def _seconds(clock: str) -> int:
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return hours * 3600 + minutes * 60 + seconds


def read_timetable(path: Path) -> Timetable:
    """The stops and trips of a GTFS zip as :func:`write_gtfs` writes them."""
    with zipfile.ZipFile(path) as archive:
        stops = {row["stop_id"]: (float(row["stop_lon"]), float(row["stop_lat"]))
                 for row in _rows(archive, "stops.txt")}
        calls: dict[str, list[tuple[int, str, int]]] = {}
        for row in _rows(archive, "stop_times.txt"):
            calls.setdefault(row["trip_id"], []).append(
                (int(row["stop_sequence"]), row["stop_id"], _seconds(row["arrival_time"])))
        trips = []
        for row in _rows(archive, "trips.txt"):
            ordered = sorted(calls.get(row["trip_id"], []))
            trips.append(Trip(row["trip_id"], row["route_id"], int(row["direction_id"]),
                              row["block_id"], tuple(c[1] for c in ordered),
                              tuple(c[2] for c in ordered)))
    return Timetable(stops, tuple(trips))
