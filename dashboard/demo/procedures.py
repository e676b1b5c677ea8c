"""Legacy e-government cases and citizen participation, day by day.

Like service requests, each UTC day's records come from that day's stream alone, with ids
``EXP-``/``PAR-<year>-<day of year><nnn>``; a case is open when it had not closed by the end.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from dashboard.demo.citizens import Citizens
from dashboard.demo.clock import DAY, HOUR, Context, bumps, rng
from dashboard.demo.config import CityConfig
from dashboard.demo.geography import District
from dashboard.demo.requests import MAX_PER_DAY, stamp

OFFICE_DAYS = np.array([1.0, 1.0, 1.0, 1.0, 0.9, 0.25, 0.1])
LEISURE_DAYS = np.array([0.9, 0.9, 1.0, 1.0, 0.9, 1.2, 1.1])


def _pick(gen: np.random.Generator, names: list[str], weights: np.ndarray, n: int) -> np.ndarray:
    cumulative = np.cumsum(weights) / np.sum(weights)
    return np.array(names, dtype=object)[
        np.minimum(np.searchsorted(cumulative, gen.random(n)), len(names) - 1)
    ]


def _times(gen: np.random.Generator, hour: np.ndarray, weights: np.ndarray, times: np.ndarray,
           n: int) -> np.ndarray:
    cumulative = np.cumsum(weights) / weights.sum()
    slot = np.minimum(np.searchsorted(cumulative, gen.random(n)), hour.size - 1)
    return times[slot] + (gen.random(n) * HOUR).astype(np.int64)


def day_cases(config: CityConfig, districts: list[District], citizens: Citizens, ctx: Context,
              rate: float, day: int, start: int, end: int) -> list[dict[str, Any]]:
    """Cases (permit, tax, registration, benefit) opened on UTC day ``day`` in [start, end)."""
    gen = rng(ctx.seed, "cases", day)
    clock = ctx.clock(day, 1, HOUR)
    n = min(int(gen.poisson(rate * OFFICE_DAYS[clock.weekday[12]])), MAX_PER_DAY)
    if n == 0:
        return []
    kinds = config.cases
    shares = np.array([k.share for k in kinds])
    kind = np.searchsorted(np.cumsum(shares) / shares.sum(), gen.random(n))
    kind = np.minimum(kind, len(kinds) - 1)
    who = citizens.pick_any(gen, n)
    office = bumps(clock.hour, [(10.5, 1.8, 1.0)]) * ((clock.hour >= 8) & (clock.hour < 15))
    online = bumps(clock.hour, [(11.0, 3.0, 1.0), (19.0, 3.0, 0.7)], 0.03)
    opened_office = _times(gen, clock.hour, office + 1e-9, clock.times, n)
    opened_online = _times(gen, clock.hour, online, clock.times, n)
    channel_draw = gen.random(n)
    lengths = gen.standard_normal(n)
    rejected = gen.random(n)
    rows: list[dict[str, Any]] = []
    order = np.argsort(opened_online, kind="stable")
    for k, i in enumerate(order):
        spec = kinds[kind[i]]
        names = list(spec.channels)
        cumulative = np.cumsum([spec.channels[c] for c in names])
        channel = names[min(int(np.searchsorted(cumulative / cumulative[-1], channel_draw[i])),
                            len(names) - 1)]
        opened = int(opened_online[i] if channel == "web" else opened_office[i])
        if not start <= opened < end:
            continue
        closed = opened + int(spec.median_days * DAY * np.exp(spec.spread * lengths[i]))
        done = closed < end
        outcome = "rejected" if rejected[i] < spec.rejected else "resolved"
        date = stamp(day * DAY)
        rows.append({
            "id": f"EXP-{date.year}-{date.timetuple().tm_yday:03d}{k + 1:03d}",
            "citizen_id": citizens.ids[who[i]],
            "kind": spec.kind,
            "department": spec.department,
            "status": outcome if done else "open",
            "channel": channel,
            "district_id": districts[int(citizens.district[who[i]])].id,
            "opened_at": stamp(opened),
            "closed_at": stamp(closed) if done else None,
        })
    return rows


def day_participation(config: CityConfig, districts: list[District], citizens: Citizens,
                      ctx: Context, rate: float, day: int, start: int,
                      end: int) -> list[dict[str, Any]]:
    """Survey answers, forum posts, consultation votes and event sign-ups of one UTC day."""
    gen = rng(ctx.seed, "participation", day)
    clock = ctx.clock(day, 1, HOUR)
    n = min(int(gen.poisson(rate * LEISURE_DAYS[clock.weekday[12]])), MAX_PER_DAY)
    if n == 0:
        return []
    spec = config.participation
    kind_names = list(spec["kinds"])
    kind = _pick(gen, kind_names, np.array([spec["kinds"][k] for k in kind_names], float), n)
    channel_names = list(spec["channels"])
    channel = _pick(gen, channel_names, np.array([spec["channels"][c] for c in channel_names]), n)
    topic_draw = gen.integers(0, 1000, n)
    when = _times(gen, clock.hour, bumps(clock.hour, [(12.0, 3.0, 0.7), (20.0, 2.5, 1.0)], 0.02),
                  clock.times, n)
    who = citizens.pick_any(gen, n)
    rows: list[dict[str, Any]] = []
    for k, i in enumerate(np.argsort(when, kind="stable")):
        if not start <= when[i] < end:
            continue
        topics = spec["topics"][kind[i]]
        date = stamp(day * DAY)
        rows.append({
            "id": f"PAR-{date.year}-{date.timetuple().tm_yday:03d}{k + 1:03d}",
            "citizen_id": citizens.ids[who[i]],
            "kind": str(kind[i]),
            "topic": topics[topic_draw[i] % len(topics)],
            "channel": str(channel[i]),
            "district_id": districts[int(citizens.district[who[i]])].id,
            "time": stamp(when[i]),
        })
    return rows
