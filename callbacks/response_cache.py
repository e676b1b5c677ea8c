"""Rendered callback answers kept until the data they read changes.

A data callback of a staff page (the overview, district, domain, services and alerts
pages, and the pages router for those paths) builds its Dash components from cached read
models, then Dash encodes them: 10-40 ms per answer on the benchmark city even when every
read model is cached. Here the encoded answer itself is kept, keyed by the request body
(the callback, its inputs and what triggered it), the signed-in user (whose role and
departments decide what the server lets them read) and the minute (relative times such as
"as of 5 min ago"), together with the data version of every scope its reads depended on
(``dashboard.queries.base.reads_noted``). A later identical request gets the stored answer
as long as none of those scopes has changed since; otherwise it is computed again.

Never kept: answers of other callbacks (Citizen 360 audits every read; downloads), errors,
and answers built from a stale read model (stale-while-revalidate), which would otherwise
outlive the recomputation.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from dashboard.auth.web import current_principal
from dashboard.cache import get_cache, request_counts, start_counting
from dashboard.queries.base import EVERY_WRITE, reads_noted, start_noting_reads, versions_of
from dashboard.settings import Settings

ENDPOINT_RULE = "/_dash-update-component"
PREFIX = "citylens:q:answer:"  # under the query cache's prefix: cleared with it
TTL_SECONDS = 120
PAGES = ("overview-", "district-", "domain-", "domains-", "services-", "alerts-")
ROUTER_OUTPUT = "_pages_content.children"
ROUTED_PATHS = ("", "district", "domain", "domains", "services", "alerts")
GZIP_LEVEL = 6  # kept answers are stored compressed (a 480 KB page is ~40 KB) and sent so


def cacheable(body: dict[str, Any]) -> bool:
    """Whether a callback request may be answered from a kept answer: a staff page's data
    callback (no download), or the pages router on one of those pages."""
    output = str(body.get("output", ""))  # "id.prop", or "..id.prop...id.prop.." for many
    ids = [part for part in output.strip(".").split("...") if part]
    if not ids or "download" in output:
        return False
    if any(ROUTER_OUTPUT in part for part in ids):
        path = next((str(i.get("value") or "") for i in body.get("inputs", [])
                     if isinstance(i, dict) and i.get("property") == "pathname"), None)
        return path is not None and path.strip("/").split("/")[0] in ROUTED_PATHS
    return all(part.startswith(PAGES) for part in ids)


def _key(settings: Settings, raw: bytes) -> str:
    who = current_principal()
    minute = int(settings.current_time().timestamp() // 60)
    digest = hashlib.sha256(raw)
    digest.update(json.dumps([settings.resolved_database_url, who.username, who.role,
                              who.departments, who.districts, minute]).encode())
    return PREFIX + digest.hexdigest()[:40]


def _kept_response(packed: bytes) -> Response:
    """A kept answer as it is sent: still gzip-compressed when the client takes gzip (as
    browsers do; nothing is compressed again), else plain."""
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        response = Response(packed, mimetype="application/json")
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
        return response
    return Response(gzip.decompress(packed), mimetype="application/json")


def keep_answers(server: Flask, settings: Settings) -> None:
    """Wrap the Dash callback endpoint of ``server`` with the kept answers."""
    rule = next(r for r in server.url_map.iter_rules() if r.rule == ENDPOINT_RULE)
    dispatch: Callable[..., Any] = server.view_functions[rule.endpoint]
    cache = get_cache(settings.redis_url, settings.cache_ttl_seconds)

    def answer(*args: Any, **kwargs: Any) -> Any:
        raw = request.get_data(cache=True)
        try:
            body = json.loads(raw)
        except ValueError:
            return dispatch(*args, **kwargs)
        if not isinstance(body, dict) or not cacheable(body):
            return dispatch(*args, **kwargs)
        key = _key(settings, raw)
        kept = cache.get_text(key)
        if kept is not None:
            entry = json.loads(kept)
            if versions_of(settings, set(entry["versions"])) == entry["versions"]:
                return _kept_response(base64.b64decode(entry["gzip"]))
        counted = request_counts()
        if not counted:  # (bench/live.py's headers count from the request's start)
            start_counting()
        start_noting_reads()
        before = versions_of(settings, {EVERY_WRITE})[EVERY_WRITE]
        response = dispatch(*args, **kwargs)
        scopes = reads_noted() or set()
        stale = request_counts().get("stale", 0) > counted.get("stale", 0)
        if (isinstance(response, Response) and response.status_code == 200 and scopes
                and not stale and response.mimetype == "application/json"):
            versions = versions_of(settings, scopes | {EVERY_WRITE})
            if versions[EVERY_WRITE] == before:  # no write while it was built
                if EVERY_WRITE not in scopes:
                    versions.pop(EVERY_WRITE)
                packed = gzip.compress(response.get_data(), GZIP_LEVEL)
                cache.put_text(key, json.dumps({
                    "versions": versions, "gzip": base64.b64encode(packed).decode("ascii")}),
                    TTL_SECONDS)
        return response

    server.view_functions[rule.endpoint] = answer
