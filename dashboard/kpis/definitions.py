"""KPI and alert-rule definitions, read from ``data/kpis.yaml`` and validated."""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from dashboard.model import DOMAINS

Aggregation = Literal[
    "mean",
    "sum_per_resident_day",
    "share_closed_within_sla",
    "median_days_to_close",
    "share_open_overdue",
    "share_digital",
    "per_1000_residents_30d",
]
SOURCE_AGGREGATIONS: dict[str, set[str]] = {
    "rollups": {"mean", "sum_per_resident_day"},
    "service_requests": {
        "share_closed_within_sla",
        "median_days_to_close",
        "share_open_overdue",
        "share_digital",
        "per_1000_residents_30d",
    },
    "cases": {"median_days_to_close"},
}


class KpiDefinition(BaseModel):
    """One KPI: what it measures, where it comes from, and what good looks like."""

    id: str
    name: dict[str, str]
    description: dict[str, str] = Field(default_factory=dict)
    domain: str
    source: Literal["rollups", "service_requests", "cases"]
    aggregation: Aggregation
    metric: str | None = None
    filter: dict[str, str] = Field(default_factory=dict)
    unit: str
    target: float = Field(gt=0)
    direction: Literal["higher", "lower"]
    scale: float = 1.0
    decimals: int = 1
    stale_after_hours: float = 6.0

    @model_validator(mode="after")
    def _consistent(self) -> KpiDefinition:
        if self.domain not in DOMAINS:
            raise ValueError(f"KPI {self.id}: unknown domain {self.domain!r}")
        if self.aggregation not in SOURCE_AGGREGATIONS[self.source]:
            raise ValueError(
                f"KPI {self.id}: aggregation {self.aggregation!r} does not apply to "
                f"source {self.source!r}"
            )
        if self.source == "rollups" and not (self.metric and "." in self.metric):
            raise ValueError(f"KPI {self.id}: rollup KPIs need metric 'Type.attribute'")
        if not {"en", "es"} <= self.name.keys():
            raise ValueError(f"KPI {self.id}: needs a name in 'en' and 'es'")
        return self

    def label(self, lang: str = "en") -> str:
        """The KPI's name in ``lang`` (English when missing)."""
        return self.name.get(lang) or self.name["en"]


class AlertRule(BaseModel):
    """A threshold on one metric ("Type.attribute") that raises an alert per asset."""

    metric: str
    above: float | None = None
    below: float | None = None
    severity: Literal["info", "warning", "critical"] = "warning"
    rule: dict[str, str]
    unit: str = ""  # the metric's stored unit ("ratio" values are shown in %)

    @model_validator(mode="after")
    def _one_bound(self) -> AlertRule:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"alert on {self.metric}: give exactly one of above/below")
        return self

    @property
    def rule_id(self) -> str:
        """A stable id, stored with each alert."""
        if self.above is not None:
            return f"{self.metric}>{self.above:g}"
        return f"{self.metric}<{self.below:g}"


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


ValueRanges = dict[str, tuple[float, float]]


def _ranges(raw: Any, path: str) -> ValueRanges:
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: 'plausible' must map 'Type.attribute' to [min, max]")
    ranges: ValueRanges = {}
    for metric, bounds in raw.items():
        if (not isinstance(bounds, list) or len(bounds) != 2
                or not all(isinstance(b, (int, float)) for b in bounds) or bounds[0] > bounds[1]):
            raise ValueError(f"{path}: plausible range of {metric} must be [min, max]")
        ranges[str(metric)] = (float(bounds[0]), float(bounds[1]))
    return ranges


@lru_cache(maxsize=8)
def _load(path: str, mtime: float
          ) -> tuple[tuple[KpiDefinition, ...], tuple[AlertRule, ...], ValueRanges]:
    raw = _read(Path(path))
    kpis = tuple(KpiDefinition.model_validate(item) for item in raw.get("kpis", []))
    ids = [k.id for k in kpis]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"{path}: duplicated KPI ids {sorted(duplicates)}")
    rules = tuple(AlertRule.model_validate(item) for item in raw.get("alerts", []))
    return kpis, rules, _ranges(raw.get("plausible") or {}, path)


def load_kpis(path: Path) -> tuple[KpiDefinition, ...]:
    """The KPI definitions of ``path`` (re-read when the file changes)."""
    return _load(str(path), path.stat().st_mtime)[0]


def load_alert_rules(path: Path) -> tuple[AlertRule, ...]:
    """The alert rules of ``path``."""
    return _load(str(path), path.stat().st_mtime)[1]


def plausible_range(ranges: Mapping[str, tuple[float, float]], asset_type: str | None,
                    metric: str) -> tuple[float, float] | None:
    """The range a reading of ``metric`` on an asset of ``asset_type`` must keep: its
    "Type.attribute" entry, else its bare attribute's, else None."""
    return ranges.get(f"{asset_type}.{metric}") or ranges.get(metric)


def load_plausible_ranges(path: Path) -> ValueRanges:
    """The plausible range of each metric ("Type.attribute", or a bare attribute for every
    type) of ``path``: readings outside it are quarantined at ingest."""
    return _load(str(path), path.stat().st_mtime)[2]
