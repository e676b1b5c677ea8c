"""Open311 service requests: the catalogue, and each day's requests with their fate.

Requests of a UTC day come from that day's stream alone; whether one is still open depends
only on the generation's end. Ids are ``SR-<year>-<day of year><nnn>``, stable across runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from dashboard.demo.citizens import Citizens
from dashboard.demo.clock import DAY, HOUR, Clock, Context, bumps, rng
from dashboard.demo.config import CityConfig, ServiceSpec
from dashboard.demo.geography import District, district_points

WEEKDAY_FACTOR = np.array([1.25, 1.1, 1.05, 1.05, 1.0, 0.7, 0.6])
MAX_PER_DAY = 999


def service_rows(config: CityConfig) -> list[dict[str, Any]]:
    """Rows for the ``services`` table (the Open311 catalogue)."""
    return [
        {"service_code": s.code, "service_name": s.name,
         "description": f"{s.name} ({s.group}); lo atiende {s.department}.",
         "department": s.department, "group": s.group, "domain": s.domain,
         "sla_hours": s.sla_hours, "online": True}
        for s in config.services
    ]


@dataclass(frozen=True)
class Catalogue:
    """Services with their share of requests and where they tend to be requested."""

    services: tuple[ServiceSpec, ...]
    shares: np.ndarray
    district_p: np.ndarray  # (services, districts)


def build_catalogue(config: CityConfig) -> Catalogue:
    """Precompute shares and per-service district probabilities."""
    shares = np.array([s.share for s in config.services])
    population = np.array([d.population for d in config.districts], dtype=float)
    weights = np.array([
        [population[j] * float(s.prefer.get(d.name, 1.0)) for j, d in enumerate(config.districts)]
        for s in config.services
    ])
    return Catalogue(config.services, shares / shares.sum(), weights / weights.sum(axis=1)[:, None])


def stamp(epoch: float | int) -> datetime:
    """An aware UTC datetime from epoch seconds."""
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc)


def _hour_weights(clock: Clock, night: bool) -> np.ndarray:
    if night:
        weights = bumps(clock.hour, [(0.5, 2.5, 1.0)], 0.03)
    else:
        weights = bumps(clock.hour, [(10.5, 2.5, 1.0), (17.5, 2.5, 0.7)], 0.06)
    shares: np.ndarray = weights / weights.sum()
    return shares


def channel_choice(config: CityConfig, gen: np.random.Generator, age: np.ndarray,
                   digital: np.ndarray) -> np.ndarray:
    """A channel per request: base shares tilted by age (NaN: anonymous) and district."""
    spec = config.channels
    names = list(spec["base"])
    logits = np.log(np.array([spec["base"][c] for c in names]))[None, :].repeat(age.size, 0)
    years = np.nan_to_num((age - 45.0) / 20.0)
    logits += years[:, None] * np.array([spec["age_tilt"].get(c, 0.0) for c in names])[None, :]
    logits += (digital - 1.0)[:, None] * np.array([spec["digital_tilt"].get(c, 0.0) for c in names])
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    picks = (gen.random(age.size)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    channels: np.ndarray = np.array(names, dtype=object)[np.minimum(picks, len(names) - 1)]
    return channels


def day_requests(config: CityConfig, catalogue: Catalogue, districts: list[District],
                 citizens: Citizens, ctx: Context, rate: float, day: int,
                 start: int, end: int) -> list[dict[str, Any]]:
    """Service requests filed on UTC day ``day`` that fall in [start, end)."""
    gen = rng(ctx.seed, "requests", day)
    clock = ctx.clock(day, 1, HOUR)
    month = float(clock.month[12])
    season = np.array([1 + s.season_amplitude * np.cos(2 * np.pi * (month - s.season_peak) / 12)
                       for s in catalogue.services])
    expected = rate * WEEKDAY_FACTOR[clock.weekday[12]] * catalogue.shares * season
    counts = gen.poisson(expected)
    service = np.repeat(np.arange(len(catalogue.services)), counts)[:MAX_PER_DAY]
    n = service.size
    if n == 0:
        return []
    draws = gen.random((n, 6))
    district = (draws[:, :1] > np.cumsum(catalogue.district_p[service], axis=1)).sum(axis=1)
    district = np.minimum(district, len(districts) - 1)
    night = np.array([catalogue.services[s].night for s in service])
    hour = np.where(night,
                    np.searchsorted(np.cumsum(_hour_weights(clock, True)), draws[:, 1]),
                    np.searchsorted(np.cumsum(_hour_weights(clock, False)), draws[:, 1]))
    requested = clock.times[np.minimum(hour, 23)] + (draws[:, 2] * HOUR).astype(np.int64)
    anonymous = draws[:, 3] < float(config.channels["anonymous_share"])
    who = citizens.pick(gen, district, float(config.citizens["home_district"]))
    date = stamp(day * DAY)
    age = np.where(anonymous, np.nan, date.year - citizens.birth_year[who])
    digital = np.array([config.districts[d].factor("digital") for d in district])
    channel = channel_choice(config, gen, age, digital)
    xy = district_points(districts, district, gen)
    speed = np.array([config.districts[d].factor("speed") for d in district])
    sla = np.array([catalogue.services[s].sla_hours for s in service])
    resolve = np.array([catalogue.services[s].resolve for s in service])
    spread = np.array([catalogue.services[s].spread for s in service])
    hours = sla * resolve * speed**2 * np.exp(spread * gen.standard_normal(n))
    hours *= np.where(draws[:, 4] < 0.03, 8.0, 1.0)  # a backlog of forgotten requests
    closed = requested + np.maximum(hours * HOUR, 600).astype(np.int64)
    template = gen.integers(0, 1000, n)
    street = gen.integers(0, 1000, n)
    number = gen.integers(1, 120, n)
    note = gen.integers(0, 1000, n)
    touched = draws[:, 5]
    order = np.argsort(requested, kind="stable")
    rows = []
    for k, i in enumerate(order):
        if not start <= requested[i] < end:
            continue
        spec = catalogue.services[service[i]]
        d = config.districts[district[i]]
        road = d.streets[street[i] % len(d.streets)]
        is_closed = closed[i] < end
        updated = closed[i] if is_closed else requested[i] + int(touched[i] * (end - requested[i]))
        notes = config.status_notes.get("closed" if is_closed else "open", ("",))
        rows.append({
            "id": f"SR-{date.year}-{date.timetuple().tm_yday:03d}{k + 1:03d}",
            "service_code": spec.code,
            "service_name": spec.name,
            "department": spec.department,
            "description": spec.descriptions[template[i] % len(spec.descriptions)].format(
                street=road, num=number[i]),
            "status": "closed" if is_closed else "open",
            "status_notes": notes[note[i] % len(notes)],
            "channel": str(channel[i]),
            "requested_at": stamp(requested[i]),
            "updated_at": stamp(updated),
            "closed_at": stamp(closed[i]) if is_closed else None,
            "expected_at": stamp(requested[i] + int(spec.sla_hours * HOUR)),
            "lat": float(xy[i, 1]),
            "lon": float(xy[i, 0]),
            "address": f"{road} {number[i]}, {config.name}",
            "district_id": districts[district[i]].id,
            "citizen_id": None if anonymous[i] else citizens.ids[who[i]],
            "source_id": config.source_id,
        })
    return rows
