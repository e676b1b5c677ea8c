"""Value models of utilities: waste containers, water, street lighting, buildings, SOS posts.

Same contract as :mod:`dashboard.demo.models_street`. Processes with memory (containers
filling up between collections, broken lamps awaiting repair) look back a fixed number of
days, drawn from per-day streams, so any day's values do not depend on the range asked for.
"""
from __future__ import annotations

import numpy as np

from dashboard.demo.assets import AssetGroup
from dashboard.demo.clock import (
    DAY,
    HOUR,
    Clock,
    Context,
    bumps,
    daily_noise,
    periodic_events,
    rng,
    solar_elevation,
    weather,
)
from dashboard.demo.models_street import summer

Values = dict[str, np.ndarray]
WASTE_LOOKBACK_DAYS = 8
LAMP_LOOKBACK_DAYS = 20
LAMP_FAILURES_PER_DAY = 0.003
WATER_WORKDAY = ([(7.5, 1.2, 1.0), (14.5, 1.5, 0.55), (21.0, 1.8, 0.85)], 0.12)
WATER_WEEKEND = ([(10.0, 1.8, 1.0), (14.5, 1.5, 0.65), (21.5, 1.8, 0.8)], 0.15)


def waste(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Filling level: rises with daytime activity, emptied on collection nights (some missed)."""
    if clock.step != HOUR:
        raise ValueError("the waste model reads hourly")
    n = group.telemetry
    window = ctx.clock(clock.day0 - WASTE_LOOKBACK_DAYS, clock.days + WASTE_LOOKBACK_DAYS, HOUR)
    activity = bumps(window.hour, [(10.0, 2.5, 1.0), (15.0, 2.0, 0.8), (20.5, 1.5, 1.0)], 0.08)
    activity /= activity.reshape(-1, 24).sum(axis=1).mean()
    busy = np.where(window.weekday >= 5, 1.2, np.where(window.weekday == 0, 1.05, 1.0))
    daily = np.concatenate([
        rng(ctx.seed, "waste:day", window.day0 + d).lognormal(0, 0.25, (n, 1)).repeat(24, axis=1)
        for d in range(window.days)
    ], axis=1)
    increments = group.param("rate") * activity * busy * daily * (
        1 + 0.3 * (group.param("tourism") - 1) * summer(window))
    day = window.day_index()
    utc_hour = (window.times % DAY) // HOUR
    missed = np.concatenate([
        np.repeat((rng(ctx.seed, "waste:miss", window.day0 + d).random((n, 1)) < 0.04), 24, axis=1)
        for d in range(window.days)
    ], axis=1)
    collect = ((day[None, :] + group.param("phase")) % group.param("period") == 0)
    collect &= (utc_hour[None, :] == group.param("pickup_hour")) & ~missed
    index = np.arange(window.times.size)
    last_reset = np.maximum.accumulate(np.where(collect, index[None, :], -1), axis=1)
    target = index[WASTE_LOOKBACK_DAYS * 24:]
    floor = (day[target] - clock.day0) * 24 - 1  # look back at most 8 days from each day
    start = np.maximum(last_reset[:, target], floor[None, :])
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(increments, axis=1)], axis=1)
    level = cumulative[:, target + 1] - np.take_along_axis(cumulative, start + 1, axis=1)
    level += 0.015 * daily_noise(ctx.seed, "waste:sensor", clock, n)
    return {"fillingLevel": np.round(np.clip(level, 0, 1), 3)}


def water_quality(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Turbidity (with rain and rare spikes), pH and conductivity of the supply network."""
    n = group.telemetry
    rain = np.clip(weather(clock.times, ctx.seed, "rain"), 0, None)[None, :]
    noise = daily_noise(ctx.seed, "water_quality:noise", clock, 3 * n).reshape(3, n, -1)
    turbidity = 0.25 + 0.12 * rain + 0.05 * np.abs(noise[0]) + 0.05 * (group.param("offset") + 2)
    conductivity = 430 + 45 * group.param("offset") + 25 * clock.season[None, :]
    conductivity = conductivity + 4 * noise[2] - 30 * rain
    for station, start, end, magnitude in periodic_events(ctx.seed, "turbidity-spike", clock, 7, n):
        inside = (clock.times >= start) & (clock.times < min(end, start + 18 * HOUR))
        if inside.any():
            bell = np.sin(np.pi * (clock.times[inside] - start) / (18 * HOUR)) ** 2
            turbidity[station, inside] += (4 + 16 * magnitude) * bell
            conductivity[station, inside] -= 60 * bell
    ph = 7.55 + 0.12 * group.param("offset") + 0.08 * weather(clock.times, ctx.seed, "ph")[None, :]
    ph += 0.03 * np.sin(2 * np.pi * clock.hour / 24)[None, :] + 0.02 * noise[1]
    return {"turbidity": np.round(turbidity, 2), "pH": np.round(ph, 2),
            "conductivity": np.round(conductivity, 0)}


def water_use(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Cubic metres per hour: morning and evening peaks, later on weekends, leaks."""
    n = group.telemetry
    hour = clock.hour
    day = np.arange(24) + 0.5  # each profile is scaled to average 1 over a day
    workday = bumps(hour, *WATER_WORKDAY) / bumps(day, *WATER_WORKDAY).mean()
    weekend = bumps(hour, *WATER_WEEKEND) / bumps(day, *WATER_WEEKEND).mean()
    shape = np.where(clock.weekend, weekend, workday)[None, :]
    heat = 1 + 0.12 * summer(clock)[None, :] * group.param("tourism")
    noise = np.exp(0.15 * daily_noise(ctx.seed, "water_use:noise", clock, n))
    use = group.param("base") * shape * heat * noise
    for meter, start, _end, magnitude in periodic_events(ctx.seed, "water-leak", clock, 10, n):
        leak_end = start + int((2 + 3 * magnitude) * DAY)
        inside = (clock.times >= start) & (clock.times < leak_end)
        use[meter, inside] += (0.08 + 0.2 * magnitude) * group.params["base"][meter]
    return {"consumption": np.round(use, 3)}


def lamp_broken(seed: int, n: int, times: np.ndarray) -> np.ndarray:
    """True where a lamp is out (failed and not yet repaired), shape (n, len(times))."""
    broken = np.zeros((n, times.size), dtype=bool)
    if n == 0 or times.size == 0:
        return broken
    first, last = int(times.min()) // DAY, int(times.max()) // DAY
    for day in range(first - LAMP_LOOKBACK_DAYS, last + 1):
        gen = rng(seed, "Streetlight:failure", day)
        fails = gen.random(n) < LAMP_FAILURES_PER_DAY
        at = day * DAY + gen.uniform(0, DAY, n)
        repair = np.minimum(gen.lognormal(np.log(6), 0.6, n) * DAY, LAMP_LOOKBACK_DAYS * DAY)
        for i in np.flatnonzero(fails):
            broken[i] |= (times >= at[i]) & (times < at[i] + repair[i])
    return broken


def streetlight(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Average power over the hour: on between dusk and dawn, dimmed after midnight."""
    n = group.telemetry
    offsets = np.arange(clock.step // 8, clock.step, clock.step // 4)  # 4 samples per step
    sun = solar_elevation(clock.times[None, :] + offsets[:, None], ctx.lon, ctx.lat)
    on = (sun[None, :, :] < group.param("threshold")[:, :, None]).mean(axis=1)
    dim = np.where(clock.hour < 6, 0.6, 1.0)[None, :]
    power = group.param("lamp_power") * on * dim
    power *= 1 + 0.02 * daily_noise(ctx.seed, "streetlight:noise", clock, n)
    power[lamp_broken(ctx.seed, group.size, clock.times)[:n]] = 0.0
    return {"powerConsumption": np.round(power, 1)}


def building_energy(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Kilowatts drawn by public buildings: opening hours, heating in winter, standby."""
    n = group.telemetry
    kinds = group.params["kind"][:n].astype(int)
    power = np.zeros((n, clock.times.size))
    cold = np.clip(clock.season + 0.3 * weather(clock.times, ctx.seed, "cold"), 0, None)
    for kind, building in enumerate(ctx.buildings):
        rows = np.flatnonzero(kinds == kind)
        if rows.size == 0:
            continue
        opens, closes = building["open"]
        is_open = (clock.hour >= opens) & (clock.hour < closes)
        is_open &= np.isin(clock.weekday, building["days"])
        is_open &= ~np.isin(clock.month, building.get("closed_months", []))
        low, high = building["peak_kw"]
        peak = low + (high - low) * group.params["peak"][rows][:, None]
        ramp = bumps(clock.hour, [((opens + closes) / 2, (closes - opens) / 2.5, 1.0)])
        power[rows] = peak * (0.15 + is_open * (0.45 + 0.4 * ramp + 0.25 * cold))[None, :]
    power *= np.exp(0.05 * daily_noise(ctx.seed, "energy:noise", clock, n))
    return {"activePower": np.round(power, 2)}


def sos_post(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Battery of solar-charged SOS posts: slow discharge cycles, replaced when low."""
    n = group.telemetry
    days = clock.times[None, :] / DAY
    cycle = (days / group.param("cycle_days") + group.param("cycle_phase")) % 1
    level = 1.0 - 0.8 * cycle - 0.05 * np.clip(clock.season, 0, None)[None, :]
    level += 0.01 * daily_noise(ctx.seed, "sos:noise", clock, n)
    return {"batteryLevel": np.round(np.clip(level, 0.02, 1.0), 3)}
