"""What every read model shares: the store's engine and the cache keyed by data version."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from dashboard.cache import cache_key, get_cache, stale_key
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.version import EPOCH_KEY, data_version, scope_versions

T = TypeVar("T")
# What reads depend on (``dashboard.store.version`` scopes): a write elsewhere leaves them
# cached. A read that names no scope is recomputed after any write.
DISTRICTS = ("districts",)
ASSETS = ("assets", "districts")  # asset records: name, type, status, place
ALERTS = ("alerts", "assets", "districts")
REQUESTS = ("requests", "districts")  # service requests and the service catalogue


def engine_of(settings: Settings) -> Engine:
    """The (shared, pooled) engine of the settings' store."""
    return get_engine(settings.resolved_database_url)


def cached(settings: Settings, name: str, params: dict[str, Any],
           compute: Callable[[Connection], T], scopes: Iterable[str] | None = None,
           *, shared: bool = False) -> T:
    """``compute(conn)`` once per (name, params, data version); workers share it via Redis.

    With ``scopes`` (``dashboard.store.version``), the result is kept until a write touches
    one of them, not until any write. Results must be JSON-ready (dicts, lists, strings,
    numbers) so Redis can hold them. A ``shared`` result (large, and never changed by its
    readers) is also kept decoded in the process, so repeated reads cost nothing.
    """
    engine = engine_of(settings)
    with engine.connect() as conn:
        if scopes is None or not settings.cache_scopes:
            version = data_version(conn)
        else:
            versions = scope_versions(conn, scopes)
            version = versions.pop(EPOCH_KEY)
            params = {**params, "_versions": versions}
    cache = get_cache(settings.redis_url, settings.cache_ttl_seconds)

    def run() -> T:
        with engine.connect() as conn:
            return compute(conn)

    # The store and the KPI catalogue are part of the key: one process (or one Redis) may
    # serve several stores, whose data versions and parameters can coincide.
    scoped = {**params, "_store": settings.resolved_database_url,
              "_kpis": str(settings.kpis_file), "_tz": settings.timezone}
    unversioned = {k: v for k, v in scoped.items() if k != "_versions"}
    return cache.get_or_compute(cache_key(name, version, scoped), run,
                                stale=stale_key(name, unversioned),
                                stale_seconds=settings.cache_stale_seconds, shared=shared)


def data_version_of(settings: Settings) -> str:
    """The store's data version, uncached: live pages and the kiosk poll it to decide to
    redraw."""
    with engine_of(settings).connect() as conn:
        return str(data_version(conn))
