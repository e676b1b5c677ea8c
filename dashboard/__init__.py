"""CityLens core: settings, unified model, store, KPIs and queries (never imports Dash)."""
from __future__ import annotations

__version__ = "0.1.0"
