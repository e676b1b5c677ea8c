"""Rate limits on public writes (posting a service request): per client address and per
api_key, with the ``limits`` library that Flask-Limiter is built on, so that the refusal
is in the caller's own format (the Open311 error list). Counts are shared through Redis
when one is configured, else kept per worker process; a Redis that fails lets the write
through (a short timeout; logged), as the sign-in limit does."""
from __future__ import annotations

import logging
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from dashboard.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteLimits:
    """The limits of one kind of public write (``scope``), per address and per key."""

    limiter: MovingWindowRateLimiter
    scope: str
    per_address: RateLimitItem
    per_key: RateLimitItem

    @classmethod
    def of(cls, settings: Settings, scope: str) -> WriteLimits:
        """The limits ``settings`` configure, counted in its Redis (or in memory)."""
        if settings.redis_url:
            storage = storage_from_string(settings.redis_url, socket_timeout=0.25,
                                          socket_connect_timeout=0.25)
        else:
            storage = storage_from_string("memory://")
        return cls(MovingWindowRateLimiter(storage), scope,
                   parse(settings.public_write_rate_per_address),
                   parse(settings.public_write_rate_per_key))

    @classmethod
    def kept_in(cls, config: MutableMapping[str, Any], settings: Settings,
                scope: str) -> WriteLimits:
        """The limits of ``scope``, made once per app and kept in its ``config``."""
        key = f"CITYLENS_WRITE_LIMITS_{scope}"
        limits = config.get(key)
        if not isinstance(limits, cls):
            limits = config[key] = cls.of(settings, scope)
        return limits

    def by_address(self, address: str | None) -> str | None:
        """Count a write from ``address``: None within the limit, else what was passed."""
        return self._hit("address", address or "unknown", self.per_address)

    def by_app(self, app: str) -> str | None:
        """Count a write by the app of an api_key (its name, never the key)."""
        return self._hit("app", app, self.per_key)

    def _hit(self, kind: str, who: str, limit: RateLimitItem) -> str | None:
        try:
            if self.limiter.hit(limit, "citylens-writes", self.scope, kind, who):
                return None
        except Exception as error:  # noqa: BLE001 - a sick Redis must not stop residents
            log.warning("rate limit store unavailable, write let through: %s", error)
            return None
        return f"more than {limit} from this {'api_key' if kind == 'app' else kind}"
