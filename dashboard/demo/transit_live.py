"""The demo city's buses at a moment, as GTFS-Realtime feeds (protobuf FeedMessages):
VehiclePositions (where each running bus is, its trip, speed and next stop) and
TripUpdates (how late it was at each stop passed in the last hour).

Each trip of the timetable (``dashboard.demo.transit``) runs late by an amount drawn from
a stream keyed by the seed, the trip and the day, growing along the trip, more at rush
hours and on weekdays: the same (seed, moment) gives the same feeds, and a bus keeps its
delays from one moment to the next. A bus reports its position a few seconds before the
feed is built; nothing in the feeds lies after the moment (no predictions).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from google.transit import gtfs_realtime_pb2 as rt
from sqlalchemy import Engine

from dashboard.demo.clock import rng
from dashboard.demo.config import load_config
from dashboard.demo.geography import District, assign_districts, build_districts
from dashboard.demo.transit import Timetable, Trip, clock_text, metres, read_timetable
from dashboard.store.version import get_meta

HISTORY = 3600  # seconds: the stops a trip update reports, passed this long ago at most
ROUND_TIMES = 900  # the delay history's readings lie on these; a passed stop never does


@dataclass(frozen=True)
class Realtime:
    """The two feeds at a moment, and what they hold."""

    vehicle_positions: bytes
    trip_updates: bytes
    vehicles: int  # buses running
    readings: int  # observations they bring: stop delays, and the speed of moving buses


@dataclass(frozen=True)
class _Run:
    """A trip running at the moment: its actual times (epoch seconds) and delays."""

    trip: Trip
    day: date
    actual: np.ndarray
    delays: np.ndarray


def service_start(day: date, zone: ZoneInfo) -> datetime:
    """Where a GTFS service day's times count from: noon minus 12 hours, local."""
    return datetime.combine(day, time(12), zone) - timedelta(hours=12)


def _rush(hour: float) -> float:
    """How much traffic slows buses at a local hour: 0 at night, about 1 at the peaks."""
    return float(np.exp(-((hour - 8.25) / 1.1) ** 2) + 0.7 * np.exp(-((hour - 14.25) / 1.2) ** 2)
                 + 0.9 * np.exp(-((hour - 19.0) / 1.4) ** 2))


def _run(trip: Trip, day: date, zone: ZoneInfo, seed: int) -> _Run:
    """The trip on ``day``: late by a keyed draw that grows along it."""
    start = service_start(day, zone)
    gen = rng(seed, "transit-rt", trip.trip_id, day.toordinal())
    weekday = 1.0 if day.weekday() < 5 else 0.5
    scheduled = np.array(trip.times, dtype=float)
    along = (scheduled - scheduled[0]) / max(1.0, scheduled[-1] - scheduled[0])
    first = gen.normal(20, 40)
    growth = max(-30.0, gen.normal(60 + 240 * weekday * _rush(trip.times[0] / 3600), 60))
    delays = np.round(np.clip(first + growth * along, -60, None))
    actual = np.maximum.accumulate(int(start.timestamp()) + scheduled + delays)
    return _Run(trip, day, actual.astype(np.int64), delays.astype(np.int64))


def _running(table: Timetable, moment: datetime, zone: ZoneInfo, seed: int) -> list[_Run]:
    """Every trip under way at ``moment`` (of its service day or the day before)."""
    now = int(moment.timestamp())
    local = moment.astimezone(zone).date()
    found = []
    for day in (local - timedelta(days=1), local):
        base = int(service_start(day, zone).timestamp())
        for trip in table.trips:
            if base + trip.times[0] - 600 <= now <= base + trip.times[-1] + 3600:
                run = _run(trip, day, zone, seed)
                if run.actual[0] <= now <= run.actual[-1]:
                    found.append(run)
    return found


def _position(run: _Run, table: Timetable, at: int,
              districts: list[District]) -> tuple[float, float, int, float, float]:
    """(lon, lat, index of the next stop, speed m/s, bearing) of the bus at ``at``: on the
    straight line between the stops it is between, or at the last one it passed where
    that line leaves the districts."""
    nxt = int(np.searchsorted(run.actual, at, side="right"))
    if nxt >= len(run.actual):
        lon, lat = table.stops[run.trip.stops[-1]]
        return lon, lat, len(run.actual) - 1, 0.0, 0.0
    prev = max(0, nxt - 1)
    a, b = table.stops[run.trip.stops[prev]], table.stops[run.trip.stops[nxt]]
    span = max(1, int(run.actual[nxt] - run.actual[prev]))
    share = min(1.0, max(0.0, (at - int(run.actual[prev])) / span))
    lon, lat = a[0] + share * (b[0] - a[0]), a[1] + share * (b[1] - a[1])
    sent = [float(str(np.float32(v))) for v in (lon, lat)]  # as the feed carries them
    if assign_districts(districts, np.array(sent[:1]), np.array(sent[1:]))[0] < 0:
        lon, lat = a
    bearing = math.degrees(math.atan2((b[0] - a[0]) * math.cos(math.radians(a[1])),
                                      b[1] - a[1])) % 360
    return lon, lat, nxt, round(metres(a, b) / span, 1), round(bearing)


FEEDS = ("vehicle_positions", "trip_updates")  # the realtime feeds' file names (.pb)


@dataclass(frozen=True)
class Buses:
    """A generated demo's buses, for their realtime feeds at any moment (the live demo):
    its timetable read back from its GTFS zip, its seed, districts and feed id."""

    table: Timetable
    seed: int
    tz: str
    districts: list[District]
    feed_id: str

    @classmethod
    def of_demo(cls, engine: Engine, feeds: Path, tz: str) -> Buses | None:
        """The buses of the demo in the store behind ``engine`` whose feeds are in
        ``feeds``; None when it has no bus feed."""
        gtfs = feeds / "transit" / "gtfs.zip"
        if not gtfs.is_file():
            return None
        with engine.connect() as conn:
            facts = json.loads(get_meta(conn, "demo") or "{}")
        config = load_config()
        return cls(read_timetable(gtfs), int(facts.get("seed", 0)), tz,
                   build_districts(config), config.slug)

    def write(self, folder: Path, moment: datetime, lag: tuple[int, int] = (5, 40)
              ) -> Realtime:
        """The feeds at ``moment``, written into ``folder`` (:func:`write_realtime`)."""
        return write_realtime(folder, self.table, moment, self.seed, self.tz, self.districts,
                              lag)


def write_realtime(folder: Path, table: Timetable, moment: datetime, seed: int, tz: str,
                   districts: list[District], lag: tuple[int, int] = (5, 40)) -> Realtime:
    """:func:`realtime` written as ``<folder>/vehicle_positions.pb`` and ``trip_updates.pb``."""
    now = realtime(table, moment, seed, tz, districts, lag)
    for name, data in zip(FEEDS, (now.vehicle_positions, now.trip_updates), strict=True):
        (folder / f"{name}.pb").write_bytes(data)
    return now


def realtime(table: Timetable, moment: datetime, seed: int, tz: str,
             districts: list[District], lag: tuple[int, int] = (5, 40)) -> Realtime:
    """VehiclePositions and TripUpdates of the buses running at ``moment``; each bus last
    reported ``lag`` seconds before (from the first, up to the second)."""
    zone = ZoneInfo(tz)
    now = int(moment.timestamp())
    positions, updates = _feed(now), _feed(now)
    readings = 0
    for run in sorted(_running(table, moment, zone, seed), key=lambda r: r.trip.trip_id):
        trip = run.trip
        seen = now - int(rng(seed, "transit-rt-seen", trip.trip_id, now).integers(*lag))
        if seen < run.actual[0]:
            continue  # it has not reported since it left
        lon, lat, nxt, speed, bearing = _position(run, table, seen, districts)
        entity = positions.entity.add(id=trip.block_id)
        vehicle = entity.vehicle
        _describe(vehicle.trip, run)
        vehicle.vehicle.id = trip.block_id
        vehicle.vehicle.label = f"Bus {trip.block_id}"
        vehicle.position.latitude, vehicle.position.longitude = lat, lon
        vehicle.position.bearing, vehicle.position.speed = bearing, speed
        vehicle.current_stop_sequence, vehicle.stop_id = nxt + 1, trip.stops[nxt]
        vehicle.current_status = (rt.VehiclePosition.STOPPED_AT if speed == 0
                                  else rt.VehiclePosition.IN_TRANSIT_TO)
        vehicle.timestamp = seen
        readings += speed > 0  # a speed of 0 is left out of the message, as proto3 does
        passed = [i for i, when in enumerate(run.actual) if now - HISTORY <= when <= seen]
        if not passed:
            continue
        update = updates.entity.add(id=trip.trip_id).trip_update
        _describe(update.trip, run)
        update.vehicle.id = trip.block_id
        update.timestamp = seen
        update.delay = int(run.delays[passed[-1]])
        for i in passed:
            stop = update.stop_time_update.add(stop_sequence=i + 1, stop_id=trip.stops[i])
            when = int(run.actual[i])
            stop.arrival.delay = int(run.delays[i])
            stop.arrival.time = when + 1 if when % ROUND_TIMES == 0 else when
        readings += len(passed)
    return Realtime(positions.SerializeToString(), updates.SerializeToString(),
                    len(positions.entity), readings)


def _feed(now: int) -> rt.FeedMessage:
    feed = rt.FeedMessage()
    feed.header.gtfs_realtime_version = "2.0"
    feed.header.incrementality = rt.FeedHeader.FULL_DATASET
    feed.header.timestamp = now
    return feed


def _describe(descriptor: rt.TripDescriptor, run: _Run) -> None:
    descriptor.trip_id, descriptor.route_id = run.trip.trip_id, run.trip.route_id
    descriptor.direction_id = run.trip.direction
    descriptor.start_date = f"{run.day:%Y%m%d}"
    descriptor.start_time = clock_text(run.trip.times[0])
    descriptor.schedule_relationship = rt.TripDescriptor.SCHEDULED

