"""Connectors as tasks on the real RabbitMQ (``citylens worker`` and ``citylens
scheduler``, each its own process): two workers and the scheduler store exactly what one
process stores, never running a source twice at once; a worker killed with -9 midway has
its run delivered again and finished, the store ending as after one clean run.

Each test uses a queue of its own (CITYLENS_QUEUE), deleted afterwards, and a PostgreSQL
store: several processes writing at once is what PostgreSQL is for (SQLite serialises
writers and refuses a writer that read before another committed)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select, text

from dashboard.model import FeedRun, Lease
from tests.conftest import CITYLENS_CLI, pg_store, service_missing, sqlite_store
from tests.test_kill_ingest import csv_export, first_rows_stored, snapshot

ROOT = Path(__file__).resolve().parents[1]
BROKER = os.environ.get("CITYLENS_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
LEASE_SECONDS = 6  # the kill test's: a killed run lets its source go this soon
TABLES = ("districts", "assets", "observations", "rollups", "service_requests", "citizens",
          "cases", "participation", "notices", "quarantine")


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue of the test's own on the real broker, deleted afterwards."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError as error:
        service_missing("RabbitMQ", error)
    name = f"citylens-test-{uuid.uuid4().hex[:8]}"
    yield name
    from kombu import Connection

    with Connection(BROKER) as connection:
        channel = connection.channel()
        channel.queue_delete(name)


class Processes:
    """Worker and scheduler processes of one test, stopped (or killed) at its end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.running = env, logs, []

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen([*CITYLENS_CLI, *args], cwd=ROOT, env=self.env,
                                   stdout=log, stderr=subprocess.STDOUT)
        self.running.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen[bytes]:
        return self.start(name, "worker", "--pool", "solo", "--name", f"{name}@test")

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Any]:
    made: list[Processes] = []

    def make(env: dict[str, str]) -> Processes:
        made.append(Processes(env, tmp_path))
        return made[-1]

    yield make
    for group in made:
        group.stop()


def _env(url: str, var_dir: Path, queue: str, lease: float = 60) -> dict[str, str]:
    return {**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_VAR_DIR": str(var_dir),
            "CITYLENS_REDIS_URL": "", "CITYLENS_BROKER_URL": BROKER, "CITYLENS_QUEUE": queue,
            "CITYLENS_RUN_LEASE_SECONDS": str(lease), "PYTHONUNBUFFERED": "1"}


# What the feeds deliver: the demo's own consultations (CityLens is where residents answer
# them) record their participation in the store directly, not through a feed.
FED = {"participation": "SELECT COUNT(*) FROM participation WHERE id NOT IN "
                        "(SELECT p.id FROM participation p JOIN surveys s "
                        "ON p.id LIKE s.id || ':%')"}


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(FED.get(t, f"SELECT COUNT(*) FROM {t}"))).scalar_one()
                for t in TABLES}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def test_two_workers_and_the_scheduler_store_what_one_process_stores(
        tmp_path: Path, queue: str, processes: Any) -> None:
    """The tiny demo's sources (with their ``after`` order) every 20 s for about a minute:
    every source ran, no two runs of a source overlapped, the runs waited for what they
    refer to, and the store equals the demo's own single-process ingest."""
    from connectors.demo import generate_demo
    from dashboard.settings import Settings

    single_dir = tmp_path / "single"
    single_url, single = sqlite_store(tmp_path / "single.db")
    generate_demo(single, Settings(var_dir=single_dir, database_url=single_url,
                                   redis_url=None), scale="tiny", seed=7)
    [feeds] = list(single_dir.glob("demo-feeds/*/sources.yaml"))
    entries = yaml.safe_load(feeds.read_text())["sources"]
    assert any(e.get("after") for e in entries)
    for entry in entries:
        entry["every_minutes"] = 1 / 3
    schedule = tmp_path / "sources.yaml"
    schedule.write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")

    with pg_store("citylens_queue") as (url, engine):
        _two_workers_and_the_scheduler(tmp_path, queue, processes, url, engine, entries,
                                       schedule, single)
    single.dispose()


def _two_workers_and_the_scheduler(tmp_path: Path, queue: str, processes: Any, url: str,
                                   engine: Engine, entries: list[dict[str, Any]],
                                   schedule: Path, single: Engine) -> None:
    group = processes(_env(url, tmp_path / "var", queue))
    group.worker("w1")
    group.worker("w2")
    group.start("scheduler", "scheduler", "--config", str(schedule))
    ids = {e["id"] for e in entries}
    deadline = time.monotonic() + 240
    ran: set[str] = set()
    while time.monotonic() < deadline and (ran != ids or time.monotonic() < deadline - 180):
        time.sleep(2)
        with engine.connect() as conn:
            ran = set(conn.execute(select(FeedRun.source_id).where(
                FeedRun.status.in_(("ok", "partial")))).scalars())
    group.stop()
    assert ran == ids, f"never ran: {sorted(ids - ran)}\n{group.log('w1')[-3000:]}"
    with engine.connect() as conn:  # the scheduler sent the notifier's rounds too
        assert conn.execute(select(Lease.holder).where(Lease.name == "notifier")).scalar()

    with engine.connect() as conn:
        runs = conn.execute(select(FeedRun.source_id, FeedRun.started, FeedRun.finished,
                                   FeedRun.status, FeedRun.error)
                            .order_by(FeedRun.started)).all()
    assert all(r.status in ("ok", "partial") for r in runs), [
        (r.source_id, r.error) for r in runs if r.status not in ("ok", "partial")]
    by_source: dict[str, list[Any]] = {}
    for run in runs:
        by_source.setdefault(run.source_id, []).append(run)
    for source, its in by_source.items():  # one at a time
        for before, after in zip(its, its[1:]):
            assert _aware(after.started) >= _aware(before.finished), source
    for entry in entries:  # a source's first run began after its prerequisites' first ended
        for name in entry.get("after", []):
            assert _aware(by_source[entry["id"]][0].started) >= _aware(
                by_source[name][0].finished), (entry["id"], name)
    assert max(len(its) for its in by_source.values()) >= 2  # the scheduler sends again
    assert _counts(engine) == _counts(single)
    assert _counts(engine)["quarantine"] == 0


def test_a_worker_killed_midway_has_its_run_delivered_again(
        tmp_path: Path, queue: str, processes: Any) -> None:
    """A 400,000-row export sent to one worker, killed with -9 once rows are stored; a
    second worker gets the task again (late acknowledgement), waits for the killed run's
    lease to lapse, and finishes: every reading and rollup equals one clean run's."""
    rows = 400_000
    args = csv_export(tmp_path / "feed.csv", rows)
    mapping = args[args.index("--mapping") + 1]
    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": [
        {"id": "killed", "kind": "csv", "location": str(tmp_path / "feed.csv"),
         "mapping": mapping}]}), encoding="utf-8")
    clean_url, clean = sqlite_store(tmp_path / "clean.db")
    done = subprocess.run([*CITYLENS_CLI, "sources", "run", "--config", str(sources)],
                          cwd=ROOT, env=_env(clean_url, tmp_path / "var", queue),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr

    with pg_store("citylens_killed") as (url, engine):
        _killed_midway(tmp_path, queue, processes, url, engine, sources, rows, clean)
    clean.dispose()


def _killed_midway(tmp_path: Path, queue: str, processes: Any, url: str, engine: Engine,
                   sources: Path, rows: int, clean: Engine) -> None:
    from celery import Celery

    group = processes(_env(url, tmp_path / "var", queue, LEASE_SECONDS))
    first = group.worker("first")
    sender = Celery("test", broker=BROKER)
    sender.send_task("citylens.run_source", args=("killed", str(sources)), queue=queue)
    stored = first_rows_stored(engine, first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 0 < stored < rows, f"the kill did not land midway\n{group.log('first')[-2000:]}"

    second = group.worker("second")
    deadline = time.monotonic() + 600
    finished = False
    while not finished and time.monotonic() < deadline and second.poll() is None:
        time.sleep(1)
        with engine.connect() as conn:
            finished = conn.execute(select(func.count()).select_from(FeedRun).where(
                FeedRun.status == "ok")).scalar_one() > 0
    assert finished, group.log("second")[-3000:]
    assert snapshot(engine) == snapshot(clean)
    with engine.connect() as conn:
        statuses = conn.execute(select(FeedRun.status).order_by(FeedRun.id)).scalars().all()
    assert statuses == ["failed", "ok"]  # the killed run (interrupted), then the re-delivery
    assert "succeeded" in group.log("second")
