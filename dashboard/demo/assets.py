"""Demo assets: placed in districts, with static FIWARE attributes and model parameters."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from dashboard.demo.clock import rng
from dashboard.demo.config import AssetType, CityConfig, Scale
from dashboard.demo.geography import District, assign_districts, district_points
from dashboard.demo.transit import route_layout

PROFILE_NAMES = ("traffic", "nightlife", "tourism", "waste", "water", "digital", "speed")
WASTE_KINDS = ("organic", "inorganic", "paper", "plastic", "glass")


@dataclass(frozen=True)
class AssetGroup:
    """All assets of one FIWARE type at one scale; the first ``telemetry`` report readings."""

    type: AssetType
    ids: tuple[str, ...]
    district: np.ndarray  # district index per asset
    lon: np.ndarray
    lat: np.ndarray
    streets: tuple[str, ...]
    telemetry: int
    params: Mapping[str, np.ndarray]  # per-asset static parameters (all assets)

    @property
    def size(self) -> int:
        """Number of assets in the group."""
        return len(self.ids)

    def param(self, name: str) -> np.ndarray:
        """A parameter for the reporting assets only, as a column (telemetry, 1)."""
        return self.params[name][: self.telemetry, None]


def _district_weights(config: CityConfig, prefer: Mapping[str, float]) -> np.ndarray:
    weights = np.array([d.population * float(prefer.get(d.name, 1.0)) for d in config.districts])
    shares: np.ndarray = weights / weights.sum()
    return shares


def _static_params(config: CityConfig, asset_type: AssetType, gen: np.random.Generator,
                   profile: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Per-asset parameters of the value model (and of the static attributes)."""
    model = asset_type.model
    if model == "traffic":
        return {"capacity": np.round(gen.uniform(350, 1400, n) * profile["traffic"]),
                "free_speed": np.round(gen.uniform(38, 55, n) / np.sqrt(profile["traffic"]))}
    if model == "parking":
        return {"total": np.round(gen.uniform(150, 900, n)), "pull": gen.uniform(0.7, 1.0, n)}
    if model == "waste":
        rate = gen.lognormal(np.log(0.3), 0.3, n) * np.sqrt(profile["waste"])
        period = np.clip(np.floor(0.65 / rate), 1, 3)
        return {"rate": rate, "period": period, "phase": gen.integers(0, 3, n).astype(float),
                "pickup_hour": gen.integers(0, 4, n).astype(float),
                "volume": gen.choice([800.0, 1100.0, 2400.0, 3200.0], n),
                "kind": gen.integers(0, len(WASTE_KINDS), n).astype(float)}
    if model == "streetlight":
        powers = [40.0, 60.0, 70.0, 100.0, 150.0]
        return {"lamp_power": gen.choice(powers, n, p=[0.3, 0.3, 0.15, 0.15, 0.1]),
                "threshold": gen.uniform(-3.0, -0.5, n)}
    if model == "building_energy":
        kinds = np.arange(n) % len(config.buildings) if config.buildings else np.zeros(n)
        return {"kind": kinds.astype(float), "peak": gen.uniform(0.0, 1.0, n)}
    if model == "water_use":  # sector meters: together they meter every resident's water
        litres = config.water_litres_per_resident_day * profile["population"] / profile["peers"]
        return {"base": litres / 1000 / 24 * profile["water"] * gen.lognormal(0, 0.15, n)}
    if model == "transit":  # the delays' model; the stops' routes: dashboard.demo.transit
        return {"offset": gen.normal(20, 25, n)}
    if model == "wifi":
        return {"capacity": np.round(gen.uniform(15, 90, n))}
    if model == "sos_post":
        return {"cycle_days": gen.uniform(40, 90, n), "cycle_phase": gen.uniform(0, 1, n)}
    if model in ("air_quality", "noise", "water_quality"):
        return {"offset": gen.normal(0, 1, n)}
    return {}


def _attributes(config: CityConfig, group_type: AssetType, params: Mapping[str, np.ndarray],
                i: int, street: str, num: int) -> dict[str, Any]:
    """Static FIWARE attributes of asset ``i``."""
    attrs: dict[str, Any] = {
        "name": f"{group_type.label} {street} {num}",
        "address": {"streetAddress": f"{street} {num}", "addressLocality": config.name,
                    "addressCountry": "ES"},
    }
    model = group_type.model
    if model == "parking":
        attrs["totalSpotNumber"] = int(params["total"][i])
        attrs["category"] = ["public", "feeCharged", "underground"]
    elif model == "waste":
        attrs["storedWasteKind"] = WASTE_KINDS[int(params["kind"][i])]
        attrs["cargoVolume"] = float(params["volume"][i])
    elif model == "streetlight":
        attrs["lampPower"] = float(params["lamp_power"][i])
        attrs["lanternHeight"] = 8 if params["lamp_power"][i] >= 100 else 5
    elif model == "building_energy":
        building = config.buildings[int(params["kind"][i])]
        attrs["name"] = f"{building['name']} {street}"
        attrs["category"] = building["name"]
    elif model == "traffic":
        attrs["laneCapacity"] = int(params["capacity"][i])
    elif model == "wifi":
        attrs["ssid"] = [f"{config.name}_WiFi"]
    elif model == "sos_post":
        attrs["category"] = ["sensor"]
        attrs["controlledProperty"] = ["emergencyCall"]
    return attrs


def build_assets(config: CityConfig, scale: Scale, districts: list[District],
                 seed: int) -> list[AssetGroup]:
    """Every asset group of the scale, placed inside districts, deterministic in ``seed``."""
    groups = []
    for type_name, counts in scale.assets.items():
        asset_type = config.asset_types[type_name]
        n = counts.count
        if asset_type.model == "transit":  # bus stops: along the bus routes
            xy = route_layout(config, n)[2]
            which = assign_districts(districts, xy[:, 0], xy[:, 1])
        else:
            gen = rng(seed, type_name, "place")
            which = gen.choice(len(districts), size=n,
                               p=_district_weights(config, asset_type.prefer))
            xy = district_points(districts, which, gen)
        found = assign_districts(districts, xy[:, 0], xy[:, 1])
        if (found != which).any() or (found < 0).any():  # cannot happen: points_in keeps
            # clear of edges, the routes' paths are on land (a test checks every scale)
            raise RuntimeError(f"{type_name}: a point fell outside its district")
        specs = [config.districts[int(d)] for d in which]
        profile = {name: np.array([s.factor(name) for s in specs]) for name in PROFILE_NAMES}
        profile["population"] = np.array([s.population for s in specs], dtype=float)
        reporting = np.bincount(which[: counts.telemetry], minlength=len(districts))
        profile["peers"] = np.maximum(reporting[which], 1).astype(float)
        params = _static_params(config, asset_type, rng(seed, type_name, "static"), profile, n)
        params.update(profile)
        street_gen = rng(seed, type_name, "street")
        streets = tuple(s.streets[int(street_gen.integers(len(s.streets)))] for s in specs)
        params["num"] = street_gen.integers(1, 120, n).astype(float)
        width = max(4, len(str(n)))
        ids = tuple(f"urn:ngsi-ld:{type_name}:{config.slug}:{i + 1:0{width}d}" for i in range(n))
        groups.append(AssetGroup(asset_type, ids, found, xy[:, 0], xy[:, 1], streets,
                                 min(counts.telemetry, n), MappingProxyType(params)))
    return groups


def asset_rows(config: CityConfig, group: AssetGroup, districts: list[District],
               status: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Rows for the ``assets`` table (``status`` per asset, default ``ok``); ``last_seen`` is
    left out so that regenerating does not blank it."""
    rows = []
    for i, asset_id in enumerate(group.ids):
        attrs = _attributes(config, group.type, group.params, i, group.streets[i],
                            int(group.params["num"][i]))
        attrs["telemetry"] = i < group.telemetry
        rows.append({
            "id": asset_id,
            "type": group.type.type,
            "domain": group.type.domain,
            "name": attrs["name"],
            "lat": float(group.lat[i]),
            "lon": float(group.lon[i]),
            "district_id": districts[int(group.district[i])].id,
            "status": "ok" if status is None else str(status[i]),
            "attributes": attrs,
            "source_id": config.source_id,
        })
    return rows
