"""Query-result cache: Redis when configured, in-process otherwise.

Keys hold the query name, its parameters and the store's data versions, so an ingest
makes old entries unreachable (they expire by TTL). A Redis outage degrades to computing.

Stale-while-revalidate: beside each result, the newest result of the same query and
parameters (whatever the version) is kept under a *stale key* with the time it was
computed. When an ingest has made the current key miss, a caller gets that newer-than-
``stale_seconds`` result at once and the recomputation runs in the background, so no
viewer waits for a recomputation that someone else's ingest caused.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextvars import ContextVar
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any, TypeVar, cast

import redis
from cachetools import TTLCache

log = logging.getLogger(__name__)
T = TypeVar("T")
PREFIX = "citylens:q:"
# What the current request made the cache do: views computed, and served stale.
_COUNTS: ContextVar[dict[str, int] | None] = ContextVar("citylens_cache_counts", default=None)


def start_counting() -> None:
    """Count from here what this request (context) computes and serves stale."""
    _COUNTS.set({"computed": 0, "stale": 0})


def request_counts() -> dict[str, int]:
    """The counts since ``start_counting`` in this context (empty when not counting)."""
    return dict(_COUNTS.get() or {})


def _count(what: str) -> None:
    counts = _COUNTS.get()
    if counts is not None:
        counts[what] += 1


def _digest(params: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def cache_key(name: str, version: int, params: dict[str, Any]) -> str:
    """A stable key for a query, its parameters and the data version."""
    return f"{PREFIX}{name}:v{version}:{_digest(params)[:20]}"


def stale_key(name: str, params: dict[str, Any]) -> str:
    """The key of the newest result of a query and its parameters, whatever the version."""
    return f"{PREFIX}{name}:stale:{_digest(params)[:20]}"


REDIS_TIMEOUT = 0.5  # seconds to connect, and to answer one command
REDIS_PAUSE_SECONDS = 30  # after a failure, Redis is skipped this long
SHARED_DECODED = 16  # decoded shared results kept per process
TEXTS_KEPT = 64  # texts (rendered responses) kept per process when there is no Redis


class QueryCache:
    """get-or-compute for JSON-serialisable query results."""

    def __init__(self, redis_url: str | None, ttl_seconds: int = 300) -> None:
        self.ttl = ttl_seconds
        self._local: TTLCache[str, str] = TTLCache(maxsize=512, ttl=ttl_seconds)
        # Decoded results of ``shared`` reads (large, read-only): decoding 15,000 assets
        # from JSON costs more than the page that reads them.
        self._decoded: TTLCache[str, Any] = TTLCache(maxsize=SHARED_DECODED, ttl=ttl_seconds)
        self._texts: TTLCache[str, str] = TTLCache(maxsize=TEXTS_KEPT, ttl=ttl_seconds)
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}
        self._redis = (redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT,
                                            socket_connect_timeout=REDIS_TIMEOUT)
                       if redis_url else None)
        self._skip_redis_until = 0.0  # the circuit breaker: Redis failed, use the process
        self._refresher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cache-refresh")
        self._refreshing: dict[str, Future[None]] = {}

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    @property
    def redis_in_use(self) -> bool:
        """Whether Redis is configured and not skipped after a failure (circuit open)."""
        return self._redis is not None and time.monotonic() >= self._skip_redis_until

    def _redis_failed(self, doing: str, error: Exception) -> None:
        """Skip Redis for ``REDIS_PAUSE_SECONDS``: a hung or dead Redis then costs one
        short timeout, not one per read; the process's own cache serves meanwhile."""
        if self.redis_in_use:
            log.warning("cache %s failed, using the process's cache for %d s: %s", doing,
                        REDIS_PAUSE_SECONDS, error)
        self._skip_redis_until = time.monotonic() + REDIS_PAUSE_SECONDS

    def get_text(self, key: str) -> str | None:
        """A text stored with ``put_text`` (None when absent or the cache is down)."""
        if self.redis_in_use:
            return self._get(key)
        with self._lock:
            return self._texts.get(key)

    def put_text(self, key: str, value: str, ttl: int) -> None:
        """Keep a text for ``ttl`` seconds in Redis; without Redis, in the process's small
        cache of texts (``TEXTS_KEPT``), so large texts cannot fill a worker's memory."""
        if self.redis_in_use:
            self._set(key, value, ttl)
            return
        with self._lock:
            self._texts[key] = value

    def _get(self, key: str) -> str | None:
        if self._redis is not None and self.redis_in_use:
            try:
                raw = self._redis.get(key)
                return raw.decode() if isinstance(raw, bytes) else raw
            except redis.RedisError as error:
                self._redis_failed("read", error)
        with self._lock:
            return self._local.get(key)

    def _set(self, key: str, value: str, ttl: int | None = None) -> None:
        if self._redis is not None and self.redis_in_use:
            try:
                self._redis.set(key, value, ex=ttl or self.ttl)
                return
            except redis.RedisError as error:
                self._redis_failed("write", error)
        with self._lock:
            self._local[key] = value

    def _key_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._computing.setdefault(key, threading.Lock())

    def get_or_compute(self, key: str, compute: Callable[[], T], stale: str | None = None,
                       stale_seconds: float = 0, shared: bool = False) -> T:
        """The cached value of ``key``, computing and storing it on a miss.

        Single-flight: concurrent callers of one key (threads here, and other workers
        through a Redis lock) wait for the first computation instead of repeating it.
        With a ``stale`` key and ``stale_seconds``, a miss answers with the newest result
        computed within ``stale_seconds`` (if any) and recomputes in the background.
        """
        if shared:
            with self._lock:
                decoded = self._decoded.get(key)
            if decoded is not None:
                return cast(T, decoded)
            value = self._get_or_compute_json(key, compute, stale, stale_seconds)
            if not self._is_stale_answer(key):
                with self._lock:
                    self._decoded[key] = value
            return value
        return self._get_or_compute_json(key, compute, stale, stale_seconds)

    def _is_stale_answer(self, key: str) -> bool:
        """Whether ``key`` is still missing (the answer just given was a stale one)."""
        return self._get(key) is None

    def _get_or_compute_json(self, key: str, compute: Callable[[], T], stale: str | None,
                             stale_seconds: float) -> T:
        # The JSON round trip gives back T for the JSON-shaped results this cache holds.
        hit = self._get(key)
        if hit is not None:
            return cast(T, json.loads(hit))
        if stale is not None and stale_seconds > 0:
            previous = self._get_stale(stale, stale_seconds)
            if previous is not None:
                self._refresh(key, compute, stale)
                _count("stale")
                return cast(T, json.loads(previous))
        return cast(T, json.loads(self._compute(key, compute, stale)))

    def _compute(self, key: str, compute: Callable[[], Any], stale: str | None) -> str:
        """Compute and store ``key`` once across threads and workers; its JSON."""
        with self._key_lock(key), self._shared_lock(key):
            hit = self._get(key)
            if hit is not None:
                return hit
            encoded = json.dumps(compute(), default=str)
            _count("computed")
            self._set(key, encoded)
            if stale is not None:
                self._set(stale, f"{time.time():.3f}|{encoded}", ttl=self.ttl * 2)
        with self._lock:
            self._computing.pop(key, None)
        return encoded  # hits and misses return the same shapes

    def _get_stale(self, stale: str, max_age: float) -> str | None:
        raw = self._get(stale)
        if raw is None:
            return None
        stamp, _, encoded = raw.partition("|")
        try:
            fresh = time.time() - float(stamp) <= max_age
        except ValueError:
            return None
        return encoded if fresh else None

    def _refresh(self, key: str, compute: Callable[[], Any], stale: str) -> None:
        """Recompute ``key`` in a background thread (once per key in this process)."""
        with self._lock:
            running = self._refreshing.get(key)
            if running is not None and not running.done():
                return

            def refresh() -> None:
                try:
                    self._compute(key, compute, stale)
                except Exception:  # a failed refresh is logged; the next miss tries again
                    log.exception("background refresh of %s failed", key)
                finally:
                    with self._lock:
                        self._refreshing.pop(key, None)

            self._refreshing[key] = self._refresher.submit(refresh)

    def drain(self, timeout: float = 60) -> None:
        """Wait for the background refreshes under way (tests, and a clean shutdown)."""
        with self._lock:
            running = list(self._refreshing.values())
        wait(running, timeout=timeout)

    def _shared_lock(self, key: str) -> AbstractContextManager[Any]:
        if self._redis is None or not self.redis_in_use:
            return nullcontext()
        lock = self._redis.lock(f"{key}:lock", timeout=120, blocking_timeout=60)
        return _TolerantLock(lock, self._redis_failed)

    def clear(self) -> None:
        """Forget every cached query (tests and admin use)."""
        with self._lock:
            self._local.clear()
            self._decoded.clear()
            self._texts.clear()
        if self._redis is not None:
            for key in self._redis.scan_iter(f"{PREFIX}*"):
                self._redis.delete(key)


class _TolerantLock:
    """A Redis lock that never blocks the page when Redis misbehaves."""

    def __init__(self, lock: Any, failed: Callable[[str, Exception], None]) -> None:
        self.lock = lock
        self.failed = failed
        self.held = False

    def __enter__(self) -> _TolerantLock:
        try:
            self.held = bool(self.lock.acquire())
        except redis.RedisError as error:  # computing anyway
            self.failed("lock", error)
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
