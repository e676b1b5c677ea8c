"""kill -9 in the middle of a file ingest (a large CSV export read in chunks, an NGSI
entity dump read in batches), then the same command again: the store ends exactly as one
clean run leaves it (rows and rollups), and the killed run shows as interrupted."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from dashboard.model import FeedRun, Observation
from tests.conftest import CITYLENS_CLI, sqlite_store

ROOT = Path(__file__).resolve().parents[1]
FIRST = datetime(2026, 10, 1, tzinfo=timezone.utc)
SENSORS = 40

MAPPING = """entity: observations
type: TrafficFlowObserved
domain: mobility
namespace: killtest
columns: {id: sensor, time: at}
metrics:
  - {metric: intensity, column: vehicles, unit: vehicles/h}
"""


def csv_export(path: Path, rows: int) -> list[str]:
    with path.open("w", encoding="utf-8") as out:
        out.write("sensor,at,vehicles\n")
        for n in range(rows):
            at = FIRST + timedelta(minutes=n // SENSORS)
            out.write(f"S{n % SENSORS},{at:%Y-%m-%dT%H:%M:%SZ},{n % 977}\n")
    mapping = path.with_suffix(".yaml")
    mapping.write_text(MAPPING, encoding="utf-8")
    return ["ingest", "csv", str(path), "--mapping", str(mapping), "--source-id", "killed"]


def ngsi_dump(path: Path, rows: int) -> list[str]:
    path.write_text(json.dumps([
        {"id": f"urn:ngsi-ld:AirQualityObserved:killtest:{n % SENSORS}",
         "type": "AirQualityObserved", "no2": float(n % 97),
         "dateObserved": (FIRST + timedelta(minutes=n // SENSORS)).isoformat()}
        for n in range(rows)]), encoding="utf-8")
    return ["ingest", "ngsi", str(path), "--source-id", "killed"]


def citylens(url: str, args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": ""}
    return subprocess.Popen([*CITYLENS_CLI, *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def first_rows_stored(engine: Engine, process: subprocess.Popen[Any],
                      seconds: float = 300) -> int:
    """Wait until ``process`` has stored its first readings (or ended, or ``seconds``
    passed): how many readings the store holds then (to kill it midway)."""
    deadline = time.monotonic() + seconds
    stored = 0
    while stored == 0 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
    return int(stored)


def snapshot(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every reading (asset id, metric, time, value) and every rollup row."""
    with engine.connect() as conn:
        readings = conn.execute(text(
            "SELECT a.id, o.metric, o.time, o.value FROM observations o "
            "JOIN assets a ON a.pk = o.asset_pk ORDER BY 1, 2, 3")).all()
        rollups = conn.execute(text(
            "SELECT metric, grain, bucket, district_id, count, sum, min, max FROM rollups "
            "ORDER BY 1, 2, 3, 4")).all()
    return [tuple(r) for r in readings], [tuple(r) for r in rollups]


@pytest.mark.parametrize(("write", "rows"), [(csv_export, 400_000), (ngsi_dump, 60_000)],
                         ids=["csv", "ngsi"])
def test_kill_9_midway_then_again_equals_one_clean_run(write, rows: int,
                                                        tmp_path: Path) -> None:
    args = write(tmp_path / ("feed.csv" if write is csv_export else "feed.json"), rows)
    clean_url, clean = sqlite_store(tmp_path / "clean.db")
    done = citylens(clean_url, args)
    assert done.wait(600) == 0, done.stderr and done.stderr.read()

    url, engine = sqlite_store(tmp_path / "killed.db")
    ingest = citylens(url, args)
    stored = first_rows_stored(engine, ingest)
    ingest.send_signal(signal.SIGKILL)
    ingest.wait()
    assert 0 < stored < rows, "the kill did not land midway"
    again = citylens(url, args)  # at once: the killed process is gone, so is its hold
    assert again.wait(600) == 0, again.stderr and again.stderr.read()

    assert snapshot(engine) == snapshot(clean)
    assert len(snapshot(engine)[0]) == rows
    with engine.connect() as conn:
        statuses = conn.execute(select(FeedRun.status).order_by(FeedRun.id)).scalars().all()
    assert statuses == ["failed", "ok"]  # the killed run, marked interrupted by the next
    clean.dispose()
    engine.dispose()


def test_a_corrupt_tail_says_what_was_kept_and_a_fixed_file_completes(tmp_path: Path) -> None:
    """A large export whose tail is not text (a truncated copy, binary garbage) fails in one
    line naming the line and how many records before it were stored; those stay, the
    watermark does not move, and the fixed file then stores the rest, nothing twice."""
    rows = 250_000
    path = tmp_path / "feed.csv"
    args = csv_export(path, rows)
    good = path.read_bytes()
    path.write_bytes(good + b"S1,2026-10-20T00:00:00Z,\xff\xfe\x00garbage\n" * 3)
    url, engine = sqlite_store(tmp_path / "citylens.db")
    env = {**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": ""}
    broken = subprocess.run([*CITYLENS_CLI, *args], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=600)
    assert broken.returncode == 2 and "Traceback" not in broken.stderr, broken.stderr[-2000:]
    [line] = broken.stderr.strip().splitlines()
    with engine.connect() as conn:
        kept = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
    assert line.startswith(f"error: {path}: near line ") and "not utf-8" in line, line
    assert f"({kept:,} records read before it were stored and stay;" in line
    assert 0 < kept <= rows
    path.write_bytes(good)
    fixed = subprocess.run([*CITYLENS_CLI, *args], cwd=ROOT, env=env, text=True,
                           capture_output=True, timeout=600)
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    readings, _ = snapshot(engine)
    assert len(readings) == rows and len(set(readings)) == rows
    engine.dispose()
