"""The demo city's parameters, read from ``data/demo_city.yaml`` into frozen dataclasses."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from dashboard.model import DOMAINS
from dashboard.settings import DATA_DIR

CONFIG_FILE = DATA_DIR / "demo_city.yaml"


@dataclass(frozen=True)
class DistrictSpec:
    """A district: its Voronoi seed, population, profile factors and streets."""

    name: str
    seed: tuple[float, float]  # lon, lat
    population: int
    profile: Mapping[str, float]
    streets: tuple[str, ...]

    def factor(self, name: str) -> float:
        """A profile factor (1.0 when not given; ``age`` defaults to 0)."""
        return float(self.profile.get(name, 0.0 if name == "age" else 1.0))


@dataclass(frozen=True)
class AssetCount:
    """How many assets of a type a scale has, and how many of them report readings."""

    count: int
    telemetry: int


@dataclass(frozen=True)
class Scale:
    """One size of demo city."""

    name: str
    days: int
    citizens: int
    requests_per_day: float
    cases_per_day: float
    participation_per_day: float
    assets: Mapping[str, AssetCount]


@dataclass(frozen=True)
class AssetType:
    """A FIWARE type: domain, value model, interval, metrics and units, clustering, outages."""

    type: str
    domain: str
    model: str
    label: str
    interval_minutes: int
    metrics: Mapping[str, str]
    prefer: Mapping[str, float]
    outage_rate: float
    outage_median_hours: float


@dataclass(frozen=True)
class ServiceSpec:
    """An Open311 service with its department, SLA and request behaviour."""

    code: str
    name: str
    department: str
    group: str
    domain: str
    sla_hours: float
    share: float
    resolve: float
    spread: float
    prefer: Mapping[str, float]
    season_peak: int
    season_amplitude: float
    descriptions: tuple[str, ...]
    night: bool = False  # requested mostly at night (noise complaints)


@dataclass(frozen=True)
class CaseKind:
    """A kind of e-government procedure."""

    kind: str
    department: str
    share: float
    median_days: float
    spread: float
    rejected: float
    channels: Mapping[str, float]


@dataclass(frozen=True)
class RouteSpec:
    """A bus route: its id (the short name riders know), long name, colour, how much its
    headways stretch, and its path (lon, lat points)."""

    id: str
    name: str
    color: str
    every: float
    path: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class TransitSpec:
    """The bus company and its timetable: routes, speed, headways (from a local minute of
    the day on, minutes between departures) and the last departure (a local minute)."""

    agency: Mapping[str, str]
    speed_kmh: float
    dwell_seconds: int
    headways: tuple[tuple[int, int], ...]
    last_departure: int
    layover_minutes: int
    routes: tuple[RouteSpec, ...]


@dataclass(frozen=True)
class CityConfig:
    """Everything the generator needs to know about the demo city."""

    name: str
    slug: str
    centre: tuple[float, float]
    source_id: str
    email_domains: tuple[str, ...]
    landline_prefix: str
    water_litres_per_resident_day: float
    land: tuple[tuple[float, float], ...]
    districts: tuple[DistrictSpec, ...]
    scales: Mapping[str, Scale]
    asset_types: Mapping[str, AssetType]
    buildings: tuple[Mapping[str, Any], ...]
    services: tuple[ServiceSpec, ...]
    channels: Mapping[str, Any]
    citizens: Mapping[str, Any]
    cases: tuple[CaseKind, ...]
    participation: Mapping[str, Any]
    places: Mapping[str, tuple[float, float]]
    status_notes: Mapping[str, tuple[str, ...]]
    notices: tuple[Mapping[str, Any], ...] = field(default=())
    transit: TransitSpec | None = None


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def _scale(name: str, raw: Mapping[str, Any]) -> Scale:
    assets: dict[str, AssetCount] = {}
    for type_name, spec in raw["assets"].items():
        if isinstance(spec, Mapping):
            count = int(spec["count"])
            assets[type_name] = AssetCount(count, int(spec.get("telemetry", count)))
        else:
            assets[type_name] = AssetCount(int(spec), int(spec))
    return Scale(
        name=name,
        days=int(raw["days"]),
        citizens=int(raw["citizens"]),
        requests_per_day=float(raw["requests_per_day"]),
        cases_per_day=float(raw["cases_per_day"]),
        participation_per_day=float(raw["participation_per_day"]),
        assets=_frozen(assets),
    )


def _asset_type(name: str, raw: Mapping[str, Any]) -> AssetType:
    if raw["domain"] not in DOMAINS:
        raise ValueError(f"asset type {name}: unknown domain {raw['domain']!r}")
    outage = raw.get("outage", {})
    return AssetType(
        type=name,
        domain=raw["domain"],
        model=raw["model"],
        label=raw.get("label", name),
        interval_minutes=int(raw.get("interval_minutes", 60)),
        metrics=_frozen(raw["metrics"]),
        prefer=_frozen(raw.get("prefer")),
        outage_rate=float(outage.get("rate", 0.0)),
        outage_median_hours=float(outage.get("median_hours", 6.0)),
    )


def _service(raw: Mapping[str, Any], descriptions: Mapping[str, list[str]]) -> ServiceSpec:
    if raw["domain"] not in DOMAINS:
        raise ValueError(f"service {raw['code']}: unknown domain {raw['domain']!r}")
    season = raw.get("season", {})
    return ServiceSpec(
        code=raw["code"],
        name=raw["name"],
        department=raw["department"],
        group=raw.get("group", ""),
        domain=raw["domain"],
        sla_hours=float(raw["sla_hours"]),
        share=float(raw["share"]),
        resolve=float(raw.get("resolve", 0.7)),
        spread=float(raw.get("spread", 0.7)),
        prefer=_frozen(raw.get("prefer")),
        season_peak=int(season.get("peak", 1)),
        season_amplitude=float(season.get("amplitude", 0.0)),
        descriptions=tuple(descriptions.get(raw["code"], [raw["name"]])),
        night=raw.get("hours") == "night",
    )


def _minute(text: str) -> int:
    hours, minutes = str(text).split(":")
    return int(hours) * 60 + int(minutes)


def _transit(raw: Mapping[str, Any] | None, points: Mapping[str, tuple[float, float]]
             ) -> TransitSpec | None:
    """The buses, with each route's ``via`` resolved to points (a district's seed, a place,
    or [lon, lat])."""
    if not raw:
        return None

    def point(via: Any) -> tuple[float, float]:
        if isinstance(via, str):
            if via not in points:
                raise ValueError(f"transit: unknown district or place {via!r}")
            return points[via]
        return float(via[0]), float(via[1])

    return TransitSpec(
        agency=_frozen(raw["agency"]), speed_kmh=float(raw["speed_kmh"]),
        dwell_seconds=int(raw.get("dwell_seconds", 20)),
        headways=tuple((_minute(start), int(minutes)) for start, minutes in raw["headways"]),
        last_departure=_minute(raw["last_departure"]),
        layover_minutes=int(raw.get("layover_minutes", 5)),
        routes=tuple(RouteSpec(str(r["id"]), r["name"], str(r.get("color", "")),
                               float(r.get("every", 1.0)), tuple(point(v) for v in r["via"]))
                     for r in raw["routes"]),
    )


def parse_config(raw: Mapping[str, Any]) -> CityConfig:
    """Build a :class:`CityConfig` from the parsed YAML document."""
    city = raw["city"]
    districts = tuple(
        DistrictSpec(
            name=d["name"],
            seed=(float(d["seed"][0]), float(d["seed"][1])),
            population=int(d["population"]),
            profile=_frozen(d.get("profile")),
            streets=tuple(d["streets"]),
        )
        for d in raw["districts"]
    )
    places = {p["name"]: (float(p["at"][0]), float(p["at"][1])) for p in raw["places"]}
    return CityConfig(
        name=city["name"],
        slug=city["slug"],
        centre=(float(city["centre"][0]), float(city["centre"][1])),
        source_id=city.get("source_id", "demo"),
        email_domains=tuple(city["email_domains"]),
        landline_prefix=str(city.get("landline_prefix", "942")),
        water_litres_per_resident_day=float(city.get("water_litres_per_resident_day", 130)),
        land=tuple((float(x), float(y)) for x, y in raw["land"]),
        districts=districts,
        scales=_frozen({n: _scale(n, s) for n, s in raw["scales"].items()}),
        asset_types=_frozen({n: _asset_type(n, t) for n, t in raw["asset_types"].items()}),
        buildings=tuple(_frozen(b) for b in raw.get("buildings", [])),
        services=tuple(_service(s, raw.get("descriptions", {})) for s in raw["services"]),
        channels=_frozen(raw["channels"]),
        citizens=_frozen(raw["citizens"]),
        cases=tuple(
            CaseKind(c["kind"], c["department"], float(c["share"]), float(c["median_days"]),
                     float(c["spread"]), float(c["rejected"]), _frozen(c["channels"]))
            for c in raw["cases"]
        ),
        participation=_frozen(raw["participation"]),
        places=_frozen(places),
        status_notes=_frozen({k: tuple(v) for k, v in raw.get("status_notes", {}).items()}),
        notices=tuple(_frozen(n) for n in raw.get("notices", [])),
        transit=_transit(raw.get("transit"), {**{d.name: d.seed for d in districts}, **places}),
    )


@lru_cache(maxsize=4)
def load_config(path: Path = CONFIG_FILE) -> CityConfig:
    """Read and parse the demo city file (cached per path; the result is immutable)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        return parse_config(yaml.load(handle, Loader=loader))  # noqa: S506 - a safe loader
