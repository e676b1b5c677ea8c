"""Access control against the real server (gunicorn, 2 workers, the tiny demo city): the
forged router request of the report, sign-in throttling under parallel attempts, sign-out
that ends the session everywhere, bounds on request bodies (chunked too), the notification
token's reach, and the security headers. Plain HTTP, no browser needed.
"""
from __future__ import annotations

import http.client
import json
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

import pytest

from tests.browser.conftest import NOTIFY_SOURCE, NOTIFY_TOKEN, Served

pytestmark = pytest.mark.browser
ROUTER = ".._pages_content.children..._pages_store.data.."
REPORTED = {"output": ROUTER,
            "outputs": [{"id": "_pages_content", "property": "children"},
                        {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "x", "property": "pathname", "value": "/services"},
                       {"id": "_pages_location", "property": "pathname", "value": "?user=mayor"}]}


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Browserless:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.cookies), _NoRedirect())

    def request(self, path: str, data: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        req = Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=60) as response:
                return response.status, dict(response.headers), response.read().decode()
        except HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def post_json(self, path: str, body: Any) -> int:
        return self.request(path, json.dumps(body).encode(),
                            {"Content-Type": "application/json"})[0]

    def sign_in(self, username: str, password: str) -> tuple[int, str]:
        _status, _headers, form = self.request("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token
        data = urlencode({"csrf_token": token.group(1), "username": username,
                          "password": password, "next": "/"}).encode()
        status, _headers, text = self.request("/login", data)
        return status, text


def _throttle_attempts(var_dir: Path, key: str) -> int:
    db = sqlite3.connect(var_dir / "citylens.db")
    row = db.execute("SELECT attempts FROM sign_in_throttle WHERE key = ?", (key,)).fetchone()
    db.close()
    return int(row[0]) if row else 0


def test_the_reported_forged_router_request_is_refused(served: Served) -> None:
    anonymous = Browserless(served.url)
    assert anonymous.post_json("/_dash-update-component", REPORTED) == 401
    for path in ("/admin/audit//", "/services//", "/citizen360//"):
        assert anonymous.request(path)[0] == 302, path  # to the sign-in form
        body = {**REPORTED, "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": path},
            {"id": "_pages_location", "property": "search", "value": ""}]}
        assert anonymous.post_json("/_dash-update-component", body) == 401, path
    assert anonymous.request("/no/such/page")[0] == 404


def test_parallel_wrong_passwords_check_at_most_the_free_number(served: Served) -> None:
    """Twelve wrong attempts at once, spread over both workers: the same answer for each,
    and at most five passwords checked (turns taken on the pair's counter)."""
    from dashboard.auth.throttle import PAIR

    clients = [Browserless(served.url) for _ in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda c: c.sign_in("mobility.head", "wrong password!"),
                                clients))
    errors = {re.search(r'role="alert">([^<]*)<', text).group(1) for _s, text in answers}
    assert {status for status, _text in answers} == {401} and len(errors) == 1
    assert _throttle_attempts(served.var_dir, "pair:mobility.head|127.0.0.1") <= PAIR.free
    # the right password must wait too, with the same answer
    status, text = Browserless(served.url).sign_in("mobility.head", "citylens-demo")
    assert status == 401 and re.search(r'role="alert">([^<]*)<', text).group(1) in errors


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(served: Served) -> None:
    from dashboard.demo.users import DEMO_PASSWORD

    mayor = Browserless(served.url)
    assert mayor.sign_in("mayor", DEMO_PASSWORD)[0] == 302
    assert mayor.request("/alerts")[0] == 200
    copy = Browserless(served.url)
    for cookie in mayor.cookies:
        copy.cookies.set_cookie(cookie)
    assert copy.request("/alerts")[0] == 200  # the copy works while the session lives
    layout = mayor.request("/_dash-layout")[2]
    token = re.search(r'"id":\s*"shell-csrf"[^}]*"value":\s*"([^"]+)"', layout) or \
        re.search(r'"value":\s*"([^"]+)"[^}]*"id":\s*"shell-csrf"', layout)
    assert token
    assert mayor.request("/logout", urlencode({"csrf_token": token.group(1)}).encode())[0] == 302
    for client in (mayor, copy):  # on either worker, whichever answers
        for _ in range(4):
            assert client.request("/alerts")[0] == 302
            assert client.post_json("/_dash-update-component", {**REPORTED, "inputs": [
                {"id": "_pages_location", "property": "pathname", "value": "/alerts"}]}) == 401


def _worker_rss_mb(served: Served) -> int:
    """Resident memory of the gunicorn workers together (MB)."""
    children = Path(f"/proc/{served.process.pid}/task/{served.process.pid}/children")
    total = 0
    for pid in children.read_text().split():
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total // 1024


def _post_chunked(url: str, path: str, megabytes: int,
                  headers: dict[str, str] | None = None) -> int | None:
    """POST ``megabytes`` of JSON-ish bytes in chunks with no Content-Length; the status, or
    None when the server closed the connection before answering."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    chunk = b"[" * (1024 * 1024)
    try:
        conn.putrequest("POST", path)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            conn.putheader(name, value)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for _ in range(megabytes):
            conn.send(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        return conn.getresponse().status
    except (http.client.HTTPException, OSError):
        return None
    finally:
        conn.close()


def test_oversized_bodies_are_refused_before_they_are_parsed(served: Served) -> None:
    before = _worker_rss_mb(served)
    assert _post_chunked(served.url, "/_dash-update-component", 100) in (413, None)
    anonymous = Browserless(served.url)
    conn = http.client.HTTPConnection(urlsplit(served.url).hostname, urlsplit(served.url).port)
    conn.request("POST", "/_dash-update-component", body=b"{}", headers={
        "Content-Type": "application/json", "Content-Length": str(200 * 1024 * 1024)})
    assert conn.getresponse().status == 413  # declared too large: not even read
    conn.close()
    deep = b"[" * 200_000  # under the size limit, too deep to parse: a clear refusal
    status, _h, _t = anonymous.request("/_dash-update-component", deep,
                                       {"Content-Type": "application/json"})
    assert status in (400, 401)
    assert _post_chunked(served.url, f"/ngsi/notify/{NOTIFY_SOURCE}", 20,
                         {"Authorization": f"Bearer {NOTIFY_TOKEN}"}) in (413, None)
    assert _worker_rss_mb(served) - before < 100  # nothing the size of the bodies was kept
    assert anonymous.request("/kiosk")[0] == 200  # and the server still answers


def test_the_notification_token_writes_only_to_push_sources(served: Served) -> None:
    client = Browserless(served.url)
    auth = {"Authorization": f"Bearer {NOTIFY_TOKEN}", "Content-Type": "application/json"}
    note = json.dumps({"subscriptionId": "s", "data": []}).encode()
    assert client.request("/ngsi/notify/demo-citizens", note, auth)[0] == 404
    assert client.request(f"/ngsi/notify/{NOTIFY_SOURCE}", note, auth)[0] in (200, 400)


def test_security_headers_and_no_server_details(served: Served) -> None:
    client = Browserless(served.url)
    status, headers, page = client.request("/kiosk")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and "object-src 'none'" in csp
    assert "script-src 'self' 'sha256-" in csp and "'unsafe-inline'" not in csp.split(
        "script-src")[1].split(";")[0]
    assert "camera=()" in headers["Permissions-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in headers  # plain HTTP, secure cookies off
    assert "python_version" not in page and "Python" not in headers.get("Server", "")
    assert client.request("/_reload-hash")[0] == 404
