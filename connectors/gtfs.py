"""GTFS static connector: the stops of a GTFS zip as ``GtfsStop`` assets.

``stops.txt``, ``routes.txt``, ``trips.txt`` and ``stop_times.txt`` are streamed from the
zip with the csv module (BOM and extra columns tolerated; all but ``stops.txt`` optional).
Routes and trips are not entities of the model: the short names of the routes serving a
stop are kept in its attributes, from a stop -> route-ids dict built while streaming
``stop_times.txt`` (memory bounded by stops x routes, plus the trip -> route index).
The feed is static: no cursor, a re-run upserts the same rows.

Every member is bounded against zip bombs: its decompressed size, its lines and the length
of each line are counted as it is decompressed (whatever the zip declares). Routes, trips
and stop times are read whole before the first stop goes out, and stops.txt is checked
whole before its rows are used, so a bomb fails the run with a one-line SourceFormatError
and nothing stored. The caps are the ``MAX_*`` constants unless the config sets its own.
"""
from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, NoReturn

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

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

STOP_TYPE = "GtfsStop"
DOMAIN = "mobility"
READ_ERRORS = (zipfile.BadZipFile, zlib.error, csv.Error, UnicodeDecodeError, EOFError,
               NotImplementedError, RuntimeError)
MiB = 1024 * 1024
MAX_MEMBER_BYTES = 512 * MiB
"""Default cap on a member's decompressed size."""
MAX_MEMBER_ROWS = 5_000_000
"""Default cap on a member's rows, counted as lines (a quoted line break counts too)."""
MAX_LINE_BYTES = 1 * MiB
"""Default cap on one line of a member."""
READ_SIZE = 64 * 1024  # bytes decompressed at a time


def stop_urn(feed_id: str, stop_id: str) -> str:
    """The URN of a GTFS stop of a feed."""
    return f"urn:ngsi-ld:{STOP_TYPE}:{feed_id}:{stop_id}"


class GtfsConfig(ConnectorConfig):
    """Where the GTFS zip is and the feed id used in the URNs."""

    location: str = Field(description="path of a GTFS static zip")
    feed_id: str = Field(default="gtfs", min_length=1, pattern=r"^[^\s:]+$",
                         description="feed part of the stop URNs")
    max_member_bytes: int | None = Field(
        default=None, ge=1, description="cap on a member's decompressed bytes "
                                        "(default MAX_MEMBER_BYTES, 512 MiB)")
    max_member_rows: int | None = Field(
        default=None, ge=1, description="cap on a member's rows (default MAX_MEMBER_ROWS, 5M)")
    max_line_bytes: int | None = Field(
        default=None, ge=1024, description="cap on one line (default MAX_LINE_BYTES, 1 MiB)")


@dataclass(frozen=True)
class Caps:
    """The bounds every member must keep: decompressed bytes, rows (lines), line bytes."""

    member_bytes: int
    rows: int
    line_bytes: int

    @classmethod
    def of(cls, config: GtfsConfig | None = None) -> Caps:
        """The config's caps, the module's defaults (read now) for those it does not set."""
        return cls(
            (config and config.max_member_bytes) or MAX_MEMBER_BYTES,
            (config and config.max_member_rows) or MAX_MEMBER_ROWS,
            (config and config.max_line_bytes) or MAX_LINE_BYTES,
        )


def size_text(count: int) -> str:
    """A byte count as people write it: ``512 MiB``, ``64 KiB``, else ``1,000 bytes``."""
    for unit, size in (("MiB", MiB), ("KiB", 1024)):
        if count % size == 0:
            return f"{count // size:,} {unit}"
    return f"{count:,} bytes"


class BoundedMember(io.RawIOBase):
    """A member's bytes as they are decompressed, counted whatever the zip declares:
    SourceFormatError (naming ``where``, e.g. ``feed.zip: stops.txt``) once they pass a cap.
    A line is checked before it is whole, so memory stays bounded by the caps."""

    def __init__(self, raw: IO[bytes], where: str, caps: Caps) -> None:
        super().__init__()
        self.raw, self.where, self.caps = raw, where, caps
        self.size = 0  # bytes so far
        self.lines = 0  # line breaks so far (LF, CRLF or CR)
        self.run = 0  # bytes since the last line break
        self.after_cr = False  # the last chunk ended with CR (its LF may come next)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Decompress at most one line cap's worth, count it, hand it over."""
        view = memoryview(buffer).cast("B")
        data = self.raw.read(min(len(view), READ_SIZE, self.caps.line_bytes))
        self._count(data)
        view[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read (and count) to the end, keeping nothing."""
        while self.read(READ_SIZE):
            pass

    def close(self) -> None:
        self.raw.close()
        super().close()

    def _count(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.caps.member_bytes:
            self._refuse(f"is larger than {size_text(self.caps.member_bytes)} decompressed")
        self._count_line_lengths(data)
        self.lines += _breaks(data) - int(self.after_cr and data.startswith(b"\n"))
        self.after_cr = data.endswith(b"\r")
        if self.lines > self.caps.rows:
            self._refuse(f"has more than {self.caps.rows:,} lines")

    def _count_line_lengths(self, data: bytes) -> None:
        """Check the line this chunk ends (or goes on); lines between two breaks of the
        chunk are shorter than the chunk, which is not longer than the cap."""
        flat = data.replace(b"\r", b"\n") if b"\r" in data else data  # CR, LF or CRLF
        first = flat.find(b"\n")
        if first < 0:
            self.run += len(data)
            self._check_line(self.run, self.lines + 1)
        else:
            self._check_line(self.run + first, self.lines + 1)
            self.run = len(flat) - flat.rfind(b"\n") - 1

    def _check_line(self, length: int, number: int) -> None:
        if length > self.caps.line_bytes:
            self._refuse(f"line {number:,} is longer than {size_text(self.caps.line_bytes)}",
                         sep=": ")

    def _refuse(self, problem: str, sep: str = " ") -> NoReturn:
        raise SourceFormatError(f"{self.where}{sep}{problem}")


def _breaks(data: bytes) -> int:
    """Line breaks in ``data``: LF, CR and CRLF each count once."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def open_member(archive: zipfile.ZipFile, path: str, name: str, caps: Caps) -> BoundedMember:
    """One member, bounded; refused at once when the zip declares it too large."""
    member = archive.getinfo(name)
    where = f"{path}: {name}"
    if member.file_size > caps.member_bytes:
        raise SourceFormatError(
            f"{where} is larger than {size_text(caps.member_bytes)} decompressed")
    return BoundedMember(archive.open(member), where, caps)


def check_member(archive: zipfile.ZipFile, path: str, name: str, caps: Caps) -> None:
    """Decompress a member once, counting, keeping nothing: a bomb in it is found before
    any of its rows is used."""
    with open_member(archive, path, name, caps) as member:
        member.drain()


def _rows(archive: zipfile.ZipFile, path: str, name: str,
          caps: Caps) -> Iterator[dict[str, str]]:
    """The rows of one member as dicts with stripped header names; nothing if absent."""
    if name not in archive.namelist():
        return
    with open_member(archive, path, name, caps) as raw:
        buffered = io.BufferedReader(raw, READ_SIZE)
        text = io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")
        reader = csv.reader(text)
        header = [h.strip() for h in next(reader, [])]
        for values in reader:
            if values:
                yield {h: v.strip() for h, v in zip(header, values, strict=False)}


def read_stops(path: str, caps: Caps | None = None) -> Iterator[dict[str, Any]]:
    """Each stop row of the zip, with ``routes``: the sorted short names serving it.
    Members that break ``caps`` (default: ``Caps.of()``) fail it before any stop."""
    caps = caps or Caps.of()
    try:
        with zipfile.ZipFile(path) as archive:
            if "stops.txt" not in archive.namelist():
                raise_format(path, "no stops.txt in the zip")
            names: dict[str, str] = {}
            for route in _rows(archive, path, "routes.txt", caps):
                route_id = route.get("route_id", "")
                names[route_id] = (route.get("route_short_name")
                                   or route.get("route_long_name") or route_id)
            trip_route = {t.get("trip_id", ""): t.get("route_id", "")
                          for t in _rows(archive, path, "trips.txt", caps)}
            serving: dict[str, set[str]] = {}
            for stop_time in _rows(archive, path, "stop_times.txt", caps):
                served = trip_route.get(stop_time.get("trip_id", ""))
                if served is not None:
                    serving.setdefault(stop_time.get("stop_id", ""), set()).add(served)
            del trip_route
            # The other members are read whole before the first stop goes out; stops.txt
            # is checked whole first, so that no stop of a bomb is ever handed over.
            check_member(archive, path, "stops.txt", caps)
            for stop in _rows(archive, path, "stops.txt", caps):
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
        yield from read_stops(self.config.location, Caps.of(self.config))

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
