"""Browser fixtures: a tiny demo city served by the real app (gunicorn, 2 workers), and
headless Chromium.

Chromium is Debian's (/usr/bin/chromium), driven by Playwright; without it the browser
tests skip, unless CITYLENS_REQUIRE_SERVICES=1.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CITYLENS_CLI, service_missing

CHROMIUM = os.environ.get("CITYLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="session")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment of a tiny demo city in a fresh var folder."""
    var_dir = tmp_path_factory.mktemp("browser-var")
    env = {**os.environ, "CITYLENS_VAR_DIR": str(var_dir), "CITYLENS_REDIS_URL": ""}
    subprocess.run(
        [*CITYLENS_CLI, "demo", "--scale", "tiny", "--no-serve"],
        check=True, env=env, cwd=ROOT, capture_output=True,
    )
    return env


NOTIFY_TOKEN = "browser-tests-notify-token"
NOTIFY_SOURCE = "air-push"


@dataclass(frozen=True)
class Served:
    """The real server of the browser tests: where it answers, its master process (its
    children are the workers) and its var folder (the store)."""

    url: str
    process: subprocess.Popen[bytes]
    var_dir: Path


@pytest.fixture(scope="session")
def served(demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The dashboard as production runs it: gunicorn with 2 workers on a free local port,
    with the NGSI notification endpoint on for one push source. Its log goes to a file (a
    pipe nobody reads would fill up with request lines and stall the server)."""
    port = _free_port()
    env = {**demo_env, "CITYLENS_NOTIFY_TOKEN": NOTIFY_TOKEN,
           "CITYLENS_NOTIFY_SOURCES": NOTIFY_SOURCE}
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "--timeout", "120", "app:server"],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/login", process)
    except Exception as error:
        process.kill()
        raise RuntimeError(f"{error}; server log:\n{log.read_text()[-3000:]}") from error
    yield Served(url, process, Path(demo_env["CITYLENS_VAR_DIR"]))
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def server_url(served: Served) -> str:
    """Where the real server answers."""
    return served.url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium through Playwright."""
    if not Path(CHROMIUM).exists():
        service_missing("Chromium", FileNotFoundError(CHROMIUM))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


_STATES: dict[str, dict] = {}


def sign_in_state(browser, server_url: str, username: str) -> dict:
    """Cookies of a session signed in as ``username`` through the real form (once per user)."""
    if username not in _STATES:
        from dashboard.demo.users import DEMO_PASSWORD

        context = browser.new_context()
        page = context.new_page()
        page.goto(server_url + "/login")
        page.fill("#username", username)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        _STATES[username] = context.storage_state()
        context.close()
    return _STATES[username]


def signed_in_context(browser, server_url: str, username: str = "mayor", **options):
    """A 1440x900 browser context signed in as ``username`` (a demo user)."""
    options.setdefault("viewport", {"width": 1440, "height": 900})
    return browser.new_context(storage_state=sign_in_state(browser, server_url, username),
                               **options)


def watch_errors(page) -> None:
    """Collect console and page errors in ``page.console_errors``."""
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))


@pytest.fixture
def page(browser, server_url: str) -> Iterator[object]:
    """A fresh 1440x900 page signed in as the mayor (downloads allowed) collecting console
    and page errors."""
    context = signed_in_context(browser, server_url, accept_downloads=True)
    page = context.new_page()
    watch_errors(page)
    yield page
    context.close()


def assert_clean(page) -> None:
    """No console error and no Dash error overlay on the page."""
    assert page.console_errors == []
    assert page.locator(".dash-fe-error__title").count() == 0


def wait_for(page, expression: str, arg: object = None, timeout: float = 30_000) -> None:
    """Wait until the JavaScript ``expression`` (an expression, or a function of ``arg``) is
    truthy in ``page``. Polled with ``page.evaluate`` through the DevTools protocol:
    Playwright's ``wait_for_function`` polls with ``eval`` inside the page, which the app's
    Content-Security-Policy rightly forbids."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            if page.evaluate(expression, arg):
                return
        except Error as error:  # the page navigated while evaluating: look again
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout:.0f} ms: {expression}")
        page.wait_for_timeout(100)
