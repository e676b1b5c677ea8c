"""Feed-health page: read model, layout as a component tree, callbacks as plain functions."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash.exceptions import PreventUpdate

from connectors import get_connector
from connectors.runner import run_source
from dashboard import feed_health
from dashboard.auth import ADMIN, OFFICIAL
from dashboard.settings import Settings
from dashboard.store import get_engine
from layouts import SETTINGS_KEY
from tests.conftest import acting_as, set_retry_policy


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, (list, tuple)):
        for child in node:
            yield from _texts(child)
    elif node is not None:
        yield from _texts(getattr(node, "children", None))
        title = getattr(node, "title", None)
        if isinstance(title, str):
            yield title


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    settings = Settings(var_dir=tmp_path / "var", redis_url=None)
    engine = get_engine(settings.resolved_database_url)
    good = tmp_path / "areas.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "North"}, "geometry": {
            "type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"name": "<b>Nameless</b>"}, "geometry": None},
    ]}))
    districts = get_connector("districts")({"location": str(good)})
    run_source(engine, settings, districts, "boundaries")
    down = get_connector("open311")({"location": "http://127.0.0.1:9/requests.json"})
    from app import create_app

    set_retry_policy(monkeypatch, attempts=2)
    run_source(engine, settings, down, "desk")
    web = create_app(settings)  # pages register against an app; callbacks are called directly
    with web.server.app_context():
        assert web.server.config[SETTINGS_KEY] is settings
        yield settings


def test_health_lists_each_source_with_its_last_run(settings: Settings) -> None:
    health = {s["id"]: s for s in feed_health.feed_health(settings)}
    assert health["boundaries"]["status"] == "partial"
    assert (health["boundaries"]["records_in"], health["boundaries"]["stored"]) == (2, 1)
    assert health["boundaries"]["quarantined_total"] == 1
    assert health["desk"]["status"] == "failed" and health["desk"]["stale"]
    assert "unavailable" in health["desk"]["last_error"]
    assert [r["status"] for r in health["desk"]["runs"]] == ["failed"]


def test_page_shows_sources_failures_and_quarantine_as_text(settings: Settings) -> None:
    from layouts.feeds import layout

    with acting_as(ADMIN):
        text = " ".join(_texts(layout()))
        assert "boundaries" in text and "desk" in text and "Failed" in text
        assert "2 sources" in text and "1 failed" in text
        assert "<b>Nameless</b>" in text  # a citizen's or a feed's text is shown, never rendered
        assert "geometry" in " ".join(_texts(layout(source="boundaries")))
    with acting_as(OFFICIAL):  # quarantined rows are raw source data: administrators only
        text = " ".join(_texts(layout(source="boundaries")))
        assert "2 sources" in text and "<b>Nameless</b>" not in text
        assert "only administrators see them" in text


def test_quarantine_callback_filters_by_source_and_keeps_it_in_the_url(settings) -> None:
    from callbacks.feeds import refresh_sources, show_quarantine

    with acting_as(OFFICIAL), pytest.raises(PreventUpdate):
        show_quarantine("desk")
    with acting_as(ADMIN):
        table, search = show_quarantine("desk")
        quarantine = show_quarantine("boundaries")[0]
    assert search == "?source=desk" and "Nothing in quarantine" in " ".join(_texts(table))
    table = quarantine
    assert "no geometry" in " ".join(_texts(table)) or "unreadable" in " ".join(_texts(table))
    rows, summary = refresh_sources(1)
    assert "2 sources" in " ".join(_texts(summary))
