"""Sign-in for the web app (Flask-Login over sessions kept on the server) and its wiring.

``install(server, settings, rules)`` adds ``/login`` and ``/logout``, bounds the size of
every request, keeps a server-side session per sign-in (``dashboard.auth.sessions``: the
signed cookie carries only its token, so signing out ends it everywhere), throttles
sign-in attempts (``dashboard.auth.throttle``), sends the security headers
(``dashboard.auth.headers``) and puts every request through the guard
(``dashboard.auth.guard``). No Dash imports (Flask only).
"""
from __future__ import annotations

import hmac
import os
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, has_request_context, redirect, request, session
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from sqlalchemy import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard.auth.guard import (
    MAX_REQUEST_BYTES,
    RULES_KEY,
    STATIC_PREFIXES,
    UPDATE_PATH,
    AccessRules,
    check_request,
    roles_required,
)
from dashboard.auth.headers import install_headers
from dashboard.auth.login_page import login_html
from dashboard.auth.rate_limits import SIGN_IN_RATE, install_rate_limits, limit_public_reads
from dashboard.auth.sessions import Limits, end_session, resume_session, start_session
from dashboard.auth.users import ANONYMOUS, REFUSED, Principal, SignInError, authenticate
from dashboard.settings import Settings
from dashboard.store import get_engine

__all__ = ["AccessRules", "SessionUser", "csrf_token", "current_principal", "install",
           "roles_required", "secret_key"]

CSRF = "citylens_csrf"
MAX_FORM_BYTES = 16 * 1024


class SessionUser(UserMixin):
    """Flask-Login's user: the signed-in principal and the token of their session."""

    def __init__(self, principal: Principal, token: str = "") -> None:
        self.principal = principal
        self.token = token

    def get_id(self) -> str:
        return self.token


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


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _limits(settings: Settings) -> Limits:
    return Limits(idle=timedelta(minutes=settings.session_idle_minutes),
                  max_age=timedelta(hours=settings.session_max_hours))


def install(server: Flask, settings: Settings, rules: AccessRules,
            inline_script_hashes: Callable[[], Iterable[str]] = tuple) -> None:
    """Add sign-in, sign-out, server-side sessions, size limits, security headers and the
    access guard to ``server``. ``inline_script_hashes`` gives the CSP hashes of the page's
    inline scripts (asked again on each page, as Dash adds some at its first request)."""
    server.config.update(
        SECRET_KEY=secret_key(settings), SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="citylens_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        # one byte over the limit, so that a chunked body that reaches it can be told apart
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES + 1, MAX_FORM_MEMORY_SIZE=MAX_FORM_BYTES,
        MAX_FORM_PARTS=20,
    )
    if settings.trusted_proxies:
        server.wsgi_app = ProxyFix(server.wsgi_app,  # type: ignore[method-assign]
                                   x_for=settings.trusted_proxies,
                                   x_proto=settings.trusted_proxies)
    server.config[RULES_KEY] = rules
    engine = get_engine(settings.resolved_database_url)
    manager = LoginManager(server)
    manager.session_protection = "basic"

    @manager.user_loader
    def _load(token: str) -> SessionUser | None:
        with engine.begin() as conn:
            found = resume_session(conn, token, _now(), _limits(settings))
        if found.expired:
            g.citylens_expired = True
        return SessionUser(found.principal, token) if found.principal else None

    limiter = install_rate_limits(server, settings)
    limit_public_reads(limiter, server, settings)
    login = limiter.limit(SIGN_IN_RATE, methods=["POST"])(_login_view(settings, engine))
    server.add_url_rule("/login", "citylens_login", login, methods=["GET", "POST"])
    server.register_error_handler(429, _too_many)
    server.add_url_rule("/logout", "citylens_logout", _logout_view(engine), methods=["POST"])
    server.before_request(lambda: _guard(settings))
    server.after_request(_no_store)
    install_headers(server, settings, inline_script_hashes)


def _login_view(settings: Settings, engine: Engine) -> Callable[[], Any]:
    """The sign-in view: the form (GET) and the sign-in itself (POST, CSRF-checked)."""

    @roles_required("public", "department_head", "official", "admin")
    def login() -> Any:
        target = safe_next(request.values.get("next"))
        if request.method == "GET":
            return login_html(csrf_token(), target, expired=request.args.get("expired") == "1")
        if not _csrf_ok():
            return login_html(csrf_token(), target, "The form expired; please try again."), 400
        username = request.form.get("username", "")[:100]
        try:
            principal = authenticate(engine, username, request.form.get("password", ""),
                                     _now(), request.remote_addr or "")
        except SignInError as refusal:
            return login_html(csrf_token(), target, str(refusal), username), 401
        with engine.begin() as conn:
            token = start_session(conn, principal.username, _now(), _limits(settings))
        session.clear()  # a fresh session for the signed-in user (no fixation)
        login_user(SessionUser(principal, token))
        session.permanent = True
        csrf_token()
        return redirect(target)

    return login


def _too_many(error: Exception) -> Any:
    """Over a rate of an address: at sign-in, the form with the answer every refusal gets;
    elsewhere (a public read whose blueprint has no handler of its own), one JSON line."""
    if request.path != "/login":
        message = "too many requests from this address; slow down and retry later"
        if request.path.startswith("/ngsi-ld/"):  # NGSI-LD's ProblemDetails
            return {"type": "https://uri.etsi.org/ngsi-ld/errors/OperationNotSupported",
                    "title": "Too many requests", "status": 429, "detail": message}, 429
        return {"error": {"parameter": None, "message": message}}, 429
    target = safe_next(request.values.get("next"))
    return login_html(csrf_token(), target, REFUSED), 429


def _logout_view(engine: Engine) -> Callable[[], Any]:
    """Sign-out (POST, CSRF-checked): the server-side session ends, the cookie is cleared."""

    @roles_required("public", "department_head", "official", "admin")
    def logout() -> Any:
        if _csrf_ok():
            user = current_user
            if isinstance(user, SessionUser):
                with engine.begin() as conn:
                    end_session(conn, user.token, _now())
            logout_user()
            session.clear()
        return redirect("/login")

    return logout


def _guard(settings: Settings) -> Response | None:
    """Refuse the request unless the rules allow it (``dashboard.auth.guard``)."""
    if request.path.startswith(STATIC_PREFIXES):
        return None  # scripts, styles, icons: no user to load, no session to touch
    who = current_principal()
    if not who.signed_in and "_user_id" in session:
        session.clear()  # the session ended on the server: drop what the cookie still says
    return check_request(who, settings.debug)


def _no_store(response: Response) -> Response:
    """Nothing personal is cached by browsers or proxies."""
    if request.path.startswith(STATIC_PREFIXES):
        return response  # static files load no user (and stay cacheable)
    if current_principal().signed_in or request.path in ("/login", UPDATE_PATH):
        response.headers["Cache-Control"] = "no-store"
    return response
