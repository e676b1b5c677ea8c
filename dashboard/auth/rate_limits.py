"""A coarse rate limit on sign-in attempts per client address, with Flask-Limiter.

The throttle (``dashboard.auth.throttle``) decides whose password may be checked; this
limit stops an address from making the server hash passwords (every refusal costs one
Argon2 check, for equal timing) faster than a person types. Counts are shared through Redis
when one is configured (a short timeout: a sick Redis lets requests through rather than
hang them), else kept per worker process.
"""
from __future__ import annotations

from typing import cast

from flask import Blueprint, Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from dashboard.settings import Settings

SIGN_IN_RATE = "60 per minute"  # per client address: a town hall's staff behind one NAT
# The public read endpoints' blueprints (no sign-in): the open-data API, the NGSI-LD
# context source, the open-data files and catalogue, the Open311 server.
PUBLIC_READS = ("api_v1", "ngsi_ld", "opendata", "open311_v2")


def install_rate_limits(server: Flask, settings: Settings) -> Limiter:
    """A limiter for ``server`` (views opt in with ``limiter.limit(...)``)."""
    # redis-py takes seconds as floats (Flask-Limiter's hint says str | int)
    options = cast(dict[str, str | int], {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}
                   if settings.redis_url else {})
    return Limiter(get_remote_address, app=server, storage_uri=settings.redis_url or "memory://",
                   storage_options=options, key_prefix="citylens-limits", strategy="moving-window",
                   swallow_errors=True, in_memory_fallback_enabled=True, headers_enabled=False)


def limit_public_reads(limiter: Limiter, server: Flask, settings: Settings) -> None:
    """``settings.public_read_rate`` per client address over all the GETs of the public
    read blueprints registered on ``server``, counted together (anyone on the internet may
    call them, and a query may cost the store real work); over it, a 429."""
    if not settings.public_read_rate:
        return
    limit = limiter.shared_limit(settings.public_read_rate, scope="citylens-public-reads",
                                 methods=["GET", "HEAD"])
    for name in PUBLIC_READS:
        blueprint = server.blueprints.get(name)
        if blueprint is not None:
            limit(cast(Blueprint, blueprint))
