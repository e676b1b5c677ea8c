"""Bounds on request bodies, security headers and what the app tells about itself
(the real-server versions, with gunicorn, are in tests/browser/test_real_server_access.py)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from dashboard.auth.guard import MAX_REQUEST_BYTES
from dashboard.settings import Settings
from tests.conftest import TINY_NOW, sign_in

UPDATE = "/_dash-update-component"


def _chunked(client: Any, path: str, data: bytes) -> Any:
    """POST ``data`` as a server hands on a chunked upload: no Content-Length, the stream
    terminated by the server."""
    return client.post(path, input_stream=io.BytesIO(data), content_type="application/json",
                       environ_overrides={"wsgi.input_terminated": True, "CONTENT_LENGTH": ""})


def test_callback_bodies_are_bounded_before_they_are_parsed(tiny_app: Any) -> None:
    client = tiny_app.server.test_client()
    sign_in(client, "mayor")
    big = b'{"output": "' + b"x" * MAX_REQUEST_BYTES + b'"}'
    assert client.post(UPDATE, data=big, content_type="application/json").status_code == 413
    assert _chunked(client, UPDATE, big).status_code == 413
    assert client.post(UPDATE, data=b"[" * 100_000,
                       content_type="application/json").status_code == 403  # too deep: refused
    assert client.post(UPDATE, data=b"{not json", content_type="application/json"
                       ).status_code == 403
    assert client.post(UPDATE, json=[1, 2]).status_code == 403
    anonymous = tiny_app.server.test_client()
    assert _chunked(anonymous, UPDATE, big).status_code == 413
    assert client.post("/login", data={"username": "x" * 50_000}).status_code in (400, 413)


def test_security_headers_on_pages_data_and_sign_in(tiny_app: Any) -> None:
    client = tiny_app.server.test_client()
    for path in ("/kiosk", "/login", "/api/v1/kpis"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in csp and "default-src 'self'" in csp, path
        script_src = csp.split("script-src")[1].split(";")[0]
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        policy = headers["Permissions-Policy"]
        assert "camera=()" in policy and "microphone=()" in policy
        assert "geolocation=(self)" in policy  # the report form's "Use my location" only
        assert headers["X-Frame-Options"] == "SAMEORIGIN"
        assert "Strict-Transport-Security" not in headers  # not behind HTTPS here


def test_the_page_config_names_no_python_and_dev_routes_are_off(tiny_app: Any) -> None:
    client = tiny_app.server.test_client()
    page = client.get("/kiosk").get_data(as_text=True)
    assert '"dash_version"' in page and "python_version" not in page
    assert client.get("/_reload-hash").status_code == 404


def test_hsts_and_secure_cookies_behind_https(tmp_path: Path) -> None:
    from app import create_app
    from dashboard.auth.users import add_user
    from dashboard.store import get_engine, unit_of_work

    settings = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=TINY_NOW,
                        secure_cookies=True)
    with unit_of_work(get_engine(settings.resolved_database_url)) as conn:
        add_user(conn, "ana", "official", "a long enough password")
    app = create_app(settings)
    client = app.server.test_client()
    secure = client.get("/login", base_url="https://citylens.example")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in secure.headers["Set-Cookie"] and "HttpOnly" in secure.headers["Set-Cookie"]
    proxied = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" in proxied.headers


def test_an_address_signing_in_too_fast_gets_no_password_checked(
        tmp_path: Path, monkeypatch: Any) -> None:
    """Over the sign-in rate, an address gets the same answer (429) before any Argon2 check;
    another address is not affected."""
    from app import create_app
    from dashboard.auth import users
    from dashboard.auth.rate_limits import SIGN_IN_RATE
    from dashboard.auth.users import REFUSED

    checks: list[str] = []
    real = users.verify_password
    monkeypatch.setattr(users, "verify_password",
                        lambda stored, given: checks.append(stored) or real(stored, given))
    app = create_app(Settings(var_dir=tmp_path, database_url="", redis_url=None, now=TINY_NOW))
    client = app.server.test_client()
    rate = int(SIGN_IN_RATE.split()[0])
    for n in range(rate):
        assert sign_in(client, f"user{n}", "some password").status_code == 401
    assert len(checks) == rate
    over = sign_in(client, "user-x", "some password")
    assert over.status_code == 429 and REFUSED in over.get_data(as_text=True)
    assert len(checks) == rate  # no password hashed for it
    elsewhere = app.server.test_client()
    assert sign_in(elsewhere, "user-y", "some password",
                   environ_base={"REMOTE_ADDR": "10.2.3.4"}).status_code == 401
