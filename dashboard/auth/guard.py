"""The access guard: the first check every request passes, before anything runs (default deny).

- a Flask view that declares its roles (``@roles_required(...)``): those roles;
- Dash's own files (scripts, styles, layout, dependency list, icon): everyone, no data;
- Dash's development routes (``/_reload-hash``): nobody unless debugging;
- a page (Dash's index for a path): the roles of the page that Dash's own lookup finds for
  that path (``rules.page_roles``); no page there: 404;
- a callback (``/_dash-update-component``): the roles of the callback that Dash will run,
  found by the key Dash dispatches on (the body's ``output``); the pages router by the page
  it will render, read from its first input, as Dash reads it (by position).

Anything else is refused: anonymous -> the sign-in form (pages) or 401 (data); signed in
without the role -> 403. The pages and callbacks check again where their data is read
(``layouts/access.py``). No Dash imports here (Flask only).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from dashboard.auth.access import allowed
from dashboard.auth.login_page import not_found_html, refusal_html
from dashboard.auth.users import Principal

ROLES_ATTR = "citylens_roles"
RULES_KEY = "CITYLENS_ACCESS_RULES"
UPDATE_PATH = "/_dash-update-component"
# Static files: no user is loaded and no session touched for these.
STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/static/")
# Endpoints of Dash's own routes (Dash names each after its path).
DASH_OPEN = ("/_dash-layout", "/_dash-dependencies", "/_favicon.ico")
DASH_DEVELOPMENT = ("/_reload-hash",)
DASH_INDEX = ("/", "/<path:path>")  # the page index
MAX_REQUEST_BYTES = 256 * 1024  # a callback's body (Dash sends a few kB); routes may differ


@dataclass(frozen=True)
class AccessRules:
    """What each page and callback allows, as the app will really run them.

    ``page_roles(path)``: the roles of the page Dash renders for ``path`` (None: no page);
    ``callback_roles(key)``: the roles of the callback Dash dispatches ``key`` to (None: no
    such callback); ``router_output``: the key of Dash's pages router."""

    page_roles: Callable[[str], tuple[str, ...] | None]
    callback_roles: Callable[[str], tuple[str, ...] | None]
    router_output: str
    # Callbacks that carry a file (a resident's photo) may be larger: key -> bytes.
    large_callbacks: Mapping[str, int] = field(default_factory=dict)

    def body_limit(self, key: str | None = None) -> int:
        """The most bytes the callback ``key`` may be sent (any callback: None)."""
        if key is None:
            return max([MAX_REQUEST_BYTES, *self.large_callbacks.values()])
        return self.large_callbacks.get(key, MAX_REQUEST_BYTES)


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare which roles may use a Flask view (the guard reads it; undeclared = denied)."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, ROLES_ATTR, tuple(roles))
        return view

    return mark


def check_request(who: Principal, debug: bool = False) -> Response | None:
    """None when ``who`` may make the current request, else the refusal to send."""
    if request.method == "OPTIONS" or request.endpoint is None:
        return None  # preflight, or a path Flask answers 404 (or 405) for
    if request.endpoint in DASH_DEVELOPMENT and not debug:
        return _not_found()
    view = current_app.view_functions.get(request.endpoint)
    declared = getattr(view, ROLES_ATTR, None)
    rules: AccessRules = current_app.config[RULES_KEY]
    if declared is not None:
        ok = allowed(who, declared)
    elif request.endpoint in DASH_OPEN + DASH_DEVELOPMENT:
        return None
    elif request.path == UPDATE_PATH:
        ok = _callback_ok(who, rules)
    elif request.endpoint in DASH_INDEX:
        roles = rules.page_roles(request.path)
        if roles is None:
            return _not_found()
        ok = allowed(who, roles)
    else:
        ok = False
    return None if ok else refuse(who)


def _not_found() -> Response:
    return Response(not_found_html(), status=404, mimetype="text/html")


def callback_body(limit: int = MAX_REQUEST_BYTES) -> dict[str, Any] | None:
    """The callback request's JSON object, or None when it is not one (malformed, nested
    too deep to parse). Over ``limit`` bytes: 413, before any parsing, with or without a
    Content-Length (Werkzeug stops reading a chunked body at the request's
    ``max_content_length``, one byte more, without saying so: the length tells)."""
    request.max_content_length = limit + 1
    if len(request.get_data(cache=True)) > limit:
        raise RequestEntityTooLarge(f"a callback request is at most {limit} bytes")
    try:
        body = request.get_json(silent=True)
    except RecursionError:
        return None
    return body if isinstance(body, dict) else None


def _callback_ok(who: Principal, rules: AccessRules) -> bool:
    body = callback_body(rules.body_limit())
    output = body.get("output") if body else None
    if body is None or not isinstance(output, str):
        return False
    if len(request.get_data(cache=True)) > rules.body_limit(output):
        raise RequestEntityTooLarge(f"a callback request is at most "
                                    f"{rules.body_limit(output)} bytes")
    if output == rules.router_output:
        inputs = body.get("inputs")
        first = inputs[0] if isinstance(inputs, list) and inputs else None
        path = first.get("value") if isinstance(first, dict) else None
        roles = rules.page_roles(path) if isinstance(path, str) else None
    else:
        roles = rules.callback_roles(output)
    return roles is not None and allowed(who, roles)


def refuse(who: Principal) -> Response:
    """401 or a redirect to sign in for the anonymous, 403 for a signed-in user."""
    wants_page = request.method == "GET" and not request.path.startswith("/api/")
    expired = bool(g.get("citylens_expired"))
    if not who.signed_in:
        if wants_page:
            query = {"next": request.full_path.rstrip("?")}
            if expired:
                query["expired"] = "1"
            return Response(status=302, headers={"Location": "/login?" + urlencode(query)})
        message = "your session has expired; sign in again" if expired else "sign in first"
        return Response(f'{{"error": "{message}"}}', status=401, mimetype="application/json")
    if wants_page:
        return Response(refusal_html(who.username, who.role), status=403, mimetype="text/html")
    return Response('{"error": "your role may not use this"}', status=403,
                    mimetype="application/json")
