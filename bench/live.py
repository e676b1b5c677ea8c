"""Benchmark: the live city. The benchmark city served as production serves it (gunicorn and
Redis), the real callback requests of the overview, district, domain and services pages
replayed from 1 and from 100 concurrent clients while a feeder ingests a batch of readings
every few seconds through the CSV connector; the same again with the recompute path (one
data version for everything, no stale-while-revalidate, no warming, no kept answers, and
request and case KPIs computed from the rows instead of the rollups kept at ingest) in the
same run.

    .venv/bin/python bench/live.py [--var-dir var/bench] [--seconds 60] [--clients 1,100]
        [--batch 300] [--every 5] [--workers 2] [--worker-class sync] [--threads 1]
        [--modes scoped,recompute] [--lcp-repeats 3] [--json]

Prints, per mode and number of clients: requests, errors, server-side p50/p95/max (the
time gunicorn took, from its access log), client-side p50/p95/max, the share of responses
that computed a view and that were served stale (X-CityLens-Computed / -Stale headers),
the batches ingested and the workers' peak RSS; with one client, the largest contentful
paint of the overview and the domain page loaded in Chromium while the feeder ingests. The
requests are captured once, in headless
Chromium signed in as the mayor (``/usr/bin/chromium``); the server runs with "now" fixed
at the demo's end, and the feeder's readings fall in its last hour.
"""
from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import default_url, ensure_demo, open_store, reference_now, settings_for  # noqa: E402

from dashboard.kpis import load_kpis  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CITYLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]
CALLBACK = "/_dash-update-component"
MODES = {
    # what this CityLens does: scoped versions, stale-while-revalidate, warming after ingest,
    # kept answers
    "scoped": {"CITYLENS_CACHE_SCOPES": "1", "CITYLENS_CACHE_STALE_SECONDS": "300",
               "CITYLENS_WARM_AFTER_INGEST": "1", "CITYLENS_KEEP_ANSWERS": "1"},
    # the recompute path: any ingest invalidates every view, the next viewer computes it, and
    # the request and case KPIs are computed from every row (bench/_recompute_conf.py)
    "recompute": {"CITYLENS_CACHE_SCOPES": "0", "CITYLENS_CACHE_STALE_SECONDS": "0",
                  "CITYLENS_WARM_AFTER_INGEST": "0", "CITYLENS_KEEP_ANSWERS": "0"},
}
GUNICORN_CONFIG = {"recompute": Path(__file__).resolve().parent / "_recompute_conf.py"}
FEED_TYPE, FEED_METRIC, FEED_DOMAIN = "WasteContainer", "fillingLevel", "waste"
# What assets/live.js does when the data version changed: set the page's live store.
LIVE_REDRAW = ("() => { const e = document.querySelector('[data-live-store]'); if (e) "
               "window.dash_clientside.set_props(e.getAttribute('data-live-store'), "
               "{data: 'bench'}); }")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet, whatever the client says
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{what} did not come up within {seconds:.0f} s")


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis of the benchmark's own, on a free port, without persistence."""
    import redis

    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: redis.Redis.from_url(url).ping(), 20, "redis-server")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def web_server(env: dict[str, str], args: argparse.Namespace, log: Path,
               config: Path | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """gunicorn serving app:server (with the settings file ``config``), its access log
    giving each request's time (µs) and what it computed."""
    port = free_port()
    settings_file = ["--config", str(config)] if config else []
    command = [sys.executable, "-m", "gunicorn", *settings_file, "--workers", str(args.workers),
               "--worker-class", args.worker_class, "--threads", str(args.threads),
               "--bind", f"127.0.0.1:{port}", "--timeout", "300",
               "--access-logfile", str(log), "--access-logformat",
               "%(U)s %(s)s %(D)s %({x-citylens-computed}o)s %({x-citylens-stale}o)s",
               "app:server"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(url + "/login", timeout=5).ok, 120, "gunicorn")
        yield url, process
    finally:
        process.terminate()
        process.wait(timeout=60)


@dataclass
class Captured:
    """What the pages asked the server: the callback requests and the session's cookies."""

    cookies: dict[str, str]
    # (page, callback URL, JSON body)
    bodies: list[tuple[str, str, str]] = field(default_factory=list)


def capture(url: str, pages: list[str]) -> Captured:
    """Open each page in Chromium as the mayor and keep its callback requests."""
    from playwright.sync_api import sync_playwright

    from dashboard.demo.users import DEMO_PASSWORD

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        page.goto(url + "/login")
        page.fill("#username", "mayor")
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
        found = Captured({})
        current = {"page": ""}
        page.on("request", lambda r: r.method == "POST" and CALLBACK in r.url
                and found.bodies.append((current["page"], r.url[len(url):], r.post_data or "")))
        for path in pages:
            current["page"] = path
            page.goto(url + path)  # the page and its numbers (the pages router's callback)
            page.wait_for_load_state("networkidle", timeout=300_000)
            page.evaluate(LIVE_REDRAW)  # what a live page asks after an ingest
            page.wait_for_load_state("networkidle", timeout=300_000)
            page.wait_for_timeout(1000)
        found.cookies = {c["name"]: c["value"] for c in context.cookies()}
        browser.close()
    seen: set[str] = set()
    found.bodies = [b for b in found.bodies if not (b[2] in seen or seen.add(b[2]))]
    return found


LCP_OBSERVER = ("window.__lcp = null; new PerformanceObserver((list) => { for (const e of "
                "list.getEntries()) window.__lcp = e.startTime; }).observe({type: "
                "'largest-contentful-paint', buffered: true});")


def paint_times(url: str, cookies: dict[str, str], pages: list[str], repeats: int
                ) -> dict[str, list[float]]:
    """Largest contentful paint (seconds) of each page, loaded ``repeats`` times in a fresh
    Chromium tab signed in with ``cookies`` (while the feeder keeps ingesting)."""
    from playwright.sync_api import sync_playwright

    found: dict[str, list[float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.add_cookies([{"name": k, "value": v, "url": url} for k, v in cookies.items()])
        context.add_init_script(LCP_OBSERVER)
        for path in pages:
            for _ in range(repeats):
                page = context.new_page()
                page.goto(url + path)
                page.wait_for_load_state("networkidle", timeout=120_000)
                page.wait_for_timeout(1000)
                lcp = page.evaluate("window.__lcp")
                if lcp is not None:
                    found.setdefault(path, []).append(float(lcp) / 1000)
                page.close()
                time.sleep(2)  # spread the loads over the feeder's batches
        browser.close()
    return found


def feed(env: dict[str, str], every: float, batch: int, stop: Any, done: Any) -> None:
    """Every ``every`` seconds, ``batch`` new readings of the waste containers through the
    CSV connector (a separate process, as a feed's worker would be)."""
    os.environ.update(env)
    from sqlalchemy import select

    from connectors import get_connector
    from connectors.runner import run_source
    from dashboard.model import Asset
    from dashboard.settings import Settings
    from dashboard.store import get_engine

    settings = Settings()
    engine = get_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        assets = conn.execute(select(Asset.id).where(Asset.type == FEED_TYPE)).scalars().all()
    now = int(settings.current_time().timestamp())
    folder = Path(tempfile.mkdtemp(prefix="citylens-live-"))
    mapping = folder / "readings.yaml"
    mapping.write_text(f"entity: observations\ntype: {FEED_TYPE}\ndomain: {FEED_DOMAIN}\n"
                       "columns: {id: id, time: time}\n"
                       f"metrics:\n  - {{metric: {FEED_METRIC}, column: value, unit: ratio}}\n")
    rows, step = 0, 0
    while not stop.is_set():
        started = time.monotonic()
        path = folder / f"batch-{step}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "time", "value"])
            for n in range(batch):  # times spread over the clock's last hour
                at = datetime.fromtimestamp(now - 3500 + (step * batch + n) % 3500, timezone.utc)
                writer.writerow([random.choice(assets), at.isoformat(), f"{random.random():.3f}"])
        connector = get_connector("csv")({"location": str(path), "mapping": str(mapping)})
        # a source of its own per batch: no watermark from an earlier run skips its rows
        report = run_source(engine, settings, connector, f"bench-live-{os.getpid()}-{step}")
        rows += report.stored
        step += 1
        done.put((step, rows, report.seconds))
        stop.wait(max(0.0, every - (time.monotonic() - started)))


def replay(url: str, captured: Captured, clients: int, seconds: float
           ) -> list[tuple[float, int, int, str]]:
    """``clients`` threads posting the captured requests in turn for ``seconds``: each
    answer's (client seconds, status, views computed, page)."""
    results: list[tuple[float, int, int, str]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(offset: int) -> None:
        session = requests.Session()
        session.cookies.update(captured.cookies)
        headers = {"Content-Type": "application/json"}
        n = offset
        while time.monotonic() < deadline:
            page, path, body = captured.bodies[n % len(captured.bodies)]
            n += 1
            started = time.perf_counter()
            try:
                response = session.post(url + path, data=body, headers=headers, timeout=120)
                status = response.status_code
                computed = int(response.headers.get("X-CityLens-Computed", "0") or 0)
            except requests.RequestException:
                status, computed = 599, 0
            with lock:
                results.append((time.perf_counter() - started, status, computed, page))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def warm(url: str, captured: Captured) -> None:
    """Every captured request once, in turn: the cache holds each view before the run."""
    session = requests.Session()
    session.cookies.update(captured.cookies)
    for _, path, body in captured.bodies:
        session.post(url + path, data=body, headers={"Content-Type": "application/json"},
                     timeout=600)


def server_times(log: Path, offset: int) -> tuple[list[float], int, int]:
    """Server seconds of the callback requests logged after byte ``offset``; how many of
    them computed a view and how many were served stale."""
    times, computed, stale = [], 0, 0
    with log.open("rb") as handle:
        handle.seek(offset)
        for line in handle.read().decode(errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 5 and parts[0].startswith(CALLBACK):
                times.append(int(parts[2]) / 1e6)
                computed += parts[3] not in ("-", "0")
                stale += parts[4] not in ("-", "0")
    return times, computed, stale


def workers_rss_mb(master: int) -> float:
    """Resident memory of the gunicorn workers together (MB)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return 0.0
    total = 0
    for pid in children:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def quantiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)
    return {"p50": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "max": ordered[-1]}


def run_mode(mode: str, env: dict[str, str], args: argparse.Namespace, captured: Captured | None,
             pages: list[str], say: Any) -> tuple[Captured, list[dict[str, Any]]]:
    """One server in ``mode``: capture (first time), then each number of clients."""
    log = Path(tempfile.mkdtemp(prefix="citylens-live-log-")) / "access.log"
    rows = []
    with web_server(env, args, log, GUNICORN_CONFIG.get(mode)) as (url, process):
        if captured is None:
            captured = capture(url, pages)
            say(f"captured {len(captured.bodies)} distinct callback requests on "
                f"{', '.join(pages)}")
        for clients in args.clients:
            import redis

            redis.Redis.from_url(env["CITYLENS_REDIS_URL"]).flushdb()
            warm(url, captured)
            offset = log.stat().st_size if log.exists() else 0
            spawn = multiprocessing.get_context("spawn")
            stop, done = spawn.Event(), spawn.Queue()
            feeder = spawn.Process(target=feed, args=(env, args.every, args.batch, stop, done))
            feeder.start()
            rss = [workers_rss_mb(process.pid)]
            sampler = threading.Event()

            def sample() -> None:
                while not sampler.wait(1.0):
                    rss.append(workers_rss_mb(process.pid))

            threading.Thread(target=sample, daemon=True).start()
            client_side = replay(url, captured, clients, args.seconds)
            paints = (paint_times(url, captured.cookies, [pages[0], pages[2]], args.lcp_repeats)
                      if clients == 1 and args.lcp_repeats else {})
            sampler.set()
            stop.set()
            feeder.join(timeout=120)
            batches = []
            while not done.empty():
                batches.append(done.get())
            time.sleep(1)  # the access log is written after the response
            server, computed, stale = server_times(log, offset)
            errors = sum(1 for c in client_side if c[1] != 200)
            by_page = {page: quantiles([c[0] for c in client_side if c[3] == page])["p95"]
                       for page in pages}
            row = {"mode": mode, "clients": clients, "requests": len(client_side),
                   "per_second": len(client_side) / args.seconds, "errors": errors,
                   "server": quantiles(server), "client": quantiles([c[0] for c in client_side]),
                   "computed_share": computed / len(server) if server else 0.0,
                   "stale_share": stale / len(server) if server else 0.0,
                   "batches": len(batches), "rows_ingested": batches[-1][1] if batches else 0,
                   "batch_seconds": quantiles([b[2] for b in batches]),
                   "workers_rss_mb": max(rss), "client_p95_by_page": by_page,
                   "lcp_seconds": paints}
            rows.append(row)
            say(describe(row))
    return captured, rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def describe(row: dict[str, Any]) -> str:
    server, client = row["server"], row["client"]
    return (f"{row['mode']:<9} {row['clients']:>3} clients: {row['requests']:>6,} requests "
            f"({row['per_second']:.0f}/s), {row['errors']} errors; server p50 "
            f"{_ms(server['p50'])} p95 {_ms(server['p95'])} max {_ms(server['max'])}; client "
            f"p50 {_ms(client['p50'])} p95 {_ms(client['p95'])} max {_ms(client['max'])}; "
            f"computed {row['computed_share']:.0%}, stale {row['stale_share']:.0%}; "
            f"{row['batches']} batches ({row['rows_ingested']:,} readings, p50 "
            f"{_ms(row['batch_seconds']['p50'])}); workers {row['workers_rss_mb']:,.0f} MB\n"
            f"{'':>14}client p95 per page: "
            + ", ".join(f"{page} {_ms(p95)}" for page, p95 in row["client_p95_by_page"].items())
            + "".join(f"\n{'':>14}LCP {page} (Chromium, {len(times)} loads during ingest): "
                      f"median {_ms(statistics.median(times))}, max {_ms(max(times))}"
                      for page, times in row["lcp_seconds"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None, help="default: sqlite in --var-dir")
    parser.add_argument("--var-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", default="1,100")
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--every", type=float, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", default="scoped,recompute")
    parser.add_argument("--lcp-repeats", type=int, default=3,
                        help="loads of the overview and the domain page in Chromium per mode "
                             "(one client), for their largest contentful paint; 0: none")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    args.database_url = args.database_url or default_url(args.var_dir)
    out = sys.stderr if args.json else sys.stdout

    def say(message: str) -> None:
        print(message, file=out, flush=True)

    settings = settings_for(args.database_url, args.var_dir)
    engine = open_store(args.database_url)
    demo = ensure_demo(engine, settings, say)
    now = reference_now(engine, load_kpis(settings.kpis_file), demo)
    with engine.connect() as conn:
        from sqlalchemy import func, select

        from dashboard.model import Asset, District

        district = conn.execute(select(func.min(District.id))).scalar_one()
        domain = conn.execute(select(Asset.domain).group_by(Asset.domain)
                              .order_by(func.count().desc()).limit(1)).scalar_one()
    engine.dispose()
    pages = ["/", f"/district/{district}", f"/domain/{domain}", "/services"]
    say(f"now = {now.isoformat()}; {args.workers} {args.worker_class} workers x "
        f"{args.threads} threads; {args.seconds:g} s per run; a batch of {args.batch} "
        f"readings every {args.every:g} s")
    rows: list[dict[str, Any]] = []
    captured = None
    with redis_server() as redis_url:
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            env = {**os.environ, "CITYLENS_DATABASE_URL": args.database_url,
                   "CITYLENS_VAR_DIR": str(args.var_dir), "CITYLENS_REDIS_URL": redis_url,
                   "CITYLENS_NOW": now.isoformat(), "CITYLENS_CACHE_HEADERS": "1",
                   # glibc's malloc: two arenas per process, as the README's gunicorn
                   # command sets, instead of one per thread (the cache's refreshers)
                   "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2"),
                   **MODES[mode]}
            captured, found = run_mode(mode, env, args, captured, pages, say)
            rows += found
    for clients in args.clients:
        pair = {r["mode"]: r for r in rows if r["clients"] == clients}
        if {"scoped", "recompute"} <= pair.keys() and pair["scoped"]["server"]["p95"]:
            ratio = pair["recompute"]["server"]["p95"] / pair["scoped"]["server"]["p95"]
            say(f"{clients} clients: server p95 recompute / scoped = {ratio:.1f}x")
    if args.json:
        print(json.dumps({"now": now.isoformat(), "pages": pages, "runs": rows}, indent=2))
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
