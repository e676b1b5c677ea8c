"""Query-result cache: Redis when configured, in-process otherwise.

Keys hold the query name, its parameters and the store's data version, so every ingest
makes old entries unreachable (they expire by TTL). A Redis outage degrades to computing.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any, TypeVar, cast

import redis
from cachetools import TTLCache

log = logging.getLogger(__name__)
T = TypeVar("T")
PREFIX = "citylens:q:"


def cache_key(name: str, version: int, params: dict[str, Any]) -> str:
    """A stable key for a query, its parameters and the data version."""
    digest = hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
    return f"{PREFIX}{name}:v{version}:{digest[:20]}"


class QueryCache:
    """get-or-compute for JSON-serialisable query results."""

    def __init__(self, redis_url: str | None, ttl_seconds: int = 300) -> None:
        self.ttl = ttl_seconds
        self._local: TTLCache[str, str] = TTLCache(maxsize=512, ttl=ttl_seconds)
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2) if redis_url else None

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    def _get(self, key: str) -> str | None:
        if self._redis is not None:
            try:
                raw = self._redis.get(key)
                return raw.decode() if isinstance(raw, bytes) else raw
            except redis.RedisError as error:
                log.warning("cache read failed, computing instead: %s", error)
                return None
        with self._lock:
            return self._local.get(key)

    def _set(self, key: str, value: str) -> None:
        if self._redis is not None:
            try:
                self._redis.set(key, value, ex=self.ttl)
            except redis.RedisError as error:
                log.warning("cache write failed: %s", error)
            return
        with self._lock:
            self._local[key] = value

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._computing.setdefault(key, threading.Lock())

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        """The cached value of ``key``, computing and storing it on a miss.

        Single-flight: concurrent callers of one key (threads here, and other workers
        through a Redis lock) wait for the first computation instead of repeating it.
        """
        # The JSON round trip gives back T for the JSON-shaped results this cache holds.
        hit = self._get(key)
        if hit is not None:
            return cast(T, json.loads(hit))
        with self._key_lock(key), self._shared_lock(key):
            hit = self._get(key)
            if hit is not None:
                return cast(T, json.loads(hit))
            encoded = json.dumps(compute(), default=str)
            self._set(key, encoded)
        with self._lock:
            self._computing.pop(key, None)
        return cast(T, json.loads(encoded))  # hits and misses return the same shapes

    def _shared_lock(self, key: str) -> AbstractContextManager[Any]:
        if self._redis is None:
            return nullcontext()
        lock = self._redis.lock(f"{key}:lock", timeout=120, blocking_timeout=60)
        return _TolerantLock(lock)

    def clear(self) -> None:
        """Forget every cached query (tests and admin use)."""
        with self._lock:
            self._local.clear()
        if self._redis is not None:
            for key in self._redis.scan_iter(f"{PREFIX}*"):
                self._redis.delete(key)


class _TolerantLock:
    """A Redis lock that never blocks the page when Redis misbehaves."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.held = False

    def __enter__(self) -> _TolerantLock:
        try:
            self.held = bool(self.lock.acquire())
        except redis.RedisError as error:
            log.warning("cache lock unavailable, computing anyway: %s", error)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held:
            try:
                self.lock.release()
            except redis.RedisError:  # expired or Redis gone: nothing to undo
                pass


@lru_cache(maxsize=4)
def get_cache(redis_url: str | None, ttl_seconds: int) -> QueryCache:
    """One cache per configuration per process."""
    return QueryCache(redis_url, ttl_seconds)
