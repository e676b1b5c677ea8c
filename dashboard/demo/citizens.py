"""Demo residents: pseudonymous ids, Spanish names, contact, district, age, consent.

Residents also carry an activity weight (a few people file most requests), used when the
other generators pick who asked for what.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np

from dashboard.demo.clock import rng
from dashboard.demo.config import CityConfig, Scale


@dataclass(frozen=True)
class Citizens:
    """The demo's residents, as parallel arrays, plus per-district samplers."""

    ids: tuple[str, ...]
    district: np.ndarray  # district index
    birth_year: np.ndarray
    activity: np.ndarray  # relative propensity to contact the city
    by_district: tuple[np.ndarray, ...]  # citizen indices per district
    cumulative: tuple[np.ndarray, ...]  # normalised cumulative activity per district
    overall: np.ndarray  # normalised cumulative activity over everyone

    def pick(self, gen: np.random.Generator, district: np.ndarray, local: float) -> np.ndarray:
        """One citizen index per entry of ``district``: from that district with probability
        ``local``, otherwise from anywhere; busier citizens more often."""
        out = np.searchsorted(self.overall, gen.random(district.size)).clip(0, len(self.ids) - 1)
        home = gen.random(district.size) < local
        draws = gen.random(district.size)
        for index, members in enumerate(self.by_district):
            rows = np.flatnonzero(home & (district == index))
            if rows.size and members.size:
                at = np.searchsorted(self.cumulative[index], draws[rows]).clip(0, members.size - 1)
                out[rows] = members[at]
        return out

    def pick_any(self, gen: np.random.Generator, n: int) -> np.ndarray:
        """``n`` citizen indices from anywhere, busier citizens more often."""
        return np.searchsorted(self.overall, gen.random(n)).clip(0, len(self.ids) - 1)


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.lower().replace(" ", "")


def build_citizens(config: CityConfig, scale: Scale, seed: int) -> Citizens:
    """The residents of a scale: deterministic in ``seed``, independent of dates."""
    n = scale.citizens
    gen = rng(seed, "citizens")
    population = np.array([d.population for d in config.districts], dtype=float)
    district = gen.choice(len(config.districts), size=n, p=population / population.sum())
    decades = config.citizens["birth_decades"]
    starts = np.array([int(k) for k in decades], dtype=int)
    shares = np.array([float(v) for v in decades.values()])
    decade = gen.choice(starts, size=n, p=shares / shares.sum())
    shift = np.array([config.districts[d].factor("age") for d in district])
    birth_year = (decade + gen.integers(0, 10, n) - np.round(shift)).astype(int)
    activity = gen.lognormal(0.0, 1.1, n)
    by_district = tuple(np.flatnonzero(district == i) for i in range(len(config.districts)))
    cumulative = tuple(_cumulative(activity[m]) for m in by_district)
    ids = tuple(f"cit-{i + 1:06d}" for i in range(n))
    return Citizens(ids, district, birth_year, activity, by_district, cumulative,
                    _cumulative(activity))


def _cumulative(weights: np.ndarray) -> np.ndarray:
    total = weights.sum()
    return np.cumsum(weights) / total if total > 0 else weights


def citizen_rows(config: CityConfig, citizens: Citizens, district_ids: list[str],
                 seed: int) -> list[dict[str, Any]]:
    """Rows for the ``citizens`` table (names and contact are personal data)."""
    n = len(citizens.ids)
    gen = rng(seed, "citizens", "contact")
    first_names = config.citizens["first_names"]
    surnames = config.citizens["surnames"]
    first = gen.integers(len(first_names), size=n)
    last = gen.integers(len(surnames), size=(n, 2))
    domain = gen.integers(len(config.email_domains), size=n)
    email_number = gen.integers(1, 99, size=n)
    old = citizens.birth_year < 1955
    has_email = gen.random(n) > np.where(old, 0.45, 0.08)
    has_phone = gen.random(n) > 0.06
    landline = gen.random(n) < np.where(old, 0.5, 0.1)
    digits = gen.integers(0, 1_000_000, size=n)
    mobile_prefix = gen.integers(600, 750, size=n)
    consent_draws = gen.random((n, len(config.citizens["consent"])))
    rows = []
    for i in range(n):
        given = first_names[first[i]]
        family = f"{surnames[last[i, 0]]} {surnames[last[i, 1]]}"
        email = None
        if has_email[i]:
            handle = f"{_ascii(given)}.{_ascii(surnames[last[i, 0]])}{email_number[i]}"
            email = f"{handle}@{config.email_domains[domain[i]]}"
        phone = None
        if has_phone[i]:
            prefix = config.landline_prefix if landline[i] else str(mobile_prefix[i])
            phone = f"+34 {prefix} {digits[i] // 1000:03d} {digits[i] % 1000:03d}"
        consent = {
            name: bool(consent_draws[i, k] < float(share))
            for k, (name, share) in enumerate(config.citizens["consent"].items())
        }
        rows.append({
            "id": citizens.ids[i],
            "name": f"{given} {family}",
            "email": email,
            "phone": phone,
            "district_id": district_ids[int(citizens.district[i])],
            "birth_year": int(citizens.birth_year[i]),
            "consent": consent,
        })
    return rows
