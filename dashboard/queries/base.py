"""What every read model shares: the store's engine and the cache keyed by data version."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from dashboard.cache import cache_key, get_cache
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.version import data_version

T = TypeVar("T")


def engine_of(settings: Settings) -> Engine:
    """The (shared, pooled) engine of the settings' store."""
    return get_engine(settings.resolved_database_url)


def cached(settings: Settings, name: str, params: dict[str, Any],
           compute: Callable[[Connection], T]) -> T:
    """``compute(conn)`` once per (name, params, data version); workers share it via Redis.

    Results must be JSON-ready (dicts, lists, strings, numbers) so Redis can hold them.
    """
    engine = engine_of(settings)
    with engine.connect() as conn:
        version = data_version(conn)
    cache = get_cache(settings.redis_url, settings.cache_ttl_seconds)

    def run() -> T:
        with engine.connect() as conn:
            return compute(conn)

    # The store and the KPI catalogue are part of the key: one process (or one Redis) may
    # serve several stores, whose data versions and parameters can coincide.
    scoped = {**params, "_store": settings.resolved_database_url,
              "_kpis": str(settings.kpis_file), "_tz": settings.timezone}
    return cache.get_or_compute(cache_key(name, version, scoped), run)
