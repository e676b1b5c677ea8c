"""Keyed random streams and time features shared by the demo's value models.

Every random draw comes from ``numpy.random.default_rng([seed, *keys])`` with stable keys
(a name's CRC32, an absolute UTC day number, an asset index), so the values of a given day
are the same whatever range is being generated: a later run can top data up to "now".
"""
from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DAY = 86_400
HOUR = 3_600


def key(name: str) -> int:
    """A stable integer sub-key for a name."""
    return zlib.crc32(name.encode("utf-8"))


def rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A generator for one stream: the seed plus stable sub-keys (ints or names)."""
    ints = [key(k) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng([int(seed), *ints])


@dataclass(frozen=True)
class Clock:
    """Time features of a grid of timestamps covering whole UTC days [day0, day0 + days)."""

    day0: int
    days: int
    step: int  # seconds
    times: np.ndarray  # epoch seconds, UTC
    hour: np.ndarray  # local hour of day, fractional
    weekday: np.ndarray  # local, Monday = 0
    doy: np.ndarray  # local day of year
    month: np.ndarray  # local month, 1..12
    sun: np.ndarray  # solar elevation at the city, degrees

    @property
    def per_day(self) -> int:
        """Timestamps per day."""
        return DAY // self.step

    @property
    def weekend(self) -> np.ndarray:
        """True on local Saturdays and Sundays."""
        return self.weekday >= 5

    @property
    def season(self) -> np.ndarray:
        """+1 in mid-winter, -1 in mid-summer (cosine of the day of year)."""
        return np.cos(2 * np.pi * (self.doy - 15) / 365.25)

    def day_index(self) -> np.ndarray:
        """The absolute UTC day of each timestamp."""
        return self.times // DAY


def make_clock(day0: int, days: int, step: int, tz: str, lon: float, lat: float) -> Clock:
    """Build the time features of ``days`` whole UTC days starting at absolute day ``day0``."""
    times = day0 * DAY + np.arange(0, days * DAY, step, dtype=np.int64)
    stamps = pd.DatetimeIndex(pd.to_datetime(times, unit="s", utc=True)).tz_convert(tz)
    hour = stamps.hour.to_numpy() + stamps.minute.to_numpy() / 60.0
    return Clock(
        day0=day0,
        days=days,
        step=step,
        times=times,
        hour=hour.astype(float),
        weekday=stamps.day_of_week.to_numpy(),
        doy=stamps.day_of_year.to_numpy(),
        month=stamps.month.to_numpy(),
        sun=solar_elevation(times, lon, lat),
    )


def solar_elevation(times: np.ndarray, lon: float, lat: float) -> np.ndarray:
    """Sun elevation in degrees (NOAA approximation) at epoch seconds ``times``."""
    stamps = np.asarray(times, dtype="int64").astype("datetime64[s]")
    days = stamps.astype("datetime64[D]")
    doy = (days - stamps.astype("datetime64[Y]").astype("datetime64[D]")).astype(float) + 1
    hours = (times % DAY) / HOUR
    gamma = 2 * np.pi / 365 * (doy - 1 + (hours - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(gamma) - 0.032077 * np.sin(gamma)
                       - 0.014615 * np.cos(2 * gamma) - 0.040849 * np.sin(2 * gamma))
    decl = (0.006918 - 0.399912 * np.cos(gamma) + 0.070257 * np.sin(gamma)
            - 0.006758 * np.cos(2 * gamma) + 0.000907 * np.sin(2 * gamma)
            - 0.002697 * np.cos(3 * gamma) + 0.00148 * np.sin(3 * gamma))
    solar_minutes = hours * 60 + eqtime + 4 * lon
    hour_angle = np.radians(solar_minutes / 4 - 180)
    phi = np.radians(lat)
    cos_zenith = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    elevation: np.ndarray = 90 - np.degrees(np.arccos(np.clip(cos_zenith, -1, 1)))
    return elevation


def weather(times: np.ndarray, seed: int, name: str) -> np.ndarray:
    """A smooth city-wide signal of about unit spread (sum of slow random sinusoids)."""
    gen = rng(seed, "weather", name)
    periods = np.array([1.3, 2.9, 4.7, 7.1, 11.3, 17.9]) * DAY
    phases = gen.uniform(0, 2 * np.pi, periods.size)
    weights = gen.uniform(0.5, 1.0, periods.size)
    weights /= np.sqrt((weights**2).sum() / 2)
    angles = 2 * np.pi * times[:, None] / periods[None, :] + phases[None, :]
    signal: np.ndarray = (np.sin(angles) * weights).sum(axis=1)
    return signal


def bumps(hour: np.ndarray, peaks: list[tuple[float, float, float]],
          base: float = 0.0) -> np.ndarray:
    """A daily profile: ``base`` plus Gaussian bumps (centre hour, width, height)."""
    out = np.full(hour.shape, base, dtype=float)
    for centre, width, height in peaks:
        distance = np.minimum(np.abs(hour - centre), 24 - np.abs(hour - centre))
        out += height * np.exp(-0.5 * (distance / width) ** 2)
    return out


def daily_noise(seed: int, stream: str, clock: Clock, n: int, sigma: float = 1.0) -> np.ndarray:
    """Standard normal noise (n, len(times)), drawn per absolute day so ranges agree."""
    parts = [
        rng(seed, stream, clock.day0 + d).standard_normal((n, clock.per_day))
        for d in range(clock.days)
    ]
    return sigma * np.concatenate(parts, axis=1) if parts else np.zeros((n, 0))


def outage_mask(seed: int, stream: str, clock: Clock, n: int, rate: float,
                median_hours: float, lookback_days: int = 3) -> np.ndarray:
    """True where a sensor is silent: outages start at ``rate`` per asset per day."""
    mask = np.zeros((n, clock.times.size), dtype=bool)
    if rate <= 0 or n == 0:
        return mask
    for day in range(clock.day0 - lookback_days, clock.day0 + clock.days):
        gen = rng(seed, stream, "outage", day)
        starts = day * DAY + gen.uniform(0, DAY, n)
        lengths = np.minimum(median_hours * HOUR * gen.lognormal(0, 0.9, n), lookback_days * DAY)
        active = gen.random(n) < rate
        if not active.any():
            continue
        idx = np.flatnonzero(active)
        mask[idx] |= (clock.times[None, :] >= starts[idx, None]) & (
            clock.times[None, :] < starts[idx, None] + lengths[idx, None]
        )
    return mask


def periodic_events(seed: int, stream: str, clock: Clock, period_days: int,
                    choices: int) -> list[tuple[int, int, int, float]]:
    """One event per absolute period of ``period_days``: (choice, start, end, magnitude).

    Only events overlapping the clock's range are returned; each is decided by its period
    alone, so any window longer than a period contains at least one.
    """
    if choices == 0:
        return []
    events = []
    first = (clock.day0 - 6) // period_days  # events last up to 5 days
    last = (clock.day0 + clock.days) // period_days
    for period in range(first, last + 1):
        gen = rng(seed, stream, period)
        choice = int(gen.integers(choices))
        start = period * period_days * DAY + int(gen.uniform(0, (period_days - 2) * DAY))
        start -= start % HOUR
        length = int(gen.uniform(0.25, 1.0) * 2 * DAY) // HOUR * HOUR + HOUR
        events.append((choice, start, start + length, float(gen.uniform(0.0, 1.0))))
    return events


@dataclass(frozen=True)
class Context:
    """What every value model needs besides its assets and clock."""

    seed: int
    tz: str
    lon: float
    lat: float
    buildings: tuple[Mapping[str, Any], ...] = ()

    def clock(self, day0: int, days: int, step: int) -> Clock:
        """Time features of whole UTC days at the city's position and time zone."""
        return make_clock(day0, days, step, self.tz, self.lon, self.lat)
