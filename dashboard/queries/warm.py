"""Recompute the default views right after an ingest, in the ingesting process, so the
next viewer finds them in the shared cache instead of waiting for them."""
from __future__ import annotations

import logging
import time

from dashboard import queries
from dashboard.settings import Settings

log = logging.getLogger(__name__)
DEFAULT_WINDOWS = ("week",)  # the overview's and district pages' default window


def warm_default_views(settings: Settings) -> float:
    """Compute the overview's default numbers (city KPIs, district scores, alerts) into the
    cache, waiting for fresh results (no stale answer); returns the seconds it took. Only
    useful with a shared cache (Redis); never raises (a failure is logged)."""
    started = time.perf_counter()
    fresh = settings.model_copy(update={"cache_stale_seconds": 0})
    try:
        queries.district_options(fresh)
        for window in DEFAULT_WINDOWS:
            queries.overview(fresh, None, window)
            queries.district_scores(fresh, window, None)
        queries.active_alerts(fresh, None, queries.OVERVIEW_ALERTS)
    except Exception:  # warming is an optimisation: the viewer computes instead
        log.exception("warming the default views failed")
    return time.perf_counter() - started
