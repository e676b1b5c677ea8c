"""GTFS-Realtime connector: trip-update delays on stops, vehicle positions as assets.

``location`` is a file or an http(s) URL of one ``FeedMessage`` (protobuf, parsed with
``gtfs-realtime-bindings``). Trip updates become ``delay`` observations (seconds) on the
``GtfsStop`` assets of the static feed (a minimal stop row goes with each, so a stop the
static feed has not brought yet is not unknown); vehicle positions become ``Vehicle``
assets with a ``speed`` observation when given; alerts are counted and skipped. The
cursor is the entity's timestamp (else the feed's); older entities are skipped.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError
from google.transit import gtfs_realtime_pb2
from pydantic import Field

from connectors.base import (
    CheckResult,
    Connector,
    ConnectorConfig,
    Mapped,
    SourceFormatError,
    Stream,
)
from connectors.common import file_check, get_with_retries, http_check, is_url, one_line
from connectors.gtfs import DOMAIN, STOP_TYPE, stop_urn
from connectors.registry import register

USER_AGENT = "CityLens-GTFS-RT/0.1"
VEHICLE_TYPE = "Vehicle"
SKIPPED_STOPS = frozenset({"SKIPPED", "NO_DATA"})
log = logging.getLogger(__name__)


class GtfsRtConfig(ConnectorConfig):
    """Where the GTFS-Realtime feed is and the feed id used in the URNs."""

    location: str = Field(description="file path or http(s) URL of a GTFS-RT FeedMessage")
    feed_id: str = Field(default="gtfs", min_length=1, pattern=r"^[^\s:]+$",
                         description="feed part of the URNs (the static feed's id)")
    timeout_seconds: float = Field(default=20, gt=0)


def fetch(url: str, timeout: float) -> bytes:
    """GET with retries on connection errors and 429/5xx; ConnectionError after."""
    response = get_with_retries(url, timeout=timeout,
                                headers={"User-Agent": USER_AGENT})
    return response.content


def parse_feed(data: bytes, origin: str) -> gtfs_realtime_pb2.FeedMessage:
    """The FeedMessage of ``data``; SourceFormatError when it is not one (an empty body
    included: every feed has a header with its version, even with no entity)."""
    feed = gtfs_realtime_pb2.FeedMessage()
    try:
        feed.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError, RecursionError, OverflowError) as error:
        raise SourceFormatError(
            f"{origin}: not a GTFS-Realtime FeedMessage: {one_line(error)}") from None
    if not feed.header.gtfs_realtime_version:
        raise SourceFormatError(f"{origin}: not a GTFS-Realtime FeedMessage: "
                                f"{'empty' if not data else 'no header'} "
                                f"({len(data)} bytes)")
    return feed


def records(feed: gtfs_realtime_pb2.FeedMessage, origin: str) -> Iterator[dict[str, Any]]:
    """Each trip update and vehicle position as a JSON-able raw record; alerts counted."""
    stamp = int(feed.header.timestamp) if feed.header.HasField("timestamp") else None
    alerts = 0
    for entity in feed.entity:
        if entity.is_deleted:
            continue
        if entity.HasField("alert"):
            alerts += 1
        for kind in ("trip_update", "vehicle"):
            if entity.HasField(kind):
                body = MessageToDict(getattr(entity, kind), preserving_proto_field_name=True)
                yield {"kind": kind, "id": entity.id, "feed_timestamp": stamp, kind: body}
    if alerts:
        log.info("%s: %d alerts skipped (not mapped yet)", origin, alerts)


def utc_time(value: Any, field: str) -> datetime:
    """POSIX seconds (int or numeric text) as an aware UTC datetime."""
    try:
        seconds = int(value)
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        raise ValueError(f"{field} is not a POSIX time: {str(value)[:40]!r}") from None


def cursor_of(record: Mapping[str, Any]) -> str | None:
    """The record's timestamp (else the feed's) as cursor text; None when neither."""
    body = record.get(record.get("kind", ""), {})
    value = (body.get("timestamp") if isinstance(body, Mapping) else None) or record.get(
        "feed_timestamp")
    if not value:
        return None
    return utc_time(value, "timestamp").strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{field} is not a number: {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{field} is not a number: {str(value)[:40]!r}") from None


def map_trip_update(record: Mapping[str, Any], feed_id: str) -> Mapped:
    """The delays of a trip update as observations on its stops (with minimal stop rows)."""
    update = record.get("trip_update")
    if not isinstance(update, Mapping):
        raise ValueError("trip update is not an object")
    fallback = update.get("timestamp") or record.get("feed_timestamp")
    mapped = Mapped(cursor=cursor_of(record))
    for n, stu in enumerate(update.get("stop_time_update") or []):
        if stu.get("schedule_relationship") in SKIPPED_STOPS:
            continue
        event = next((stu[k] for k in ("arrival", "departure")
                      if isinstance(stu.get(k), Mapping) and "delay" in stu[k]), None)
        if event is None:
            continue  # a time without a delay says nothing about lateness
        stop_id = str(stu.get("stop_id") or "").strip()
        if not stop_id:
            raise ValueError(f"stop_time_update {n} has no stop_id")
        moment = event.get("time") or fallback
        if not moment:
            raise ValueError(f"stop_time_update {n} has no time and the feed no timestamp")
        urn = stop_urn(feed_id, stop_id)[:200]
        mapped.assets.append({"id": urn, "type": STOP_TYPE, "domain": DOMAIN})
        mapped.observations.append({
            "asset_id": urn, "metric": "delay", "unit": "s",
            "time": utc_time(moment, f"stop_time_update {n} time"),
            "value": _number(event["delay"], f"stop_time_update {n} delay")})
    return mapped


def map_vehicle(record: Mapping[str, Any], feed_id: str) -> Mapped:
    """A vehicle position as a ``Vehicle`` asset, and its speed when given."""
    body = record.get("vehicle")
    if not isinstance(body, Mapping):
        raise ValueError("vehicle position is not an object")
    descriptor = body.get("vehicle") or {}
    vehicle_id = str(descriptor.get("id") or record.get("id") or "").strip()
    if not vehicle_id:
        raise ValueError("vehicle position has no vehicle id")
    position = body.get("position")
    if not isinstance(position, Mapping):
        raise ValueError(f"vehicle {vehicle_id} has no position")
    lat = _number(position.get("latitude"), "latitude")
    lon = _number(position.get("longitude"), "longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"vehicle {vehicle_id} position out of range: {lat}, {lon}")
    trip = body.get("trip") or {}
    urn = f"urn:ngsi-ld:{VEHICLE_TYPE}:{feed_id}:{vehicle_id}"[:200]
    mapped = Mapped(cursor=cursor_of(record), assets=[{
        "id": urn, "type": VEHICLE_TYPE, "domain": DOMAIN,
        "name": str(descriptor.get("label") or vehicle_id)[:200], "lat": lat, "lon": lon,
        "status": "ok",
        "attributes": {"trip_id": trip.get("trip_id"), "route_id": trip.get("route_id"),
                       "current_status": body.get("current_status"),
                       "stop_id": body.get("stop_id"), "bearing": position.get("bearing")},
    }])
    if "speed" in position:
        moment = body.get("timestamp") or record.get("feed_timestamp")
        if not moment:
            raise ValueError(f"vehicle {vehicle_id} has a speed but no timestamp")
        mapped.observations.append({
            "asset_id": urn, "metric": "speed", "unit": "m/s",
            "time": utc_time(moment, "vehicle timestamp"),
            "value": _number(position["speed"], "speed")})
    return mapped


class EntitiesStream(Stream):
    """Trip updates and vehicle positions of one FeedMessage, newer than the watermark."""

    name = "entities"
    primary_key = ("id",)
    cursor_field = "timestamp"
    entity = "Observation"

    def __init__(self, config: GtfsRtConfig) -> None:
        self.config = config

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        location = self.config.location
        data = (fetch(location, self.config.timeout_seconds) if is_url(location)
                else Path(location).read_bytes())
        for record in records(parse_feed(data, location), location):
            try:
                cursor = cursor_of(record)
            except ValueError:
                cursor = None  # map() quarantines it with the reason
            if watermark and cursor and cursor <= watermark:
                continue
            yield record

    def map(self, record: Mapping[str, Any]) -> Mapped:
        if not isinstance(record, Mapping):
            raise ValueError(f"record is not an object: {type(record).__name__}")
        try:
            if record.get("kind") == "trip_update":
                return map_trip_update(record, self.config.feed_id)
            if record.get("kind") == "vehicle":
                return map_vehicle(record, self.config.feed_id)
        except (TypeError, AttributeError, KeyError) as error:
            raise ValueError(f"malformed {record.get('kind')}: {one_line(error)}") from None
        raise ValueError(f"unknown record kind {record.get('kind')!r}")


@register
class GtfsRtConnector(Connector):
    """A GTFS-Realtime feed: trip-update delays and vehicle positions."""

    kind: ClassVar[str] = "gtfs-rt"
    config_model: ClassVar[type[ConnectorConfig]] = GtfsRtConfig
    config: GtfsRtConfig

    def check(self) -> CheckResult:
        """The file exists, or the URL answers."""
        location = self.config.location
        if not is_url(location):
            return file_check(location)
        return http_check(location, timeout=self.config.timeout_seconds,
                          headers={"User-Agent": USER_AGENT})

    def streams(self) -> list[Stream]:
        return [EntitiesStream(self.config)]
