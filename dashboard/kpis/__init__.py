"""KPI engine: definitions from data/kpis.yaml, values per window, the city score."""
from __future__ import annotations

from dashboard.kpis.definitions import AlertRule, KpiDefinition, load_alert_rules, load_kpis
from dashboard.kpis.engine import KpiTable, KpiValue, compute_kpi_table
from dashboard.kpis.scoring import city_score
from dashboard.kpis.windows import WINDOWS, Window, window_for

__all__ = [
    "WINDOWS",
    "AlertRule",
    "KpiDefinition",
    "KpiTable",
    "KpiValue",
    "Window",
    "city_score",
    "compute_kpi_table",
    "load_alert_rules",
    "load_kpis",
    "window_for",
]
