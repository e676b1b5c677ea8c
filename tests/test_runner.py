"""The shared connector runner: feed runs, idempotency, watermarks, quarantine, failures."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import InvalidRequestError

from connectors import runner
from connectors.base import CheckResult, Connector, ConnectorConfig, Mapped, Stream
from connectors.runner import run_source
from dashboard.model import Asset, District, FeedRun, Observation, Quarantine, Rollup, Source
from dashboard.settings import Settings
from dashboard.store import unit_of_work
from dashboard.store.version import data_version

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


class FeedConfig(ConnectorConfig):
    records: list[dict[str, Any]]
    fail_after: int | None = None


class SensorStream(Stream):
    """Yields {"id", "t" (hour), "v", "lat", "lon"}; a record without "v" is malformed."""

    name = "sensors"
    primary_key = ("id", "t")
    cursor_field = "t"
    entity = "Observation"

    def __init__(self, config: FeedConfig) -> None:
        self.config = config

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        for number, record in enumerate(self.config.records):
            if self.config.fail_after is not None and number >= self.config.fail_after:
                raise ConnectionError("connection reset by peer")
            if watermark is None or f"{record['t']:04d}" > watermark:
                yield record

    def map(self, record: Mapping[str, Any]) -> Mapped:
        urn = f"urn:ngsi-ld:AirQualityObserved:test:{record['id']}"
        time = datetime.fromtimestamp(1_767_225_600 + 3600 * record["t"], timezone.utc)
        return Mapped(
            assets=[{"id": urn, "type": "AirQualityObserved", "domain": "environment",
                     "lat": record.get("lat"), "lon": record.get("lon")}],
            observations=[{"asset_id": urn, "metric": "no2", "time": time,
                           "value": float(record["v"]), "unit": "ug/m3"}],
            cursor=f"{record['t']:04d}",
        )


class SensorConnector(Connector):
    kind = "test-sensors"
    config_model = FeedConfig

    def check(self) -> CheckResult:
        return CheckResult(True)

    def streams(self) -> list[Stream]:
        return [SensorStream(self.config)]


def _records(hours: range, sensor: str = "a") -> list[dict[str, Any]]:
    return [{"id": sensor, "t": t, "v": 10 + t, "lat": 0.5, "lon": 0.5} for t in hours]


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def store(fresh_engine: Engine) -> Engine:
    with unit_of_work(fresh_engine) as conn:
        conn.execute(insert(District), [{"id": "sq", "name": "Square", "geometry": SQUARE}])
    return fresh_engine


def test_run_stores_assigns_district_and_records_the_run(store: Engine, settings) -> None:
    report = run_source(store, settings, SensorConnector({"records": _records(range(5))}), "s1")
    assert (report.records_in, report.stored, report.quarantined, report.status) == (5, 5, 0, "ok")
    assert report.watermark == "0004"
    with store.connect() as conn:
        assert conn.execute(select(Asset.district_id)).scalar_one() == "sq"
        run = conn.execute(select(FeedRun)).one()
        assert (run.status, run.records_in, run.stored, run.watermark) == ("ok", 5, 5, "0004")
        hourly = conn.execute(select(func.sum(Rollup.count)).where(Rollup.grain == "hour"))
        assert hourly.scalar_one() == 5
        assert conn.execute(select(Asset.last_seen)).scalar_one() is not None


def test_running_twice_stores_nothing_twice(store: Engine, settings) -> None:
    connector = SensorConnector({"records": _records(range(5))})
    run_source(store, settings, connector, "s1")
    again = run_source(store, settings, connector, "s1", full=True)
    assert again.stored == 5 and again.status == "ok"
    assert _count(store, Observation) == 5
    with store.connect() as conn:
        total = conn.execute(select(func.sum(Rollup.count)).where(Rollup.grain == "day"))
        assert total.scalar_one() == 5


def test_watermark_makes_the_next_run_incremental(store: Engine, settings) -> None:
    run_source(store, settings, SensorConnector({"records": _records(range(5))}), "s1")
    report = run_source(store, settings, SensorConnector({"records": _records(range(8))}), "s1")
    assert report.records_in == 3 and report.watermark == "0007"
    assert _count(store, Observation) == 8


def test_bad_records_are_quarantined_and_the_rest_stored(store: Engine, settings) -> None:
    records = _records(range(5))
    records[1].pop("v")  # map() raises KeyError
    records[2]["v"] = float("nan")  # not a finite value: refused when stored
    records[4]["v"] = 1e308  # finite, but would push the rollups' sums to infinity
    with store.connect() as conn:
        before = data_version(conn)
    report = run_source(store, settings, SensorConnector({"records": records}), "s1")
    assert (report.stored, report.quarantined, report.status) == (2, 3, "partial")
    assert _count(store, Observation) == 2
    with store.connect() as conn:
        reasons = conn.execute(select(Quarantine.reason, Quarantine.payload)).all()
        assert data_version(conn) > before
    assert any("'v'" in reason for reason, _ in reasons)
    assert any("finite" in reason for reason, _ in reasons)
    assert any("1e+308 is out of range" in reason for reason, _ in reasons)
    assert all('"id": "a"' in payload for _, payload in reasons)  # raw payload kept


def test_a_source_that_goes_down_is_failed_and_keeps_what_was_read(store, settings) -> None:
    config = {"records": _records(range(6)), "fail_after": 3}
    report = run_source(store, settings, SensorConnector(config), "s1")
    assert report.status == "failed" and "connection reset" in report.error
    assert report.failure == "unavailable"
    assert _count(store, Observation) == 3
    assert report.watermark is None  # not advanced: the next run reads it all again
    healed = run_source(store, settings, SensorConnector({"records": _records(range(6))}), "s1")
    assert healed.status == "ok" and _count(store, Observation) == 6


def test_outside_every_district_is_allowed_and_visible(store: Engine, settings) -> None:
    records = [{"id": "far", "t": 0, "v": 1.0, "lat": 40.0, "lon": 40.0}]
    run_source(store, settings, SensorConnector({"records": records}), "s1")
    with store.connect() as conn:
        assert conn.execute(select(Asset.district_id)).scalar_one() is None
        assert conn.execute(select(Rollup.district_id).distinct()).scalars().all() == [""]


class NamelessStream(SensorStream):
    """Maps to an asset whose name is NULL, which the store refuses (NOT NULL)."""

    def map(self, record: Mapping[str, Any]) -> Mapped:
        mapped = super().map(record)
        mapped.assets[0]["name"] = None
        return mapped


class NamelessConnector(SensorConnector):
    def streams(self) -> list[Stream]:
        return [NamelessStream(self.config)]


def test_a_batch_the_store_refuses_fails_the_run_with_its_reason(store: Engine, settings):
    report = run_source(store, settings, NamelessConnector({"records": _records(range(2))}), "s1")
    assert report.status == "failed" and report.failure == "store"
    assert "store refused a batch" in report.error and "\n" not in report.error
    assert report.watermark is None and _count(store, Observation) == 0
    with store.connect() as conn:
        assert conn.execute(select(FeedRun.status)).scalar_one() == "failed"


def test_any_store_error_fails_the_run_and_never_escapes(store: Engine, settings, monkeypatch):
    """A SQLAlchemyError without ``.orig`` (not a DBAPIError) is recorded like any other."""

    def refuse(*args: Any, **kwargs: Any) -> tuple[int, list[tuple[Any, str]]]:
        raise InvalidRequestError("this session's transaction\nhas been rolled back")

    monkeypatch.setattr(runner, "store_batch", refuse)
    report = run_source(store, settings, SensorConnector({"records": _records(range(2))}), "s1")
    assert report.status == "failed" and report.failure == "store"
    assert report.error is not None and "\n" not in report.error
    assert "store refused a batch" in report.error and "rolled back" in report.error
    assert report.watermark is None and _count(store, Observation) == 0
    with store.connect() as conn:
        assert conn.execute(select(FeedRun.status)).scalar_one() == "failed"


def test_a_store_error_while_keeping_what_was_read_does_not_escape(store, settings, monkeypatch):
    """The source goes down, then the store refuses the batch read before it: both told."""

    def refuse(*args: Any, **kwargs: Any) -> tuple[int, list[tuple[Any, str]]]:
        raise InvalidRequestError("this session's transaction has been rolled back")

    monkeypatch.setattr(runner, "store_batch", refuse)
    config = {"records": _records(range(6)), "fail_after": 3}
    report = run_source(store, settings, SensorConnector(config), "s1")
    assert report.status == "failed" and report.failure == "unavailable"
    assert report.error is not None and "connection reset" in report.error
    assert "store refused a batch" in report.error and "\n" not in report.error
    with store.connect() as conn:
        assert conn.execute(select(FeedRun.status)).scalar_one() == "failed"


def test_a_source_keeps_its_newest_runs_and_those_it_still_needs(store: Engine) -> None:
    """Runs beyond ``feed_runs_kept`` go, oldest first, except the runs quarantined
    records point at and the newest successful one (the watermark the next run reads
    after); nothing else changes."""
    settings = Settings(feed_runs_kept=10)
    bad = _records(range(0, 1))
    bad[0].pop("v")
    run_source(store, settings, SensorConnector({"records": bad}), "s1")  # quarantines
    first_ok = run_source(store, settings, SensorConnector({"records": _records(range(1, 3))}),
                          "s1")
    for hour in range(3, 10):
        run_source(store, settings, SensorConnector({"records": _records(range(hour, hour + 1))}),
                   "s1")
    assert _count(store, FeedRun) == 9
    for _ in range(12):  # the source goes down and stays down
        failed = run_source(store, settings, SensorConnector(
            {"records": _records(range(10, 12)), "fail_after": 0}), "s1")
        assert failed.status == "failed"
    run_source(store, settings, SensorConnector({"records": _records(range(5))}), "other")
    with store.connect() as conn:
        runs = conn.execute(select(FeedRun.id, FeedRun.status, FeedRun.watermark)
                            .where(FeedRun.source_id == "s1").order_by(FeedRun.id)).all()
        cited = conn.execute(select(Quarantine.run_id)).scalars().all()
    assert len(runs) == 12  # the 10 newest, the quarantined run and the newest success
    assert [r.status for r in runs[:2]] == ["partial", "ok"] and cited == [runs[0].id]
    assert runs[1].watermark == "0009" and first_ok.run_id not in {r.id for r in runs}
    assert all(r.status == "failed" for r in runs[2:])
    assert runner.last_watermark(store, "s1") == "0009"
    report = run_source(store, settings, SensorConnector({"records": _records(range(12))}), "s1")
    assert report.records_in == 2  # read after the kept watermark, not from the start
    # s1: its 10 newest (the new success among them) and the quarantined run; other: 1
    assert _count(store, FeedRun) == 10 + 1 + 1


def test_a_time_out_of_range_is_quarantined_and_never_moves_the_watermark(
        store: Engine) -> None:
    """Year 9999 (or 1900, or an hour ahead) is quarantined with its reason; the good
    records of the batch are stored, and the watermark is the newest stored record's."""
    settings = Settings(now=datetime.fromtimestamp(1_767_225_600 + 3600 * 10, timezone.utc))

    class Dated(SensorStream):
        def map(self, record: Mapping[str, Any]) -> Mapped:
            mapped = super().map(record)
            if "at" in record:
                mapped.observations[0]["time"] = record["at"]
                mapped.cursor = record["at"].strftime("%Y-%m-%dT%H")
            return mapped

    class DatedConnector(SensorConnector):
        def streams(self) -> list[Stream]:
            return [Dated(self.config)]

    records = _records(range(4))
    records[1]["at"] = datetime(9999, 12, 31, 23, tzinfo=timezone.utc)
    records[2]["at"] = datetime(1900, 1, 1, tzinfo=timezone.utc)
    records[3]["t"] = 12  # two hours after "now": a clock ahead, beyond the skew
    report = run_source(store, settings, DatedConnector({"records": records}), "s1")
    assert (report.stored, report.quarantined, report.status) == (1, 3, "partial")
    assert report.watermark == "0000"  # the one good record's, not 9999's
    with store.connect() as conn:
        reasons = conn.execute(select(Quarantine.reason)).scalars().all()
        assert conn.execute(select(func.count()).select_from(Observation)).scalar_one() == 1
    assert len(reasons) == 3 and all("outside the plausible range" in r for r in reasons)
    assert any("9999-12-31" in r for r in reasons) and any("1900-01-01" in r for r in reasons)
    assert runner.last_watermark(store, "s1") == "0000"


def test_a_run_whose_process_died_is_interrupted_not_running_for_ever(store: Engine) -> None:
    """A run still marked running whose heartbeat stopped over a minute ago (its process was
    killed) shows as interrupted on /feeds, and the source's next run marks it failed (each
    source its own); a run beating now stays running."""
    from datetime import timedelta

    from dashboard.feed_health import run_status

    now = datetime.now(timezone.utc)
    with unit_of_work(store) as conn:
        conn.execute(insert(Source), [{"id": s, "kind": "test-sensors", "location": "",
                                       "config": {}} for s in ("s1", "s2")])
        conn.execute(insert(FeedRun), [
            {"source_id": "s1", "started": now - timedelta(minutes=30), "status": "running",
             "heartbeat_at": now - timedelta(minutes=5)},
            {"source_id": "s2", "started": now - timedelta(hours=2), "status": "running",
             "heartbeat_at": None},
        ])
    with store.connect() as conn:
        dead = conn.execute(select(FeedRun).order_by(FeedRun.id)).all()
    assert [run_status(r) for r in dead] == ["interrupted", "interrupted"]
    report = run_source(store, Settings(), SensorConnector({"records": _records(range(2))}), "s1")
    run_source(store, Settings(), SensorConnector({"records": _records(range(2), "b")}), "s2")
    with store.connect() as conn:
        runs = conn.execute(select(FeedRun.id, FeedRun.status, FeedRun.error, FeedRun.finished,
                                   FeedRun.heartbeat_at).order_by(FeedRun.id)).all()
    assert [r.status for r in runs] == ["failed", "failed", "ok", "ok"]
    assert all("interrupted" in r.error for r in runs[:2])
    assert runs[0].finished == runs[0].heartbeat_at  # it ended when it last beat
    assert report.run_id == runs[2].id and runs[2].heartbeat_at is not None
    assert run_status(runs[2]) == "ok"


class GatedStream(SensorStream):
    """Reads its first record, then waits until the test opens the gate."""

    entered = None  # threading.Event set once the run is reading
    gate = None  # threading.Event the test sets to let the run finish

    def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
        records = iter(super().read(watermark))
        yield next(records)
        GatedStream.entered.set()
        assert GatedStream.gate.wait(30)
        yield from records


class GatedConnector(SensorConnector):
    kind = "test-gated"

    def streams(self) -> list[Stream]:
        return [GatedStream(self.config)]


def test_a_source_runs_once_at_a_time_wherever_it_is_started(store: Engine, settings) -> None:
    """While a run of a source is in progress (its heartbeat alive), another start of the
    same source, from any process, is refused by the store before reading anything; other
    sources run; once it finished the source runs again."""
    import threading

    from connectors.runner import SourceBusy

    GatedStream.entered, GatedStream.gate = threading.Event(), threading.Event()
    first: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: first.update(report=run_source(
        store, settings, GatedConnector({"records": _records(range(5))}), "gated")))
    worker.start()
    try:
        assert GatedStream.entered.wait(30)
        with pytest.raises(SourceBusy, match="already running in another process since"):
            run_source(store, settings, SensorConnector({"records": _records(range(5))}),
                       "gated")
        other = run_source(store, settings, SensorConnector({"records": _records(range(3), "b")}),
                           "other")
        assert other.status == "ok" and other.stored == 3
    finally:
        GatedStream.gate.set()
        worker.join(30)
    assert first["report"].status == "ok" and first["report"].stored == 5
    with store.connect() as conn:
        runs = conn.execute(select(FeedRun.status).where(FeedRun.source_id == "gated")).all()
    assert [r.status for r in runs] == ["ok"]  # the refused start left no run behind
    again = run_source(store, settings, SensorConnector({"records": _records(range(8))}), "gated")
    assert again.status == "ok" and again.stored == 3


def test_a_run_whose_process_died_frees_its_source(store: Engine, settings) -> None:
    """A "running" run whose heartbeat stopped (its process was killed) no longer holds the
    source: the next start marks it interrupted and runs."""
    from datetime import timedelta

    from dashboard.feed_health import RUN_LEASE_SECONDS

    first = run_source(store, settings, SensorConnector({"records": _records(range(2))}), "s")
    dead = datetime.now(timezone.utc) - timedelta(seconds=RUN_LEASE_SECONDS + 5)
    with unit_of_work(store) as conn:
        conn.execute(insert(FeedRun).values(source_id="s", started=dead, heartbeat_at=dead,
                                            status="running"))
    report = run_source(store, settings, SensorConnector({"records": _records(range(4))}), "s")
    assert first.status == report.status == "ok" and report.stored == 2
    with store.connect() as conn:
        statuses = [r.status for r in conn.execute(
            select(FeedRun.status).where(FeedRun.source_id == "s").order_by(FeedRun.id))]
    assert statuses == ["ok", "failed", "ok"]


def test_a_busy_source_is_reported_not_failed(store: Engine, settings, tmp_path) -> None:
    from connectors.sources import SourceEntry, run_entry

    now = datetime.now(timezone.utc)
    with unit_of_work(store) as conn:
        conn.execute(insert(Source).values(id="busy", kind="districts", location="",
                                           config={}))
        conn.execute(insert(FeedRun).values(source_id="busy", started=now, heartbeat_at=now,
                                            status="running"))
    entry = SourceEntry.model_validate({"id": "busy", "kind": "districts",
                                        "location": str(tmp_path / "none.geojson")})
    report = run_entry(store, settings, entry)
    assert report.status == "busy" and report.failure is None
    assert "already running in another process" in (report.error or "")


def test_a_run_of_a_process_gone_from_this_host_frees_its_source_at_once(
        store: Engine, settings) -> None:
    """A running run whose holder (host:pid) is a process of this host that exited frees
    its source at once, heartbeat fresh or not; a live holder, or another host's, keeps it
    until its lease lapses."""
    import os
    import socket
    import subprocess
    import sys

    from connectors.runner import SourceBusy

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    run_source(store, settings, SensorConnector({"records": _records(range(1))}), "held")
    for holder, frees in ((f"{host}:{gone.pid}", True), (f"{host}:{os.getpid()}", False),
                          (f"elsewhere.example:{gone.pid}", False), (None, False)):
        now = datetime.now(timezone.utc)
        with unit_of_work(store) as conn:
            conn.execute(delete(FeedRun).where(FeedRun.source_id == "held"))
            conn.execute(insert(FeedRun).values(source_id="held", started=now,
                                                heartbeat_at=now, status="running",
                                                holder=holder))
        connector = SensorConnector({"records": _records(range(2))})
        if frees:
            assert run_source(store, settings, connector, "held").status == "ok", holder
        else:
            with pytest.raises(SourceBusy):
                run_source(store, settings, connector, "held")
