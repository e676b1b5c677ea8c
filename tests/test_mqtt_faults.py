"""MQTT under faults, against a Mosquitto of the test's own: an ingester killed with -9
midway, and the broker restarted mid-stream. Every message published is stored exactly
once (the store's rollups equal its raw rows), and nothing is left unacknowledged."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select, text

from connectors.mqtt import MqttConnector
from connectors.runner import RunReport, run_source
from dashboard.model import FeedRun, Observation
from dashboard.settings import Settings
from tests.conftest import CITYLENS_CLI, set_retry_policy
from tests.side_servers import SideMosquitto

ROOT = Path(__file__).resolve().parents[1]
APIKEY = "faults"
TOPIC = f"/{APIKEY}/+/attrs"
FIRST_READING = datetime(2026, 11, 2, tzinfo=timezone.utc)


@pytest.fixture
def store(file_store: tuple[str, Engine]) -> tuple[str, Engine]:
    return file_store


def readings(count: int) -> list[tuple[str, str]]:
    """``count`` readings of ten sensors, each with its own TimeInstant and value."""
    return [(f"/{APIKEY}/s{n % 10}/attrs",
             json.dumps({"no2": float(n % 97),
                         "TimeInstant": (FIRST_READING + timedelta(seconds=n)).isoformat()}))
            for n in range(count)]


class Publisher(threading.Thread):
    """Publishes at QoS 1 from a persistent session at a steady pace; what it publishes
    while the broker is away is sent when it comes back. ``done`` once the broker has
    acknowledged every message."""

    def __init__(self, url: str, messages: list[tuple[str, str]], pause: float) -> None:
        super().__init__(daemon=True)
        self.messages, self.pause = messages, pause
        self.sent = 0
        host, port = url.removeprefix("mqtt://").split(":")
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fault-publisher",
                                  clean_session=False)
        self.client.max_inflight_messages_set(100)
        self.client.reconnect_delay_set(0.2, 1)
        self.acknowledged: set[int] = set()
        self.client.on_publish = lambda client, data, mid, *rest: self.acknowledged.add(mid)
        self.client.connect(host, int(port))
        self.client.loop_start()

    def run(self) -> None:
        for topic, payload in self.messages:
            self.client.publish(topic, payload, qos=1)  # queued while the broker is away
            self.sent += 1
            time.sleep(self.pause)

    def finish(self, seconds: float = 60) -> None:
        self.join(seconds)
        deadline = time.monotonic() + seconds
        while len(self.acknowledged) < len(self.messages) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acknowledged) == len(self.messages), "the broker did not take all"
        self.client.disconnect()
        self.client.loop_stop()


def connector(url: str, **config: object) -> MqttConnector:
    return MqttConnector({"location": url, "topics": [TOPIC], "client_id": "fault-ingester",
                          **config})


def stored_readings(engine: Engine) -> list[tuple[int, float]]:
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(select(Observation.time, Observation.value)).all())


def running(engine: Engine, source: str | None = None) -> bool:
    """Whether one run (of ``source``, or of any source) is in progress."""
    stmt = select(func.count()).select_from(FeedRun).where(FeedRun.status == "running")
    if source is not None:
        stmt = stmt.where(FeedRun.source_id == source)
    with engine.connect() as conn:
        return conn.execute(stmt).scalar() == 1


def rollups_match_rows(engine: Engine) -> None:
    """The hour rollups hold exactly the counts and sums of the raw rows."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT time - time % 3600, count(*), sum(value) FROM observations "
            "GROUP BY time - time % 3600 ORDER BY 1")).all()
        rolled = conn.execute(text(
            "SELECT bucket, sum(count), sum(sum) FROM rollups WHERE grain = 'hour' "
            "GROUP BY bucket ORDER BY 1")).all()
    assert [tuple(r) for r in rolled] == [tuple(r) for r in rows]


def expected(count: int) -> list[tuple[int, float]]:
    return sorted((int((FIRST_READING + timedelta(seconds=n)).timestamp()), float(n % 97))
                  for n in range(count))


def test_kill_9_mid_stream_loses_nothing_and_stores_nothing_twice(
        side_broker: SideMosquitto, store: tuple[str, Engine],
        monkeypatch: pytest.MonkeyPatch) -> None:
    url, engine = store
    lease = 4  # every process here: a killed run lets its source go 4 s after its last beat
    monkeypatch.setattr("connectors.runner.RUN_LEASE_SECONDS", float(lease))
    run_source(engine, Settings(), connector(side_broker.url, seconds=0.3), "mqtt-faults")
    published = readings(1_000)
    publisher = Publisher(side_broker.url, published, pause=0.002)
    env = {**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": "",
           "CITYLENS_RUN_LEASE_SECONDS": str(lease)}
    ingester = subprocess.Popen(
        [*CITYLENS_CLI, "ingest", "mqtt", "--broker", side_broker.url, "--topic", TOPIC,
         "--client-id", "fault-ingester", "--count", "1000", "--seconds", "60",
         "--source-id", "mqtt-faults"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not running(engine) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(1)  # connected and subscribed
    publisher.start()
    while publisher.sent < 500:
        time.sleep(0.001)
    ingester.send_signal(signal.SIGKILL)
    ingester.wait()
    killed_with = len(stored_readings(engine))
    assert 0 < killed_with < 1_000, "the kill did not land midway"
    publisher.finish()
    time.sleep(lease + 1)  # the killed run's lease lapses

    report = run_source(engine, Settings(), connector(side_broker.url, seconds=3, count=1_000),
                        "mqtt-faults")
    assert report.status == "ok", report.error
    assert stored_readings(engine) == expected(1_000)
    rollups_match_rows(engine)
    after = run_source(engine, Settings(), connector(side_broker.url, seconds=0.5),
                       "mqtt-faults")
    assert after.records_in == 0  # every message was acknowledged once stored


def test_broker_restart_mid_stream_loses_nothing(side_broker: SideMosquitto,
                                                 store: tuple[str, Engine],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    set_retry_policy(monkeypatch, attempts=20)
    _, engine = store
    reports: list[RunReport] = []
    listening = connector(side_broker.url, seconds=8)
    runner = threading.Thread(target=lambda: reports.append(
        run_source(engine, Settings(), listening, "mqtt-faults")))
    runner.start()
    time.sleep(0.5)  # subscribed
    publisher = Publisher(side_broker.url, readings(1_500), pause=0.002)
    publisher.start()
    while len(stored_readings(engine)) < 300:
        time.sleep(0.01)
    side_broker.stop()
    time.sleep(2)
    side_broker.start()
    publisher.finish()
    runner.join(30)
    assert reports and reports[0].status == "ok", reports and reports[0].error
    assert stored_readings(engine) == expected(1_500)
    rollups_match_rows(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Observation)).scalar() == 1_500
