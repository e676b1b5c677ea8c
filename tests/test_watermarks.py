"""``citylens sources watermark SOURCE [--reset TIME]``: an operator sees the watermark a
source's next run reads after, and moves it back (or forward) with a run on record."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from connectors.cli import sources_app
from connectors.open311 import Open311Connector
from connectors.runner import last_watermark, run_source
from connectors.watermarks import watermark_value
from dashboard.feed_health import feed_health
from dashboard.model import FeedRun
from dashboard.settings import Settings, get_settings

FIRST = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)


def requests(count: int) -> list[dict[str, Any]]:
    return [{"service_request_id": f"w-{n}", "status": "open", "service_code": "potholes",
             "requested_datetime": (FIRST + timedelta(hours=n)).isoformat(),
             "updated_datetime": (FIRST + timedelta(hours=n)).isoformat()}
            for n in range(count)]


@pytest.fixture
def store(file_store: tuple[str, Engine]) -> tuple[str, Engine]:
    return file_store


def citylens(url: str, *args: str) -> Any:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(sources_app, list(args),
                                  env={"CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": ""})
    finally:
        get_settings.cache_clear()


def test_show_and_reset_a_watermark(store: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = store
    feed = tmp_path / "requests.json"
    feed.write_text(json.dumps(requests(10)), encoding="utf-8")
    connector = Open311Connector({"location": str(feed)})
    first = run_source(engine, Settings(), connector, "city311")
    assert (first.stored, first.watermark) == (10, "2026-11-02T17:00:00Z")

    shown = citylens(url, "watermark", "city311")
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("city311: watermark 2026-11-02T17:00:00Z (run 1, ok, ")
    assert run_source(engine, Settings(), connector, "city311").records_in == 0

    moved = citylens(url, "watermark", "city311", "--reset", "2026-11-02T13:30+01:00")
    assert moved.exit_code == 0, moved.output
    assert "watermark set to 2026-11-02T12:30:00Z" in moved.output
    assert last_watermark(engine, "city311") == "2026-11-02T12:30:00Z"
    again = run_source(engine, Settings(), connector, "city311")
    assert (again.records_in, again.watermark) == (5, "2026-11-02T17:00:00Z")  # 13:00..17:00

    assert citylens(url, "watermark", "city311", "--reset", "beginning").exit_code == 0
    assert run_source(engine, Settings(), connector, "city311").records_in == 10
    with engine.connect() as conn:
        resets = conn.execute(select(FeedRun.error).where(FeedRun.status == "reset")
                              .order_by(FeedRun.id)).scalars().all()
    assert resets == [
        "watermark set by an operator to 2026-11-02T12:30:00Z (was 2026-11-02T17:00:00Z)",
        "watermark set by an operator to beginning (was 2026-11-02T17:00:00Z)"]


def test_the_feeds_page_shows_a_reset(store: tuple[str, Engine], tmp_path: Path) -> None:
    url, engine = store
    feed = tmp_path / "requests.json"
    feed.write_text(json.dumps(requests(3)), encoding="utf-8")
    run_source(engine, Settings(), Open311Connector({"location": str(feed)}), "city311")
    assert citylens(url, "watermark", "city311", "--reset", "2026-11-01").exit_code == 0
    settings = Settings(database_url=url, redis_url="",
                        now=datetime(2026, 11, 3, tzinfo=timezone.utc))
    [health] = feed_health(settings)
    assert health["status"] == "reset" and health["newest_data"] == "2026-11-01T00:00:00+00:00"
    assert "set by an operator" in health["last_error"]


@pytest.mark.parametrize(("args", "problem"), [
    (["nowhere"], "error: no source 'nowhere' (known: city311)"),
    (["city311", "--reset", "last tuesday"], "error: the watermark is not an ISO-8601 time"),
    (["city311", "--reset", "9999-12-31T23:59:59-05:00"], "error: the watermark is out of range"),
    (["city311", "--reset", "2999-01-01"], "error: the watermark is in the future"),
])
def test_wrong_requests_are_one_line_errors(store: tuple[str, Engine], tmp_path: Path,
                                            args: list[str], problem: str) -> None:
    url, engine = store
    feed = tmp_path / "requests.json"
    feed.write_text(json.dumps(requests(1)), encoding="utf-8")
    run_source(engine, Settings(), Open311Connector({"location": str(feed)}), "city311")
    done = citylens(url, "watermark", *args)
    assert done.exit_code == 2
    assert done.output.startswith(problem) and done.output.count("\n") == 1


def test_watermark_values() -> None:
    assert watermark_value("2026-11-30") == "2026-11-30T00:00:00Z"
    assert watermark_value(" 41250 ") == "41250"
    assert watermark_value("beginning") is None
