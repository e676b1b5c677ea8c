"""MQTT ingest: messages per second and peak memory of acknowledging after commit (this
CityLens) against acknowledging each message as it is handed to the runner (the previous
way, which lost what was not committed yet when the ingester was killed), in the same run.

A Mosquitto of the benchmark's own (a free port, in-flight window 20 as Mosquitto's default,
no queue limit) holds ``--messages`` readings published at QoS 1 to a persistent session
while no ingester listens; then each way reads them all into a fresh SQLite store, in its
own interpreter, ``--repeat`` times.

    .venv/bin/python bench/mqtt_ingest.py [--messages 20000] [--repeat 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOPIC = "/bench/+/attrs"
CLIENT_ID = "bench-ingester"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_broker(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = folder / "mosquitto.conf"
    as_root = "user root\n" if os.geteuid() == 0 else ""
    config.write_text(f"{as_root}listener {port} 127.0.0.1\nallow_anonymous true\n"
                      "max_queued_messages 0\nmax_inflight_messages 20\n", encoding="utf-8")
    broker = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return broker, f"mqtt://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise SystemExit("mosquitto did not start")


def publish(url: str, count: int) -> None:
    """``count`` readings of 50 sensors, each with its own TimeInstant, at QoS 1."""
    from connectors.simulator import publish as publish_all

    first = datetime(2026, 11, 1, tzinfo=timezone.utc)
    publish_all(url, [(f"/bench/s{n % 50}/attrs", json.dumps(
        {"no2": float(n % 97), "TimeInstant": (first + timedelta(seconds=n)).isoformat()}))
        for n in range(count)])


def one_run(way: str, url: str, count: int, folder: str) -> dict[str, Any]:
    """Read ``count`` waiting messages into a new store the given way (in this process)."""
    from connectors import mqtt as mqtt_connector
    from connectors.base import COMMIT_POINT
    from connectors.runner import run_source
    from dashboard.settings import Settings
    from dashboard.store import init_store, make_engine

    class AckOnHandover(mqtt_connector.TelemetryStream):
        """The previous way: acknowledged when handed over, committed every 5,000."""

        def read(self, watermark: str | None) -> Iterator[Mapping[str, Any]]:
            for record in super().read(watermark):
                if record is COMMIT_POINT:
                    continue
                yield record
                self.acknowledge()

    if way == "ack-on-handover":
        mqtt_connector.TelemetryStream = AckOnHandover  # type: ignore[misc]
    engine = make_engine(f"sqlite:///{folder}/citylens.db")
    init_store(engine)
    connector = mqtt_connector.MqttConnector({"location": url, "topics": [TOPIC],
                                              "client_id": CLIENT_ID, "count": count,
                                              "seconds": 600})
    started = time.perf_counter()
    report = run_source(engine, Settings(redis_url=None), connector, "bench-mqtt")
    seconds = time.perf_counter() - started
    return {"way": way, "records": report.records_in, "stored": report.stored,
            "status": report.status, "seconds": seconds,
            "per_second": report.records_in / seconds if seconds else 0.0,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def register_session(url: str) -> None:
    from connectors.mqtt import MqttConnector
    from connectors.runner import run_source
    from dashboard.settings import Settings
    from dashboard.store import init_store, make_engine

    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/session.db")
        init_store(engine)
        run_source(engine, Settings(redis_url=None), MqttConnector(
            {"location": url, "topics": [TOPIC], "client_id": CLIENT_ID, "seconds": 0.3}),
            "bench-mqtt")
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--var-dir", help="not used: each run makes a store of its own")
    parser.add_argument("--child", nargs=3, metavar=("WAY", "URL", "FOLDER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        way, url, folder = args.child
        print(json.dumps(one_run(way, url, args.messages, folder)))
        return
    if shutil.which("mosquitto") is None:
        raise SystemExit("mosquitto is not installed")
    out = sys.stderr if args.json else sys.stdout
    results: dict[str, list[dict[str, Any]]] = {"ack-after-commit": [], "ack-on-handover": []}
    with tempfile.TemporaryDirectory() as top:
        broker, url = start_broker(Path(top))
        try:
            for attempt in range(args.repeat):
                for way in results:
                    register_session(url)
                    publish(url, args.messages)
                    folder = Path(top) / f"{way}-{attempt}"
                    folder.mkdir()
                    done = subprocess.run(
                        [sys.executable, __file__, "--messages", str(args.messages),
                         "--child", way, url, str(folder)],
                        capture_output=True, text=True, check=True, cwd=ROOT)
                    run = json.loads(done.stdout.strip().splitlines()[-1])
                    results[way].append(run)
                    print(f"{way:17} run {attempt + 1}: {run['records']:,} read, "
                          f"{run['stored']:,} stored in {run['seconds']:.2f} s "
                          f"({run['per_second']:,.0f}/s), peak RSS {run['peak_rss_mb']:.0f} MB",
                          file=out)
        finally:
            broker.terminate()
            broker.wait()
    summary = {way: {"median_seconds": statistics.median(r["seconds"] for r in runs),
                     "median_per_second": statistics.median(r["per_second"] for r in runs),
                     "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                     "all_stored": all(r["stored"] == args.messages for r in runs)}
               for way, runs in results.items()}
    for way, row in summary.items():
        print(f"{way:17} median {row['median_seconds']:.2f} s, "
              f"{row['median_per_second']:,.0f} messages/s, peak RSS {row['peak_rss_mb']:.0f} MB,"
              f" every message stored: {row['all_stored']}", file=out)
    ratio = (summary["ack-on-handover"]["median_per_second"]
             / summary["ack-after-commit"]["median_per_second"])
    print(f"the previous way reads {ratio:.2f}x as fast (and loses what it had not "
          f"committed on a kill -9)", file=out)
    if args.json:
        print(json.dumps({"messages": args.messages, "runs": results, "summary": summary}))


if __name__ == "__main__":
    main()
