"""What every read model shares: the store's engine and the cache keyed by data version."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
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
COMMITMENTS = ("commitments", "districts")  # the city's commitments and their progress


EVERY_WRITE = "*"  # what a read that names no scope depends on
_READS: ContextVar[set[str] | None] = ContextVar("citylens_reads", default=None)


def start_noting_reads() -> None:
    """Note from here which scopes the cached reads of this context depend on."""
    _READS.set(set())


def reads_noted() -> set[str] | None:
    """The scopes noted since ``start_noting_reads`` (``EVERY_WRITE`` for a read that names
    none); None when not noting."""
    noted = _READS.get()
    return None if noted is None else set(noted)


def versions_of(settings: Settings, scopes: Iterable[str]) -> dict[str, int]:
    """The current version of each scope and of the epoch (a write without scopes) and,
    when asked (``EVERY_WRITE``), the global data version: what decides whether an answer
    built from reads of ``scopes`` still holds."""
    wanted = set(scopes)
    named = sorted(s for s in wanted if s not in (EVERY_WRITE, EPOCH_KEY))
    with engine_of(settings).connect() as conn:
        found = scope_versions(conn, named)
        if EVERY_WRITE in wanted:
            found[EVERY_WRITE] = data_version(conn)
    return found


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
    noted = _READS.get()
    if noted is not None:
        noted.update([EVERY_WRITE] if scopes is None or not settings.cache_scopes else scopes)
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
