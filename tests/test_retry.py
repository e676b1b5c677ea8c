"""The connectors' one retry policy (connectors/retry.py) against a real local HTTP server:
what is retried and what is not, Retry-After, jittered backoff, the setting, and one
kept-alive connection per thread."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tenacity import RetryCallState

from connectors.common import get_with_retries
from connectors.retry import (
    MAX_WAIT_SECONDS,
    Retryable,
    RetryPolicy,
    _wait,
    current_policy,
    retry_after_seconds,
)
from tests.conftest import set_retry_policy


class Script:
    """The answers the server gives, in order (the last one repeats), and who asked."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.ports: list[int] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Any]]:
    script_box: dict[str, Script] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            script = script_box["script"]
            script.ports.append(self.client_address[1])
            status, headers = script.answers[min(len(script.ports), len(script.answers)) - 1]
            body = b'{"ok": true}'
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/data", script_box
    httpd.shutdown()
    httpd.server_close()


def test_overloaded_answers_are_retried_on_one_connection(server: tuple[str, Any]) -> None:
    url, box = server
    box["script"] = Script((503, {"Retry-After": "0"}), (429, {}), (200, {}))
    assert get_with_retries(url, timeout=5).json() == {"ok": True}
    assert len(box["script"].ports) == 3
    assert len(set(box["script"].ports)) == 1  # the thread's session kept the connection


def test_a_wrong_address_is_not_retried_and_a_dead_one_gives_up(
        server: tuple[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    url, box = server
    box["script"] = Script((404, {}))
    with pytest.raises(ConnectionError, match="HTTP 404"):
        get_with_retries(url, timeout=5)
    assert len(box["script"].ports) == 1
    box["script"] = Script((502, {}))
    set_retry_policy(monkeypatch, attempts=3)
    with pytest.raises(ConnectionError, match=r"unreachable after 3 tries \(HTTP 502\)"):
        get_with_retries(url, timeout=5)
    assert len(box["script"].ports) == 3
    with pytest.raises(ConnectionError, match="unreachable after 3 tries .*ConnectionError"):
        get_with_retries("http://127.0.0.1:9/nothing-listens", timeout=5)


def test_the_policy_is_one_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    set_retry_policy(monkeypatch, attempts=6, base_seconds=1.5)
    assert current_policy() == RetryPolicy(6, 1.5)
    assert RetryPolicy(4, 0.5).longest_wait() == 0.5 + 1 + 2


def _state_after(attempt: int, error: Exception) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = attempt
    state.set_exception((type(error), error, None))
    return state


def test_waits_are_jittered_backoff_or_what_the_server_asks() -> None:
    wait = _wait(RetryPolicy(attempts=5, base_seconds=0.5))
    for attempt in range(1, 5):
        seconds = [wait(_state_after(attempt, Retryable("HTTP 503"))) for _ in range(200)]
        ceiling = min(0.5 * 2 ** (attempt - 1), MAX_WAIT_SECONDS)
        assert all(0 <= s <= ceiling for s in seconds)
        assert len(set(seconds)) > 100  # jitter: no two sources wait in step
    assert wait(_state_after(1, Retryable("HTTP 429", retry_after=7))) == 7
    assert wait(_state_after(1, Retryable("HTTP 429", retry_after=3600))) == MAX_WAIT_SECONDS
    assert _wait(RetryPolicy(4, 0))(_state_after(3, Retryable("x", retry_after=9))) == 0


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True),
                               now) == 30
    assert retry_after_seconds(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0
    for unreadable in (None, "", "soon", "-5"):
        assert retry_after_seconds(unreadable, now) is None
