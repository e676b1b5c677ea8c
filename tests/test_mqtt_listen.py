"""Long-lived MQTT listeners (``citylens listen mqtt``) on a Mosquitto of the test's own:
two listeners share one subscription (``$share/<group>/<topic>``) and split the messages;
one is killed with -9 mid-stream and started again as its supervisor would; every message
published is stored exactly once, and both stop cleanly on SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from dashboard.model import FeedRun, Observation
from tests.conftest import CITYLENS_CLI, pg_store
from tests.side_servers import SideMosquitto
from tests.test_mqtt_faults import (
    TOPIC,
    Publisher,
    expected,
    readings,
    rollups_match_rows,
    running,
    stored_readings,
)

ROOT = Path(__file__).resolve().parents[1]
LEASE_SECONDS = 4  # a killed listener lets its source go this soon after its last beat
MESSAGES = 3_000


def _listener(url: str, broker: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": "",
           "CITYLENS_RUN_LEASE_SECONDS": str(LEASE_SECONDS)}
    return subprocess.Popen(
        [*CITYLENS_CLI, "listen", "mqtt", "--broker", broker, "--topic", TOPIC,
         "--client-id", f"listener-{name}", "--share", "citylens", "--commit-every", "50",
         "--commit-ms", "200", "--source-id", f"listen-{name}"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _stored(engine: Engine, source: str | None = None) -> int:
    with engine.connect() as conn:
        if source is None:
            return conn.execute(select(func.count()).select_from(Observation)).scalar_one()
        return conn.execute(select(func.coalesce(func.sum(FeedRun.stored), 0)).where(
            FeedRun.source_id == source)).scalar_one()


def _wait(condition: object, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_two_listeners_share_a_subscription_and_a_killed_one_loses_nothing(
        side_broker: SideMosquitto, tmp_path: Path) -> None:
    with pg_store("citylens_listen") as (url, engine):
        logs = {name: tmp_path / f"{name}.log" for name in ("a", "b")}
        a = _listener(url, side_broker.url, "a", logs["a"])
        b = _listener(url, side_broker.url, "b", logs["b"])
        try:
            _wait(lambda: running(engine, "listen-a") and running(engine, "listen-b"), 60,
                  "the listeners did not start")
            time.sleep(1)  # connected and subscribed
            publisher = Publisher(side_broker.url, readings(MESSAGES), pause=0.002)
            publisher.start()
            _wait(lambda: publisher.sent >= MESSAGES // 3 and _stored(engine) > 0, 60,
                  "nothing stored while publishing")
            a.send_signal(signal.SIGKILL)
            a.wait()
            publisher.finish()
            time.sleep(LEASE_SECONDS + 1)  # the killed run's lease lapses
            a = _listener(url, side_broker.url, "a", logs["a"])  # its supervisor restarts it
            _wait(lambda: len(stored_readings(engine)) >= MESSAGES, 120,
                  f"stored {len(stored_readings(engine))} of {MESSAGES}")
            time.sleep(1)  # anything stored twice would show now
        finally:
            for listener in (a, b):
                listener.send_signal(signal.SIGTERM)
            exits = [listener.wait(60) for listener in (a, b)]
        assert exits == [0, 0], [log.read_text()[-1500:] for log in logs.values()]
        assert stored_readings(engine) == expected(MESSAGES)  # each exactly once
        rollups_match_rows(engine)
        shares = _stored(engine, "listen-a"), _stored(engine, "listen-b")
        assert all(shares), f"one listener stored nothing: {shares}"  # they split the load
        with engine.connect() as conn:
            statuses = conn.execute(select(FeedRun.source_id, FeedRun.status)
                                    .order_by(FeedRun.id)).all()
        assert sorted(tuple(s) for s in statuses) == [
            ("listen-a", "failed"), ("listen-a", "ok"), ("listen-b", "ok")]



def test_listeners_in_the_sources_file_run_on_their_own(side_broker: SideMosquitto,
                                                       tmp_path: Path) -> None:
    """A ``listen: true`` source is never scheduled (``sources run``, the scheduler) and
    ``citylens listen sources`` runs it until SIGTERM, storing what it hears."""
    import yaml

    from connectors.queue import beat_schedule
    from connectors.sources import load_sources, scheduled
    from tests.test_kill_ingest import csv_export

    args = csv_export(tmp_path / "feed.csv", 200)
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [
        {"id": "telemetry", "kind": "mqtt", "location": side_broker.url, "topics": [TOPIC],
         "client_id": "listener-sources", "listen": True, "commit_ms": 200},
        {"id": "export", "kind": "csv", "location": str(tmp_path / "feed.csv"),
         "mapping": args[args.index("--mapping") + 1]}]}), encoding="utf-8")
    entries = load_sources(sources)
    assert [e.id for e in scheduled(entries)] == ["export"]
    assert list(beat_schedule(entries, sources)) == ["source:export", "store:maintain",
                                                     "notify", "opendata"]
    with pg_store("citylens_listen_sources") as (url, engine):
        env = {**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": ""}
        once = subprocess.run([*CITYLENS_CLI, "sources", "run", "--config", str(sources)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert once.returncode == 0 and "telemetry" not in once.stdout, once.stdout
        log = tmp_path / "listen.log"
        listener = subprocess.Popen([*CITYLENS_CLI, "listen", "sources", "--config",
                                     str(sources)], cwd=ROOT, env=env, stdout=log.open("wb"),
                                    stderr=subprocess.STDOUT)
        try:
            _wait(lambda: running(engine, "telemetry"), 60, "the listener did not start")
            time.sleep(1)
            publisher = Publisher(side_broker.url, readings(300), pause=0.001)
            publisher.start()
            publisher.finish()
            _wait(lambda: _stored(engine) >= 200 + 300, 60, "the messages were not stored")
        finally:
            listener.send_signal(signal.SIGTERM)
            code = listener.wait(60)
        assert code == 0, log.read_text()[-2000:]
        assert "telemetry: 300 in, 300 stored, 0 quarantined, ok" in log.read_text()
