"""Configured sources: the YAML file, isolation between sources, the schedule loop."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, func, select

from connectors.base import SourceFormatError
from connectors.sources import load_sources, run_all, run_forever
from dashboard.model import FeedRun, ServiceRequest
from dashboard.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def open311_file() -> Path:
    path = FIXTURES / "open311" / "chicago_service_requests.json"
    if not path.exists():
        pytest.skip(f"fixture {path} is absent")
    return path


def test_one_failing_source_never_stops_the_others(fresh_engine: Engine, tmp_path, open311_file):
    path = _write(tmp_path, f"""
sources:
  - id: gone
    kind: open311
    location: {tmp_path / 'missing.json'}
  - id: telepathy
    kind: telepathy
    location: nowhere
  - id: chicago
    kind: open311
    location: {open311_file}
  - id: paused
    kind: open311
    enabled: false
    location: {open311_file}
""")
    reports = {r.source: r for r in run_all(fresh_engine, Settings(), load_sources(path))}
    assert set(reports) == {"gone", "telepathy", "chicago"}
    assert reports["gone"].status == "failed"
    assert reports["telepathy"].status == "failed"
    assert "known kinds" in reports["telepathy"].error
    assert (reports["chicago"].status, reports["chicago"].stored) == ("ok", 2)
    with fresh_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ServiceRequest)).scalar_one() == 2
        statuses = dict(conn.execute(select(FeedRun.source_id, FeedRun.status)).all())
    assert statuses == {"gone": "failed", "chicago": "ok"}


@pytest.mark.parametrize(("text", "problem"), [
    ("sources: {}", "top-level 'sources:' list"),
    ("sources:\n  - kind: open311\n", "id"),
    ("sources:\n  - {id: a, kind: x}\n  - {id: a, kind: y}\n", "duplicated source ids"),
    ("sources: [", "not valid YAML"),
])
def test_a_wrong_sources_file_is_a_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(SourceFormatError, match=problem):
        load_sources(_write(tmp_path, text))


def test_the_shipped_example_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "data" / "sources.example.yaml"
    entries = load_sources(example)
    assert len({e.kind for e in entries}) >= 2


def test_loop_runs_each_source_when_it_is_due(fresh_engine: Engine, tmp_path, open311_file):
    path = _write(tmp_path, f"""
sources:
  - {{id: fast, kind: open311, every_minutes: 5, location: {open311_file}}}
  - {{id: slow, kind: open311, every_minutes: 60, location: {open311_file}}}
""")
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    ran: list[str] = []

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    # the notifier's rounds: the test below
    quiet = Settings(notify_every_seconds=10**6, var_dir=tmp_path)
    run_forever(fresh_engine, quiet, load_sources(path), lambda r: ran.append(r.source),
                clock=lambda: now[0], sleep=sleep, rounds=4)
    assert ran == ["fast", "slow", "fast", "fast", "fast"]


def test_the_loop_runs_the_notifier_between_sources(fresh_engine: Engine, tmp_path,
                                                    open311_file, monkeypatch) -> None:
    """The one-box loop is where notifications and briefings go out: a notifier round
    every ``notify_every_seconds``, its sleep woken for it between two source runs."""
    import connectors.sources as sources

    path = _write(tmp_path, f"""
sources:
  - {{id: slow, kind: open311, every_minutes: 60, location: {open311_file}}}
""")
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    rounds_at: list[datetime] = []
    monkeypatch.setattr(sources, "_notify", lambda engine, settings: rounds_at.append(now[0]))

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    run_forever(fresh_engine, Settings(notify_every_seconds=600, var_dir=tmp_path),
                load_sources(path),
                lambda r: None, clock=lambda: now[0], sleep=sleep, rounds=8)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert rounds_at == [start + timedelta(minutes=10 * n) for n in range(8)]


def test_the_loop_carries_on_when_the_store_is_down(tmp_path, open311_file) -> None:
    """A store that cannot be reached fails each run in one line; the loop never exits,
    runs the other sources, and tries again a minute later rather than an interval on."""
    from sqlalchemy import create_engine

    path = _write(tmp_path, f"""
sources:
  - {{id: a, kind: open311, every_minutes: 30, location: {open311_file}}}
  - {{id: b, kind: open311, every_minutes: 30, location: {open311_file}}}
""")
    down = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test",
                         connect_args={"connect_timeout": 2})
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    slept: list[float] = []
    reports = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += timedelta(seconds=seconds)

    run_forever(down, Settings(notify_every_seconds=10**6, var_dir=tmp_path), load_sources(path),
                reports.append, clock=lambda: now[0], sleep=sleep, rounds=5)
    assert [r.source for r in reports] == ["a", "b"] * 5
    assert all(r.status == "failed" and r.failure == "store" for r in reports)
    assert all(r.error.startswith("store unavailable: ") and "\n" not in r.error
               for r in reports)
    # a minute, then twice as long each time, never more than the 30-minute interval
    assert slept == [60.0, 120.0, 240.0, 480.0]


def test_a_crashing_source_is_isolated(fresh_engine: Engine, tmp_path, open311_file,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in one source (any exception) fails its run in one line; the loop goes on."""
    from connectors import sources

    real = sources.run_source

    def crash_on_a(engine, settings, connector, source_id, location):
        if source_id == "a":
            raise RuntimeError("a bug\nin two lines")
        return real(engine, settings, connector, source_id, location)

    monkeypatch.setattr(sources, "run_source", crash_on_a)
    path = _write(tmp_path, f"""
sources:
  - {{id: a, kind: open311, every_minutes: 30, location: {open311_file}}}
  - {{id: b, kind: open311, every_minutes: 30, location: {open311_file}}}
""")
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    reports = []

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    run_forever(fresh_engine, Settings(notify_every_seconds=10**6, var_dir=tmp_path),
                load_sources(path), reports.append,
                clock=lambda: now[0], sleep=sleep, rounds=2)
    assert [(r.source, r.status) for r in reports] == [("a", "failed"), ("b", "ok"),
                                                       ("a", "failed"), ("b", "ok")]
    assert reports[0].failure == "crash"
    assert reports[0].error == "crashed: RuntimeError: a bug in two lines"


def test_after_orders_the_sources_and_refuses_unknown_names_and_cycles(tmp_path: Path) -> None:
    from connectors.base import SourceFormatError
    from connectors.sources import load_sources

    def written(entries: list[dict[str, object]]) -> Path:
        path = tmp_path / "sources.yaml"
        path.write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
        return path

    entries = [{"id": "requests", "kind": "csv", "after": ["census", "districts"]},
               {"id": "census", "kind": "csv", "after": ["districts"]},
               {"id": "air", "kind": "csv"},
               {"id": "districts", "kind": "districts"}]
    assert [e.id for e in load_sources(written(entries))] == [
        "districts", "census", "requests", "air"]
    with pytest.raises(SourceFormatError, match=r"'after' names unknown sources \['censo'\]"):
        load_sources(written([{"id": "a", "kind": "csv", "after": ["censo"]}]))
    with pytest.raises(SourceFormatError, match="in a cycle: a -> b -> a"):
        load_sources(written([{"id": "a", "kind": "csv", "after": ["b"]},
                              {"id": "b", "kind": "csv", "after": ["a"]}]))


def test_a_cron_schedule_is_checked_and_used(tmp_path: Path) -> None:
    from datetime import timedelta

    from connectors.base import SourceFormatError
    from connectors.sources import SourceEntry, load_sources

    entry = SourceEntry.model_validate({"id": "a", "kind": "csv", "cron": "15 6-20 * * 1-5"})
    assert "15 6-20" in str(entry.schedule())
    every = SourceEntry.model_validate({"id": "b", "kind": "csv", "every_minutes": 5})
    assert every.schedule() == timedelta(minutes=5)
    for bad, reason in (("* * *", "expected 5 fields"), ("61 * * * *", "61"),
                        ("x * * * *", "x")):
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump({"sources": [{"id": "a", "kind": "csv",
                                                     "cron": bad}]}), encoding="utf-8")
        with pytest.raises(SourceFormatError, match=reason):
            load_sources(path)


def test_the_loop_maintains_the_store_once_a_day(fresh_engine: Engine, tmp_path, open311_file,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-box loop applies the retention of raw readings (and, on PostgreSQL, makes
    the partitions ahead) when it starts and then daily, as the scheduler does for workers."""
    import pandas as pd
    from sqlalchemy import insert

    import connectors.sources as sources
    from dashboard.model import Asset, Observation
    from dashboard.store.observations import ingest_observations
    from dashboard.store.partitions import kept_from

    settings = Settings(now=datetime(2026, 11, 23, tzinfo=timezone.utc), raw_retention_months=1,
                        notify_every_seconds=10**6, var_dir=tmp_path)
    with fresh_engine.begin() as conn:
        conn.execute(insert(Asset), [{"id": "urn:ngsi-ld:Device:loop:1", "type": "Device",
                                      "domain": "environment"}])
        pk = conn.execute(select(Asset.pk)).scalar_one()
        ingest_observations(conn, pd.DataFrame({
            "asset_pk": pk, "metric": "batteryLevel", "value": 50.0,
            "time": [int(datetime(2026, m, 15, tzinfo=timezone.utc).timestamp())
                     for m in (8, 9, 10, 11)]}), settings.timezone)
    calls = []

    def counted(engine: Engine, given: Settings):
        calls.append(given.current_time())
        return real(engine, given)

    real = sources.maintain_store
    monkeypatch.setattr(sources, "maintain_store", counted)
    path = _write(tmp_path, f"sources:\n  - {{id: r, kind: open311, every_minutes: 360, "
                            f"location: {open311_file}}}\n")
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]

    def sleep(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    run_forever(fresh_engine, settings, load_sources(path), lambda r: None,
                clock=lambda: now[0], sleep=sleep, rounds=9)  # 6-hourly rounds: 2 days
    assert len(calls) == 3  # at start, a day on, two days on
    with fresh_engine.connect() as conn:
        times = conn.execute(select(Observation.time).order_by(Observation.time)).scalars()
        assert [datetime.fromtimestamp(t, timezone.utc).month for t in times] == [10, 11]
        assert kept_from(conn) == int(datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp())
