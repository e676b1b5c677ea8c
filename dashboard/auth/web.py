"""Sign-in for the web app (Flask-Login) and the guard every request passes (default deny).

``install(server, settings, rules)`` adds ``/login`` and ``/logout``, keeps the signed-in
user in a signed session cookie that expires after ``session_idle_minutes`` without a
request (and ``session_max_hours`` after sign-in whatever happens), and checks every request
against ``rules``:

- a Flask view that declares its roles (``@roles_required(...)``): those roles;
- Dash's own files (scripts, styles, layout, dependency list): everyone, they hold no data;
- a page (Dash's index for a path): the roles the page declares, ``rules.page_roles``;
- a callback (``/_dash-update-component``): the roles of every component it writes
  (``rules.callback_roles``, by id prefix); the pages router by the page it renders.

Anything else is refused. Refusals: anonymous -> the sign-in form (pages) or 401 (data);
signed in without the role -> 403. No Dash imports (Flask only).
"""
from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, has_request_context, redirect, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from dashboard.auth.access import allowed, callback_allowed, output_ids
from dashboard.auth.login_page import login_html, refusal_html
from dashboard.auth.users import ANONYMOUS, Principal, SignInError, authenticate, load_principal
from dashboard.settings import Settings
from dashboard.store import get_engine

ROLES_ATTR = "citylens_roles"
RULES_KEY = "CITYLENS_ACCESS_RULES"
UPDATE_PATH = "/_dash-update-component"
PAGES_CONTENT, PAGES_LOCATION = "_pages_content", "_pages_location"
# Dash's own routes: the app's code, styles and empty shell, no city data.
# Static files among them: no user is loaded and no session touched for these.
STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico", "/static/")
OPEN_PREFIXES = (*STATIC_PREFIXES, "/_dash-layout", "/_dash-dependencies", "/_reload-hash")
SIGNED_IN_AT, LAST_SEEN, CSRF = "citylens_since", "citylens_seen", "citylens_csrf"


@dataclass(frozen=True)
class AccessRules:
    """What each page and callback allows. ``page_roles(path)`` gives the roles of the page
    at ``path`` (None when no page is there: Dash answers "not found");
    ``callback_roles`` maps component-id prefixes to roles."""

    page_roles: Callable[[str], tuple[str, ...] | None]
    callback_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class SessionUser(UserMixin):
    """Flask-Login's user: the signed-in principal, identified by username."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def get_id(self) -> str:
        return self.principal.username


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare which roles may use a Flask view (the guard reads it; undeclared = denied)."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, ROLES_ATTR, tuple(roles))
        return view

    return mark


def current_principal() -> Principal:
    """Who makes the current request (ANONYMOUS outside a request or when not signed in)."""
    if not has_request_context():
        return ANONYMOUS
    user = current_user
    if user is not None and user.is_authenticated and isinstance(user, SessionUser):
        return user.principal
    return ANONYMOUS


def secret_key(settings: Settings) -> str:
    """``CITYLENS_SECRET_KEY``, else a random key kept in ``var/secret_key`` (made once,
    readable by its owner only), so sessions survive restarts and every install differs."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.var_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # exclusive create: of several workers starting at once, one writes the key
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(secrets.token_hex(32))
    for _ in range(50):  # another worker may still be writing it
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
        time.sleep(0.05)
    raise RuntimeError(f"{path} is empty; delete it or set CITYLENS_SECRET_KEY")


def csrf_token() -> str:
    """The session's anti-forgery token for forms (made on first need)."""
    if CSRF not in session:
        session[CSRF] = secrets.token_urlsafe(32)
    return str(session[CSRF])


def _csrf_ok() -> bool:
    sent, kept = request.form.get("csrf_token", ""), session.get(CSRF, "")
    return bool(sent and kept) and hmac.compare_digest(str(sent), str(kept))


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in (anything else, e.g. another site: ``/``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def install(server: Flask, settings: Settings, rules: AccessRules) -> None:
    """Add sign-in, sign-out, session expiry and the access guard to ``server``."""
    server.config.update(
        SECRET_KEY=secret_key(settings), SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="citylens_session",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
    )
    server.config[RULES_KEY] = rules
    manager = LoginManager(server)
    manager.session_protection = "basic"
    engine = get_engine(settings.resolved_database_url)

    @manager.user_loader
    def _load(username: str) -> SessionUser | None:
        with engine.connect() as conn:
            principal = load_principal(conn, username)
        return SessionUser(principal) if principal else None

    server.add_url_rule("/login", "citylens_login", _login_view(settings),
                        methods=["GET", "POST"])
    server.add_url_rule("/logout", "citylens_logout", _logout, methods=["POST"])
    server.before_request(lambda: _guard(settings))
    server.after_request(_headers)


def _login_view(settings: Settings) -> Callable[[], Any]:
    """The sign-in view: the form (GET) and the sign-in itself (POST, CSRF-checked)."""
    engine = get_engine(settings.resolved_database_url)

    @roles_required("public", "department_head", "official", "admin")
    def login() -> Any:
        target = safe_next(request.values.get("next"))
        if request.method == "GET":
            return login_html(csrf_token(), target, expired=request.args.get("expired") == "1")
        if not _csrf_ok():
            return login_html(csrf_token(), target, "The form expired; please try again."), 400
        username = request.form.get("username", "")
        try:
            principal = authenticate(engine, username, request.form.get("password", ""),
                                     datetime.now(timezone.utc))
        except SignInError as refusal:
            return login_html(csrf_token(), target, str(refusal), username), 401
        session.clear()  # a fresh session for the signed-in user (no fixation)
        login_user(SessionUser(principal))
        session.permanent = True
        session[SIGNED_IN_AT] = session[LAST_SEEN] = time.time()
        csrf_token()
        return redirect(target)

    return login


@roles_required("public", "department_head", "official", "admin")
def _logout() -> Any:
    if _csrf_ok():
        logout_user()
        session.clear()
    return redirect("/login")


def _expired(settings: Settings) -> bool:
    now = time.time()
    since, seen = session.get(SIGNED_IN_AT), session.get(LAST_SEEN)
    if not isinstance(since, (int, float)) or not isinstance(seen, (int, float)):
        return True
    return (now - seen > settings.session_idle_minutes * 60
            or now - since > settings.session_max_hours * 3600)


def _guard(settings: Settings) -> Response | None:
    """Refuse the request unless the rules allow it (see the module docstring)."""
    if request.method == "OPTIONS" or request.endpoint is None:
        return None  # preflight, or a path Flask will answer 404 for
    if request.path.startswith(STATIC_PREFIXES):
        return None  # scripts, styles, icons: no user to load, no session to touch
    if current_user.is_authenticated:
        if _expired(settings):
            logout_user()
            session.clear()
            g.citylens_expired = True
        else:
            session[LAST_SEEN] = time.time()
    who = current_principal()
    view = current_app.view_functions.get(request.endpoint)
    declared = getattr(view, ROLES_ATTR, None)
    rules: AccessRules = current_app.config[RULES_KEY]
    if declared is not None:
        ok = allowed(who, declared)
    elif request.path.startswith(OPEN_PREFIXES):
        return None
    elif request.path == UPDATE_PATH:
        ok = _callback_ok(who, rules)
    else:
        page = rules.page_roles(request.path)
        ok = page is None or allowed(who, page)
    return None if ok else _refuse(who)


def _callback_ok(who: Principal, rules: AccessRules) -> bool:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return False
    if PAGES_CONTENT in output_ids(body):
        path = next((i.get("value") for i in body.get("inputs") or []
                     if isinstance(i, dict) and i.get("id") == PAGES_LOCATION
                     and i.get("property") == "pathname"), None)
        page = rules.page_roles(path if isinstance(path, str) else "/")
        return page is None or allowed(who, page)
    return callback_allowed(who, body, rules.callback_roles)


def _refuse(who: Principal) -> Response:
    """401 or a redirect to sign in for the anonymous, 403 for a signed-in user."""
    wants_page = request.method == "GET" and not request.path.startswith("/api/")
    expired = bool(g.get("citylens_expired"))
    if not who.signed_in:
        if wants_page:
            query = {"next": request.full_path.rstrip("?")}
            if expired:
                query["expired"] = "1"
            return redirect("/login?" + urlencode(query))
        message = "your session has expired; sign in again" if expired else "sign in first"
        return Response(f'{{"error": "{message}"}}', status=401, mimetype="application/json")
    if wants_page:
        return Response(refusal_html(who.username, who.role), status=403, mimetype="text/html")
    return Response('{"error": "your role may not use this"}', status=403,
                    mimetype="application/json")


def _headers(response: Response) -> Response:
    """Security headers on every answer; nothing personal is cached by browsers or proxies."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if request.path.startswith(STATIC_PREFIXES):
        return response  # static files load no user (and stay cacheable)
    if current_principal().signed_in or request.path in ("/login", UPDATE_PATH):
        response.headers["Cache-Control"] = "no-store"
    return response
