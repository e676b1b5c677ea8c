"""Observation time series: run each asset type's value model over whole days, drop
readings lost to sensor outages, and shape the result as an ingest frame."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd

from dashboard.demo import models_street, models_utility
from dashboard.demo.assets import AssetGroup
from dashboard.demo.clock import DAY, Clock, Context, outage_mask

Model = Callable[[AssetGroup, Clock, Context], dict[str, np.ndarray]]

MODELS: Mapping[str, Model] = MappingProxyType({
    "air_quality": models_street.air_quality,
    "noise": models_street.noise,
    "traffic": models_street.traffic,
    "parking": models_street.parking,
    "transit": models_street.transit,
    "wifi": models_street.wifi,
    "waste": models_utility.waste,
    "water_quality": models_utility.water_quality,
    "water_use": models_utility.water_use,
    "streetlight": models_utility.streetlight,
    "building_energy": models_utility.building_energy,
    "sos_post": models_utility.sos_post,
})
COLUMNS = ("asset_pk", "metric", "time", "value", "unit")


def rows_per_day(groups: Sequence[AssetGroup]) -> int:
    """Upper bound of the readings one day produces (before outages and night gaps)."""
    return sum(
        g.telemetry * len(g.type.metrics) * (1440 // g.type.interval_minutes) for g in groups
    )


def day_frame(groups: Sequence[AssetGroup], pks: Mapping[str, np.ndarray], ctx: Context,
              day0: int, days: int, start: int, end: int) -> pd.DataFrame:
    """Readings of every reporting asset over UTC days [day0, day0 + days), kept in [start, end).

    ``pks`` maps a FIWARE type to the store pks of its assets (in group order).
    """
    clocks: dict[int, Clock] = {}
    parts: list[pd.DataFrame] = []
    for group in groups:
        if group.telemetry == 0:
            continue
        asset_type = group.type
        step = asset_type.interval_minutes * 60
        if DAY % step:
            raise ValueError(f"{asset_type.type}: interval must divide a day")
        if step not in clocks:
            clocks[step] = ctx.clock(day0, days, step)
        clock = clocks[step]
        values = MODELS[asset_type.model](group, clock, ctx)
        silent = outage_mask(ctx.seed, asset_type.type, clock, group.telemetry,
                             asset_type.outage_rate, asset_type.outage_median_hours)
        silent |= ((clock.times < start) | (clock.times >= end))[None, :]
        group_pks = pks[asset_type.type][: group.telemetry]
        for metric, unit in asset_type.metrics.items():
            matrix = values[metric]
            rows, cols = np.nonzero(~silent & ~np.isnan(matrix))
            if rows.size == 0:
                continue
            parts.append(pd.DataFrame({
                "asset_pk": group_pks[rows],
                "metric": np.full(rows.size, metric, dtype=object),
                "time": clock.times[cols],
                "value": matrix[rows, cols].astype(float),
                "unit": np.full(rows.size, unit, dtype=object),
            }))
    if not parts:
        return pd.DataFrame({c: [] for c in COLUMNS})
    return pd.concat(parts, ignore_index=True)


def observation_batches(groups: Sequence[AssetGroup], pks: Mapping[str, np.ndarray],
                        ctx: Context, start: int, end: int,
                        batch_rows: int = 300_000) -> Iterator[pd.DataFrame]:
    """Frames of about ``batch_rows`` readings covering [start, end), in time order."""
    first_day, last_day = start // DAY, (end - 1) // DAY
    per_day = max(1, rows_per_day(groups))
    chunk = max(1, batch_rows // per_day)
    for day0 in range(first_day, last_day + 1, chunk):
        days = min(chunk, last_day + 1 - day0)
        frame = day_frame(groups, pks, ctx, day0, days, start, end)
        if not frame.empty:
            yield frame
