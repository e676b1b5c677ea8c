"""Scale-out: ingest throughput of ``citylens worker`` processes on RabbitMQ against
PostgreSQL with 1, 2 and 4 workers, beside one ``citylens sources run`` process (the
previous way), in the same run; then the MQTT listener's committed messages per second,
one listener against two sharing a subscription.

Ingest: ``--sources`` CSV exports of ``--rows`` readings each (sensor, time, value), one
source each, on a fresh PostgreSQL schema per configuration. The workers (solo pool, one
run at a time each) are sent every source at once; the time is from sending to the last
run finished. Efficiency is throughput / (workers x the one-worker throughput). Peak RSS is
each worker process's high-water mark.

MQTT: ``--messages`` readings wait at QoS 1 in a Mosquitto of the benchmark's own; then
listeners (``citylens listen mqtt``) start and the time is until every one is stored.

    .venv/bin/python bench/scale_out.py [--rows 100000] [--sources 8] [--workers 1,2,4]
        [--messages 20000] [--pg-url URL] [--json]

The one-process time includes starting its interpreter (about 2 s here), as an operator
running it pays; workers are started before the clock starts, listeners after it (their
start-up is in their time). The machine has two cores: four workers share them
with PostgreSQL and RabbitMQ.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mqtt_ingest import publish, start_broker  # noqa: E402
from dashboard.model import FeedRun, Observation  # noqa: E402
from dashboard.store import init_store, make_engine  # noqa: E402
from dashboard.store.partitions import partition_span  # noqa: E402

CLI = [sys.executable, "-c", "import sys, app; app.main(sys.argv[1:])"]  # citylens
PG_URL = os.environ.get("CITYLENS_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BROKER = os.environ.get("CITYLENS_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
FIRST = datetime(2026, 10, 1, tzinfo=timezone.utc)
MAPPING = """entity: observations
type: TrafficFlowObserved
domain: mobility
namespace: scaleout{n}
columns: {{id: sensor, time: at}}
metrics:
  - {{metric: intensity, column: vehicles, unit: vehicles/h}}
"""


def write_sources(folder: Path, sources: int, rows: int) -> Path:
    """``sources`` CSV exports of ``rows`` readings of 40 sensors each, and their file."""
    entries = []
    for n in range(sources):
        path = folder / f"export-{n}.csv"
        with path.open("w", encoding="utf-8") as out:
            out.write("sensor,at,vehicles\n")
            for row in range(rows):
                at = FIRST + timedelta(minutes=row // 40)
                out.write(f"S{row % 40},{at:%Y-%m-%dT%H:%M:%SZ},{row % 977}\n")
        mapping = folder / f"export-{n}.yaml"
        mapping.write_text(MAPPING.format(n=n), encoding="utf-8")
        entries.append({"id": f"export-{n}", "kind": "csv", "location": str(path),
                        "mapping": str(mapping)})
    sources_file = folder / "sources.yaml"
    sources_file.write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
    return sources_file


@contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    """A new store on its own schema of ``base_url``'s database, dropped afterwards."""
    schema = f"citylens_scale_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base_url}?options={quote('-csearch_path=' + schema)}"
    engine = make_engine(url)
    init_store(engine)
    with engine.begin() as conn:  # the readings' month has its partition, as a live month has
        partition_span(conn, FIRST, FIRST + timedelta(days=27))
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _env(url: str, folder: Path, queue: str) -> dict[str, str]:
    return {**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": "",
            "CITYLENS_VAR_DIR": str(folder), "CITYLENS_BROKER_URL": BROKER,
            "CITYLENS_QUEUE": queue, "PYTHONPATH": str(ROOT)}


def _stored(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Observation)).scalar_one()
    engine.dispose()
    return int(count)


def _peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def one_process(sources_file: Path, folder: Path, expected: int) -> dict[str, Any]:
    """The previous way: every source, one after the other, in one process."""
    with fresh_schema(PG_URL) as url:
        started = time.perf_counter()
        done = subprocess.run([*CLI, "sources", "run", "--config", str(sources_file)],
                              cwd=ROOT, env=_env(url, folder, "unused"), capture_output=True,
                              text=True, check=False)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"sources run failed: {done.stderr[-2000:]}")
        stored = _stored(url)
    return {"way": "one process (sources run)", "workers": 1, "seconds": seconds,
            "stored": stored, "complete": stored == expected, "per_second": stored / seconds}


def with_workers(count: int, sources_file: Path, folder: Path, expected: int,
                 sources: int) -> dict[str, Any]:
    """``count`` workers sent every source at once."""
    from celery import Celery

    queue = f"citylens-bench-{uuid.uuid4().hex[:8]}"
    with fresh_schema(PG_URL) as url:
        env = _env(url, folder, queue)
        workers = [subprocess.Popen([*CLI, "worker", "--pool", "solo", "--name",
                                     f"bench{n}-{queue}@host"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for n in range(count)]
        engine = make_engine(url)
        try:
            time.sleep(4)  # connected to the broker
            sender = Celery("bench", broker=BROKER)
            started = time.perf_counter()
            for n in range(sources):
                sender.send_task("citylens.run_source", args=(f"export-{n}", str(sources_file)),
                                 queue=queue)
            finished = 0
            while finished < sources:
                time.sleep(0.2)
                with engine.connect() as conn:
                    finished = conn.execute(select(func.count()).select_from(FeedRun).where(
                        FeedRun.status.in_(("ok", "partial", "failed")))).scalar_one()
                if any(w.poll() is not None for w in workers):
                    raise SystemExit("a worker exited")
            seconds = time.perf_counter() - started
            peaks = [_peak_mb(w.pid) for w in workers]
        finally:
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.wait(60)
            engine.dispose()
            _delete_queue(queue)
        stored = _stored(url)
    return {"way": f"{count} worker{'s' if count > 1 else ''}", "workers": count,
            "seconds": seconds, "stored": stored, "complete": stored == expected,
            "per_second": stored / seconds, "peak_rss_mb_per_worker": max(peaks)}


def _delete_queue(name: str) -> None:
    from kombu import Connection

    with Connection(BROKER) as connection:
        connection.channel().queue_delete(name)


def listeners(count: int, messages: int, folder: Path) -> dict[str, Any]:
    """``count`` listeners of one shared subscription reading ``messages`` waiting ones."""
    place = folder / f"mosquitto-{count}"
    place.mkdir()
    broker, broker_url = start_broker(place)
    try:
        with fresh_schema(PG_URL) as url:
            env = _env(url, folder, "unused")
            names = [f"bench-listener-{n}" for n in range(count)]

            def start(name: str) -> subprocess.Popen[bytes]:
                return subprocess.Popen(
                    [*CLI, "listen", "mqtt", "--broker", broker_url, "--topic",
                     "/bench/+/attrs", "--client-id", name, "--share", "bench",
                     "--source-id", name], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)

            first = [start(name) for name in names]  # their sessions and subscriptions
            time.sleep(3)
            for process in first:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
            publish(broker_url, messages)  # waiting for them in the broker
            started = time.perf_counter()
            running = [start(name) for name in names]
            engine = make_engine(url)
            stored = 0
            deadline = time.monotonic() + 600
            while stored < messages and time.monotonic() < deadline:
                time.sleep(0.1)
                with engine.connect() as conn:
                    stored = conn.execute(
                        select(func.count()).select_from(Observation)).scalar_one()
            seconds = time.perf_counter() - started
            peaks = [_peak_mb(p.pid) for p in running]
            for process in running:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
            engine.dispose()
    finally:
        broker.terminate()
        broker.wait()
    return {"listeners": count, "messages": messages, "stored": stored,
            "seconds": seconds, "per_second": stored / seconds,
            "peak_rss_mb_per_listener": max(peaks)}


def main() -> None:
    global PG_URL
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="readings per source")
    parser.add_argument("--sources", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--var-dir", help="not used: each configuration makes its own store")
    args = parser.parse_args()
    PG_URL = args.pg_url
    if shutil.which("mosquitto") is None:
        raise SystemExit("mosquitto is not installed")
    out = sys.stderr if args.json else sys.stdout
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    expected = args.rows * args.sources
    with tempfile.TemporaryDirectory() as top:
        folder = Path(top)
        sources_file = write_sources(folder, args.sources, args.rows)
        print(f"{args.sources} sources x {args.rows:,} readings = {expected:,} on PostgreSQL",
              file=out)
        ingest = [one_process(sources_file, folder, expected)]
        print(f"{ingest[0]['way']:28} {ingest[0]['seconds']:7.1f} s "
              f"{ingest[0]['per_second']:9,.0f} obs/s", file=out)
        for count in counts:
            row = with_workers(count, sources_file, folder, expected, args.sources)
            ingest.append(row)
            print(f"{row['way']:28} {row['seconds']:7.1f} s {row['per_second']:9,.0f} obs/s, "
                  f"peak RSS {row['peak_rss_mb_per_worker']:.0f} MB a worker, "
                  f"complete: {row['complete']}", file=out)
        one = next((r for r in ingest if r.get("peak_rss_mb_per_worker") is not None
                    and r["workers"] == 1), None)
        for row in ingest[1:]:
            if one is not None:
                row["efficiency"] = row["per_second"] / (row["workers"] * one["per_second"])
                print(f"{row['way']:28} efficiency {row['efficiency']:.2f}", file=out)
        mqtt = [listeners(n, args.messages, folder) for n in (1, 2)]
        for row in mqtt:
            print(f"{row['listeners']} listener(s): {row['stored']:,} of {row['messages']:,} "
                  f"committed in {row['seconds']:.1f} s ({row['per_second']:,.0f}/s), peak "
                  f"RSS {row['peak_rss_mb_per_listener']:.0f} MB a listener", file=out)
    if args.json:
        print(json.dumps({"rows": args.rows, "sources": args.sources, "ingest": ingest,
                          "mqtt": mqtt}))


if __name__ == "__main__":
    main()
