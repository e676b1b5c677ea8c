"""PostgreSQL stopped for 20 s under ``citylens sources run --loop``, on a cluster of the
test's own (initdb/pg_ctl): the loop says so in one line per run, never exits, and once
the database is back every source runs again and stores what arrived meanwhile, once."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dashboard.model import ServiceRequest
from dashboard.store import init_store, make_engine
from tests.conftest import CITYLENS_CLI
from tests.side_servers import SidePostgres

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"
OUTAGE_SECONDS = 20


def requests(count: int) -> list[dict[str, Any]]:
    first = datetime(2026, 11, 2, 8, tzinfo=timezone.utc)
    return [{"service_request_id": f"out-{n}", "status": "open", "service_code": "potholes",
             "service_name": "Pothole", "requested_datetime": (first + timedelta(minutes=n))
             .isoformat(), "updated_datetime": (first + timedelta(minutes=n)).isoformat(),
             "lat": 43.46, "long": -3.81} for n in range(count)]


@pytest.fixture
def side_pg() -> Iterator[SidePostgres]:
    server = SidePostgres()
    yield server
    server.close()


class Loop:
    """``citylens sources run --loop --json`` in a subprocess; its reports as they come."""

    def __init__(self, config: Path, database_url: str) -> None:
        env = {**os.environ, "CITYLENS_DATABASE_URL": database_url, "CITYLENS_REDIS_URL": ""}
        self.process = subprocess.Popen(
            [*CITYLENS_CLI, "sources", "run", "--loop", "--json", "--config", str(config)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.reports: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.reports.put(json.loads(line))

    def until(self, wanted: Any, seconds: float = 90) -> list[dict[str, Any]]:
        """The reports up to and including the first for which ``wanted`` is true."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                report = self.reports.get(timeout=0.5)
            except queue.Empty:
                assert self.process.poll() is None, "the loop exited"
                continue
            seen.append(report)
            if wanted(report):
                return seen
        raise AssertionError(f"not seen in {seconds} s; got {seen}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def test_the_loop_outlives_a_database_outage(side_pg: SidePostgres, tmp_path: Path) -> None:
    chicago = FIXTURES / "open311" / "chicago_service_requests.json"
    if not chicago.exists():
        pytest.skip(f"fixture {chicago} is absent")
    engine = make_engine(side_pg.url)
    init_store(engine)
    feed = tmp_path / "requests.json"
    feed.write_text(json.dumps(requests(50)), encoding="utf-8")
    config = tmp_path / "sources.yaml"
    config.write_text(f"""
sources:
  - {{id: city311, kind: open311, every_minutes: 0.05, location: {feed}}}
  - {{id: chicago, kind: open311, every_minutes: 0.05, location: {chicago}}}
""", encoding="utf-8")
    loop = Loop(config, side_pg.url)
    try:
        first = loop.until(lambda r: r["source"] == "chicago")
        assert [(r["source"], r["status"], r["stored"]) for r in first] == [
            ("city311", "ok", 50), ("chicago", "ok", 2)]
        side_pg.stop()
        feed.write_text(json.dumps(requests(120)), encoding="utf-8")  # arrives meanwhile
        time.sleep(OUTAGE_SECONDS)
        side_pg.start()
        during = loop.until(lambda r: r["source"] == "city311" and r["status"] == "ok")
        failed = [r for r in during if r["status"] == "failed"]
        assert failed and all(r["failure"] == "store" and "\n" not in r["error"]
                              and r["error"].startswith("store unavailable: ")
                              for r in failed)
        assert during[-1]["stored"] == 70  # only what arrived during the outage
        loop.until(lambda r: r["source"] == "chicago" and r["status"] == "ok")
        assert loop.process.poll() is None
    finally:
        loop.stop()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ServiceRequest)).scalar() == 122
    engine.dispose()


def test_a_database_restart_during_a_large_csv_ingest(side_pg: SidePostgres,
                                                      tmp_path: Path) -> None:
    """PostgreSQL stopped midway through a chunked CSV ingest: one line naming the
    problem, exit 1, what was committed kept; the same command once it is back leaves the
    store as one clean run does (here: a clean run into SQLite)."""
    from sqlalchemy import text

    from dashboard.model import FeedRun
    from tests.conftest import sqlite_store
    from tests.test_kill_ingest import csv_export, first_rows_stored, snapshot

    rows = 400_000
    args = csv_export(tmp_path / "feed.csv", rows)
    clean_url, clean = sqlite_store(tmp_path / "clean.db")
    env = {**os.environ, "CITYLENS_REDIS_URL": ""}
    done = subprocess.run([*CITYLENS_CLI, *args], cwd=ROOT, capture_output=True, text=True,
                          env={**env, "CITYLENS_DATABASE_URL": clean_url}, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]

    engine = make_engine(side_pg.url)
    init_store(engine)
    ingest = subprocess.Popen([*CITYLENS_CLI, *args], cwd=ROOT, text=True,
                              env={**env, "CITYLENS_DATABASE_URL": side_pg.url},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stored = first_rows_stored(engine, ingest)
    engine.dispose()
    side_pg.stop()
    _, errors = ingest.communicate(timeout=300)
    assert 0 < stored < rows, "the outage did not land midway"
    assert ingest.returncode == 1 and "Traceback" not in errors, errors[-3000:]
    [line] = errors.strip().splitlines()
    assert line.startswith("error: ") and "database server cannot be reached" in line, line

    side_pg.start()
    again = subprocess.run([*CITYLENS_CLI, *args], cwd=ROOT, capture_output=True, text=True,
                           env={**env, "CITYLENS_DATABASE_URL": side_pg.url}, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    engine = make_engine(side_pg.url)
    assert snapshot(engine) == snapshot(clean)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM observations")).scalar() == rows
        statuses = conn.execute(select(FeedRun.status).order_by(FeedRun.id)).scalars().all()
    assert statuses[-1] == "ok"
    engine.dispose()
    clean.dispose()
