"""One retry policy for every connector, with tenacity: a few attempts, waits that grow
exponentially with full jitter (so that many sources recovering at once do not hammer a
server in step), a server's ``Retry-After`` honoured, and one HTTP session per thread (a
run reuses its connections).

The policy is settings: ``CITYLENS_RETRY_ATTEMPTS`` (tries in all, default 4) and
``CITYLENS_RETRY_BASE_SECONDS`` (the first wait's ceiling, default 0.5; 0 retries at once,
as the tests do).
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_random_exponential

from dashboard.settings import get_settings

T = TypeVar("T")
MAX_WAIT_SECONDS = 60.0  # no single wait is longer, whatever a server asks
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_local = threading.local()


@dataclass(frozen=True)
class RetryPolicy:
    """How many tries in all, and the first wait's ceiling (doubling after each try)."""

    attempts: int = 4
    base_seconds: float = 0.5

    def longest_wait(self) -> float:
        """The most all the waits between tries can add up to (without ``Retry-After``)."""
        return float(sum(min(self.base_seconds * 2.0 ** i, MAX_WAIT_SECONDS)
                         for i in range(self.attempts - 1)))


def current_policy() -> RetryPolicy:
    """The policy the settings give (``CITYLENS_RETRY_*``)."""
    settings = get_settings()
    return RetryPolicy(max(1, settings.retry_attempts), max(0.0, settings.retry_base_seconds))


class Retryable(Exception):
    """A failure worth another try (a dropped connection, a 429 or 5xx), with what the
    server asked to wait, if it did."""

    def __init__(self, problem: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header (seconds, or an HTTP date) in seconds; None when absent or
    unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def _wait(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    """Full-jitter exponential backoff, or the server's ``Retry-After`` when it asks for
    longer; never more than ``MAX_WAIT_SECONDS``."""
    backoff = wait_random_exponential(multiplier=policy.base_seconds, max=MAX_WAIT_SECONDS)

    def wait(state: RetryCallState) -> float:
        if policy.base_seconds <= 0:
            return 0.0
        seconds = backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, Retryable) and error.retry_after is not None:
            seconds = max(seconds, error.retry_after)
        return min(seconds, MAX_WAIT_SECONDS)

    return wait


def call_with_retries(attempt: Callable[[], T], policy: RetryPolicy | None = None) -> T:
    """``attempt()`` until it does not raise ``Retryable``, at most ``policy.attempts``
    times; the last ``Retryable`` is raised when every try failed."""
    policy = policy or current_policy()
    retrying = Retrying(stop=stop_after_attempt(policy.attempts), wait=_wait(policy),
                        retry=retry_if_exception_type(Retryable), reraise=True)
    return retrying(attempt)


def session() -> requests.Session:
    """This thread's HTTP session (connections kept alive between a run's requests)."""
    found = getattr(_local, "session", None)
    if found is None:
        found = _local.session = requests.Session()
    return found
