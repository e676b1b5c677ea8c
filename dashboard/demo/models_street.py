"""Value models of street-level sensors: traffic, air, noise, parking, buses, public wifi.

Each model maps (asset group, clock, context) to {metric: array (reporting assets, times)};
NaN means "no reading". Rhythms are in local time; randomness comes from keyed streams.
"""
from __future__ import annotations

import numpy as np

from dashboard.demo.assets import AssetGroup
from dashboard.demo.clock import Clock, Context, bumps, daily_noise, periodic_events, weather

Values = dict[str, np.ndarray]


def traffic_shape(clock: Clock) -> np.ndarray:
    """City traffic relative to a weekday's peak hour: rush hours, lunch, quiet nights."""
    hour = clock.hour
    workday = bumps(hour, [(8.3, 1.0, 0.75), (14.2, 1.3, 0.45), (18.8, 1.8, 0.6)], 0.04)
    workday += 0.4 / (1 + np.exp(-(hour - 7.0) * 2)) / (1 + np.exp((hour - 21.5) * 1.5))
    saturday = bumps(hour, [(12.5, 3.0, 0.6), (19.5, 2.5, 0.45), (0.5, 1.5, 0.15)], 0.06)
    sunday = bumps(hour, [(13.0, 3.0, 0.45), (19.0, 2.5, 0.35)], 0.05)
    shape = np.where(clock.weekday == 5, saturday, np.where(clock.weekday == 6, sunday, workday))
    august = 1 - 0.15 * np.exp(-(((clock.doy - 225) / 14.0) ** 2))
    return shape * august * (1 + 0.04 * clock.season)


def summer(clock: Clock) -> np.ndarray:
    """0 in winter rising to 1 in late July."""
    return np.clip(-np.cos(2 * np.pi * (clock.doy - 20) / 365.25), 0, 1)


def _tourism(group: AssetGroup, clock: Clock, strength: float) -> np.ndarray:
    factor: np.ndarray = 1 + strength * (group.param("tourism") - 1) * summer(clock)[None, :]
    return factor


def traffic(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Vehicles per hour and average speed, slowing down as the road fills."""
    n = group.telemetry
    rain = weather(clock.times, ctx.seed, "rain")
    shape = traffic_shape(clock)[None, :] * _tourism(group, clock, 0.25)
    noise = daily_noise(ctx.seed, f"{group.type.type}:noise", clock, n)
    load = shape * (1 + 0.04 * rain)[None, :] * np.exp(0.08 * noise)
    intensity = np.round(group.param("capacity") * load)
    ratio = np.clip(load, 0, 1.3)
    speed = group.param("free_speed") * (1 - 0.5 * ratio**2) * (1 - 0.04 * np.clip(rain, 0, None))
    speed += 1.5 * daily_noise(ctx.seed, f"{group.type.type}:speed", clock, n)
    return {"intensity": intensity, "averageVehicleSpeed": np.round(np.clip(speed, 4, 80), 1)}


def _episodes(group: AssetGroup, clock: Clock, ctx: Context) -> np.ndarray:
    """Multiplier of NO2 by station: one pollution episode a week, in one district."""
    factor = np.ones((group.telemetry, clock.times.size))
    if group.telemetry == 0:
        return factor
    for station, start, end, magnitude in periodic_events(ctx.seed, "no2-episode", clock, 7,
                                                          group.telemetry):
        inside = (clock.times >= start) & (clock.times < end)
        if not inside.any():
            continue
        bell = np.sin(np.pi * (clock.times[inside] - start) / (end - start))
        same = group.district[: group.telemetry] == group.district[station]
        factor[np.ix_(same, inside)] *= 1 + (1.6 + 1.4 * magnitude) * bell[None, :]
    return factor


def air_quality(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """NO2 following traffic (worse in winter and still air), ozone with sunshine, PM."""
    n = group.telemetry
    stagnation = weather(clock.times, ctx.seed, "stagnation")[None, :]
    dust = weather(clock.times, ctx.seed, "dust")[None, :]
    local_traffic = traffic_shape(clock)[None, :] * group.param("traffic")
    noise = daily_noise(ctx.seed, f"{group.type.type}:noise", clock, 4 * n).reshape(4, n, -1)
    no2 = (7 + 30 * local_traffic) * (1 + 0.3 * clock.season[None, :]) * np.exp(0.22 * stagnation)
    no2 *= np.exp(0.12 * noise[0] + 0.08 * group.param("offset")) * _episodes(group, clock, ctx)
    sunshine = np.clip(clock.sun, 0, None)[None, :] / 60
    o3 = 38 + 55 * sunshine * (1 - 0.35 * clock.season[None, :]) - 0.25 * (no2 - 20)
    o3 = o3 - 6 * stagnation + 5 * noise[1]
    saharan = 25 * np.clip(dust - 1.3, 0, None)
    pm10 = 11 + 0.22 * no2 + 4 * np.exp(0.3 * stagnation) + saharan + 2.5 * noise[2]
    pm25 = 0.5 * pm10 + 1.2 * noise[3]
    return {"no2": np.round(np.clip(no2, 1, None), 1), "o3": np.round(np.clip(o3, 2, None), 1),
            "pm10": np.round(np.clip(pm10, 2, None), 1),
            "pm25": np.round(np.clip(pm25, 1, None), 1)}


def noise(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """LAeq: traffic by day, bars on Friday and Saturday nights (more in summer)."""
    n = group.telemetry
    traffic_energy = 3e6 * traffic_shape(clock)[None, :] * group.param("traffic")
    hour, weekday = clock.hour, clock.weekday
    late = np.isin(weekday, (5, 6)) & (hour < 5)  # early hours of Saturday and Sunday
    evening = np.isin(weekday, (4, 5)) & (hour >= 22)  # Friday and Saturday evenings
    party_night = late | evening
    party = party_night * bumps(hour, [(1.0, 2.0, 1.0)])
    nightlife = 1.5e6 * group.param("nightlife") ** 3 * (party * (1 + 0.6 * summer(clock)))[None, :]
    level = 10 * np.log10(1.2e4 + traffic_energy + nightlife)
    level += 1.5 * group.param("offset")
    level += daily_noise(ctx.seed, f"{group.type.type}:noise", clock, n)
    return {"LAeq": np.round(np.clip(level, 30, 95), 1)}


def parking(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Car park occupancy: business hours on weekdays, shopping Saturdays, summer beaches."""
    n = group.telemetry
    hour = clock.hour
    workday = bumps(hour, [(11.5, 2.3, 0.8), (18.0, 2.0, 0.72)], 0.06)
    saturday = bumps(hour, [(12.5, 2.5, 0.88), (19.0, 2.3, 0.8)], 0.08)
    sunday = bumps(hour, [(13.5, 2.5, 0.5), (19.5, 2.0, 0.3)], 0.06)
    shape = np.where(clock.weekday == 5, saturday, np.where(clock.weekday == 6, sunday, workday))
    afternoon = summer(clock) * bumps(hour, [(16, 3.5, 1)])
    beach = 0.35 * (group.param("tourism") - 1) * afternoon[None, :]
    rain = weather(clock.times, ctx.seed, "rain")[None, :]
    occupancy = shape[None, :] * group.param("pull") * group.param("traffic") ** 0.25 + beach
    occupancy += 0.04 * rain + 0.03 * daily_noise(ctx.seed, f"{group.type.type}:noise", clock, n)
    total = group.param("total")
    available = np.round(total * (1 - np.clip(occupancy, 0.02, 1.0)))
    return {"availableSpotNumber": available, "occupancy": np.round((total - available) / total, 4)}


def transit(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Mean delay of buses arriving at a stop (seconds), only while buses run."""
    n = group.telemetry
    rain = np.clip(weather(clock.times, ctx.seed, "rain"), 0, None)[None, :]
    congestion = traffic_shape(clock)[None, :] * group.param("traffic")
    delay = group.param("offset") + 160 * congestion**1.5 * (1 + 0.35 * rain)
    delay += 35 * daily_noise(ctx.seed, f"{group.type.type}:noise", clock, n)
    running = (clock.hour >= 6.5) & (clock.hour < 23)
    return {"delay": np.where(running[None, :], np.round(np.clip(delay, -90, None)), np.nan)}


def wifi(group: AssetGroup, clock: Clock, ctx: Context) -> Values:
    """Clients on municipal wifi hotspots: afternoons, weekends in tourist spots."""
    n = group.telemetry
    hour = clock.hour
    shape = bumps(hour, [(12.5, 2.5, 0.6), (18.5, 2.5, 1.0)], 0.02)
    weekend = clock.weekend[None, :] * (0.2 + 0.4 * (group.param("tourism") - 1))
    expected = group.param("capacity") * shape[None, :] * (1 + weekend)
    expected *= _tourism(group, clock, 0.6) * np.sqrt(group.param("digital"))
    noise = daily_noise(ctx.seed, f"{group.type.type}:noise", clock, n)
    clients = expected + np.sqrt(expected) * noise
    return {"clientsConnected": np.round(np.clip(clients, 0, None))}
