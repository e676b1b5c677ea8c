"""The demo city generator: a plausible Santander, deterministic in (seed, scale, end).

``generate_demo(engine, settings, scale=..., seed=..., end=...)`` writes districts, assets,
observations (through the ingest path, so rollups and alerts follow), Open311 requests,
citizens, cases, participation and notices. Parameters live in ``data/demo_city.yaml``.
"""
from __future__ import annotations

from collections.abc import Mapping

from dashboard.demo.config import Scale, load_config
from dashboard.demo.generate import DemoSummary, generate_demo

SCALES: Mapping[str, Scale] = load_config().scales

__all__ = ["SCALES", "DemoSummary", "Scale", "generate_demo"]
