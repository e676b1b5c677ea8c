"""Query cache on real Redis and in process: keyed by data version, survives outages."""
from __future__ import annotations

import time

import pytest
import redis

from dashboard.cache import QueryCache, cache_key
from tests.conftest import REDIS_URL, service_missing


@pytest.fixture
def redis_cache() -> QueryCache:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing("Redis at " + REDIS_URL, error)
    cache = QueryCache(REDIS_URL, ttl_seconds=60)
    cache.clear()
    return cache


def _counting() -> tuple[list[int], object]:
    calls: list[int] = []

    def compute() -> dict[str, object]:
        calls.append(1)
        return {"value": 1.5, "rows": [1, 2]}

    return calls, compute


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_get_or_compute_computes_once_per_key(backend: str, request) -> None:
    cache = request.getfixturevalue("redis_cache") if backend == "redis" else QueryCache(None)
    assert cache.backend == backend
    calls, compute = _counting()
    key = cache_key("overview", 3, {"district": "d1", "window": "week"})
    first = cache.get_or_compute(key, compute)
    second = cache.get_or_compute(key, compute)
    assert first == second == {"value": 1.5, "rows": [1, 2]}
    assert len(calls) == 1
    cache.get_or_compute(cache_key("overview", 4, {"district": "d1", "window": "week"}), compute)
    assert len(calls) == 2  # a new data version is a new key


def test_key_depends_on_parameters_not_their_order() -> None:
    assert cache_key("q", 1, {"a": 1, "b": 2}) == cache_key("q", 1, {"b": 2, "a": 1})
    assert cache_key("q", 1, {"a": 1}) != cache_key("q", 1, {"a": 2})


def test_unreachable_redis_degrades_to_computing() -> None:
    cache = QueryCache("redis://127.0.0.1:1/0", ttl_seconds=60)
    calls, compute = _counting()
    assert cache.get_or_compute("k", compute) == {"value": 1.5, "rows": [1, 2]}
    assert len(calls) == 1


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_concurrent_misses_compute_once(backend: str, request) -> None:
    import threading
    import time

    cache = request.getfixturevalue("redis_cache") if backend == "redis" else QueryCache(None)
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    import uuid

    key = cache_key("concurrent", 1, {"run": uuid.uuid4().hex})  # never cached before
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute(key, slow)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [42, 42, 42, 42]
    assert len(calls) == 1


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_stale_while_revalidate_answers_at_once_and_refreshes_behind(backend: str,
                                                                     request) -> None:
    """After an ingest (a new version), the first viewer gets the newest earlier result at
    once; the recomputation runs in the background and later callers get its result."""
    import threading

    from dashboard.cache import stale_key

    cache = request.getfixturevalue("redis_cache") if backend == "redis" else QueryCache(None)
    params = {"district": None, "window": "week"}
    stale = stale_key("overview", params)
    assert cache.get_or_compute(cache_key("overview", 1, params), lambda: {"v": 1},
                                stale=stale, stale_seconds=60) == {"v": 1}
    release = threading.Event()
    started: list[str] = []

    def slow() -> dict[str, int]:
        started.append(threading.current_thread().name)
        assert release.wait(10)
        return {"v": 2}

    newer = cache_key("overview", 2, params)
    assert cache.get_or_compute(newer, slow, stale=stale, stale_seconds=60) == {"v": 1}
    assert cache.get_or_compute(newer, slow, stale=stale, stale_seconds=60) == {"v": 1}
    release.set()
    cache.drain()
    assert started and all(name.startswith("cache-refresh") for name in started)
    assert len(started) == 1  # one refresh, however many viewers asked meanwhile
    assert cache.get_or_compute(newer, slow, stale=stale, stale_seconds=60) == {"v": 2}


def test_without_stale_seconds_or_a_recent_result_the_viewer_waits_for_fresh() -> None:
    import time

    from dashboard.cache import stale_key

    cache = QueryCache(None)
    params = {"window": "week"}
    stale = stale_key("kpis", params)
    cache.get_or_compute(cache_key("kpis", 1, params), lambda: [1], stale=stale,
                         stale_seconds=60)
    assert cache.get_or_compute(cache_key("kpis", 2, params), lambda: [2], stale=stale) == [2]
    time.sleep(0.05)
    assert cache.get_or_compute(cache_key("kpis", 3, params), lambda: [3], stale=stale,
                                stale_seconds=0.01) == [3]  # the newest result is too old


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_shared_results_are_decoded_once_per_process(backend: str, request) -> None:
    cache = request.getfixturevalue("redis_cache") if backend == "redis" else QueryCache(None)
    calls: list[int] = []

    def compute() -> dict[str, list[int]]:
        calls.append(1)
        return {"rows": list(range(1000))}

    key = cache_key("shared-test", 1, {"domain": "lighting"})
    first = cache.get_or_compute(key, compute, shared=True)
    again = cache.get_or_compute(key, compute, shared=True)
    assert again is first and len(calls) == 1  # the decoded object itself, not a new decode
    plain = cache.get_or_compute(key, compute)
    assert plain == first and plain is not first  # a plain read decodes its own copy
    newer = cache.get_or_compute(cache_key("shared-test", 2, {"domain": "lighting"}), compute,
                                 shared=True)
    assert newer == first and newer is not first and len(calls) == 2  # a new data version
    cache.clear()
    assert cache.get_or_compute(key, compute, shared=True) is not first and len(calls) == 3


def test_a_hung_redis_is_skipped_and_the_process_serves(side_redis, monkeypatch) -> None:
    """Redis stopped with SIGSTOP: the first read times out once and opens the circuit;
    until it closes, reads and writes use the process's cache, so nothing waits on Redis
    again and nothing is computed twice; once Redis answers again it is used again."""
    from dashboard import cache as module

    url = side_redis.url
    monkeypatch.setattr(module, "REDIS_PAUSE_SECONDS", 0.5)
    cache = QueryCache(url, ttl_seconds=60)
    calls, compute = _counting()
    assert cache.get_or_compute("before", compute) == {"value": 1.5, "rows": [1, 2]}
    side_redis.hang()
    try:
        assert cache.get_or_compute("during", compute) == {"value": 1.5, "rows": [1, 2]}
        assert not cache.redis_in_use  # the circuit is open
        assert cache.get_or_compute("during", compute) == {"value": 1.5, "rows": [1, 2]}
        assert len(calls) == 2  # "during" came from the process's cache the second time
    finally:
        side_redis.resume()
    time.sleep(0.6)
    assert cache.redis_in_use
    cache.get_or_compute("after", compute)
    assert redis.Redis.from_url(url).exists("after") == 1  # Redis is written to again
