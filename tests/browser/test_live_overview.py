"""The overview is live: after an ingest, its numbers change on screen without a reload, and
not while someone is using the page. Its own server (on a copy of the tiny city, checking
the data version every second) so the ingest disturbs no other browser test."""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser.conftest import (
    ROOT,
    Served,
    _free_port,
    _wait_for,
    assert_clean,
    wait_for,
    watch_errors,
)

pytestmark = pytest.mark.browser
# The city's NO₂ value as its card shows it (null before the cards are drawn).
NO2_VALUE = ("() => { const card = [...document.querySelectorAll('.kpi-card')].find("
             "c => (c.querySelector('.kpi-card__name') || {}).innerText === "
             "'Nitrogen dioxide (NO₂)'); "
             "return card ? card.querySelector('.kpi-card__value').innerText : null; }")


@pytest.fixture(scope="module")
def live_server(demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Served]:
    var_dir = tmp_path_factory.mktemp("live") / "var"
    shutil.copytree(demo_env["CITYLENS_VAR_DIR"], var_dir)
    port = _free_port()
    env = {**demo_env, "CITYLENS_VAR_DIR": str(var_dir), "CITYLENS_LIVE_POLL_SECONDS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
         "--timeout", "120", "app:server"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/login", process)
        yield Served(url, process, var_dir)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def mayor_page(browser, live_server: Served) -> Iterator[object]:
    from dashboard.demo.users import DEMO_PASSWORD

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    watch_errors(page)
    page.goto(live_server.url + "/login")
    page.fill("#username", "mayor")
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    yield page
    context.close()


def _ingest_no2(var_dir: Path, value: float) -> None:
    """A reading of ``value`` from every air-quality station, a few minutes ago, through the
    connectors' store path (as a feed would)."""
    from connectors.base import Mapped
    from connectors.storing import store_batch
    from dashboard.model import Asset
    from dashboard.settings import Settings
    from dashboard.store import get_engine, unit_of_work

    settings = Settings(var_dir=var_dir, database_url="", redis_url=None)
    engine = get_engine(settings.resolved_database_url)
    at = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=3)
    with unit_of_work(engine) as conn:
        stations = conn.execute(
            select(Asset.id).where(Asset.type == "AirQualityObserved")).scalars().all()
        mapped = Mapped(observations=[{"asset_id": s, "metric": "no2", "time": at,
                                       "value": value} for s in stations])
        stored, refused = store_batch(conn, settings, [({"test": "live"}, mapped)], "test")
        assert stored == 1 and not refused


def test_the_overview_follows_an_ingest_without_a_reload(mayor_page, live_server) -> None:
    page = mayor_page
    page.goto(live_server.url + "/")
    wait_for(page, f"({NO2_VALUE})() !== null", timeout=30_000)
    page.wait_for_load_state("networkidle")
    before = page.evaluate(NO2_VALUE)
    page.evaluate("window.__notReloaded = true")
    _ingest_no2(live_server.var_dir, 900.0)
    wait_for(page, f"prev => ({NO2_VALUE})() !== prev", arg=before, timeout=30_000)
    assert page.evaluate("window.__notReloaded === true")  # redrawn in place, no reload
    assert float(page.evaluate(NO2_VALUE)) > float(before)
    assert_clean(page)


def test_no_redraw_while_someone_uses_the_page(mayor_page, live_server) -> None:
    """A click (choosing from a menu, say) holds the redraw for 15 s."""
    page = mayor_page
    page.goto(live_server.url + "/")
    wait_for(page, f"({NO2_VALUE})() !== null", timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.click("h1")  # any click counts as using the page
    before = page.evaluate(NO2_VALUE)
    _ingest_no2(live_server.var_dir, 5.0)
    page.wait_for_timeout(5_000)  # five checks of the version meanwhile
    assert page.evaluate(NO2_VALUE) == before
    wait_for(page, f"prev => ({NO2_VALUE})() !== prev", arg=before, timeout=30_000)
