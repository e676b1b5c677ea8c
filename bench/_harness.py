"""Shared benchmark plumbing: the store (SQLite file or a PostgreSQL schema), its size and
row counts, fresh-process runs with peak-memory figures, and a row-counting connection."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

from dashboard.kpis.definitions import KpiDefinition
from dashboard.settings import Settings
from dashboard.store import get_engine
from dashboard.store.version import get_meta

COUNTED_TABLES = ("observations", "rollups", "assets", "service_requests", "cases")
HOUR = 3600


def code_fingerprint() -> str:
    """A short hash of the KPI engine's and the store's source files: figures belong to it."""
    import dashboard

    root = Path(dashboard.__file__).parent
    digest = hashlib.sha1()
    for path in sorted([*root.glob("kpis/*.py"), *root.glob("store/*.py"),
                        *root.glob("queries/*.py")]):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def default_url(var_dir: Path) -> str:
    """The benchmark's own SQLite file under ``var_dir``."""
    return f"sqlite:///{(var_dir / 'citylens.db').resolve()}"


def pg_schema(url: str) -> str | None:
    """The schema a PostgreSQL URL selects with ``options=-csearch_path=NAME``."""
    options = unquote(str(make_url(url).query.get("options", "")))
    for part in options.split():
        if part.startswith(("-csearch_path=", "search_path=")):
            return part.split("=", 1)[1].split(",")[0].strip('"')
    return None


def prepare_database(url: str) -> None:
    """Create the dedicated PostgreSQL schema when missing (never touches other schemas)."""
    if make_url(url).get_backend_name() != "postgresql":
        return
    schema = pg_schema(url)
    if not schema or schema == "public":
        raise SystemExit(
            "a PostgreSQL benchmark needs its own schema: add "
            "?options=-csearch_path%3Dcitylens_bench to the URL"
        )
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()


def ensure_demo(engine: Engine, settings: Settings, say: Callable[[str], None]) -> dict[str, Any]:
    """The store's ``demo`` meta entry, generating the benchmark city first when absent."""
    with engine.connect() as conn:
        present = get_meta(conn, "demo")
    if present:
        say(f"store already holds a demo city: {present}")
        return json.loads(present)
    from connectors.demo import generate_demo

    say("no demo city in the store: generating scale=benchmark, seed=7 (takes minutes)")
    started = time.perf_counter()
    summary = generate_demo(engine, settings, scale="benchmark", seed=7, progress=say)
    say(f"generated in {time.perf_counter() - started:.1f} s: {summary}")
    with engine.connect() as conn:
        return json.loads(get_meta(conn, "demo") or "{}")


def store_facts(engine: Engine, url: str) -> dict[str, Any]:
    """Row counts of the main tables and the database's size on disk."""
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in COUNTED_TABLES:
            counts[table] = int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() or 0)
        if conn.dialect.name == "postgresql":
            size = conn.execute(
                text(
                    "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
                )
            ).scalar()
        else:
            path = Path(make_url(url).database or "")
            size = sum(
                p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists()
            )
    return {"rows": counts, "bytes": int(size or 0)}


def reference_now(engine: Engine, kpis: Sequence[KpiDefinition], demo: dict[str, Any]) -> datetime:
    """The benchmark's "now": the demo's own when it records one, else the middle of the
    newest hour of rollup data (so reruns of an unchanged store see the same windows)."""
    for key in ("now", "end", "until"):
        if isinstance(demo.get(key), str):
            stamp = datetime.fromisoformat(demo[key])
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    newest = 0
    with engine.connect() as conn:
        for metric in sorted({k.metric for k in kpis if k.metric}):
            found = conn.execute(
                text("SELECT MAX(bucket) FROM rollups WHERE metric = :m AND grain = 'hour'"),
                {"m": metric},
            ).scalar()
            newest = max(newest, int(found or 0))
    if not newest:
        return datetime.now(timezone.utc)
    return datetime.fromtimestamp(newest + HOUR // 2, timezone.utc)


class _Rows(list):  # type: ignore[type-arg]
    """A fetched result that answers like an SQLAlchemy Result."""

    def all(self) -> list[Any]:
        return list(self)

    def one(self) -> Any:
        if len(self) != 1:
            raise ValueError(f"expected one row, got {len(self)}")
        return self[0]

    def scalar(self) -> Any:
        return self[0][0] if self else None


class CountingConnection:
    """Wraps a Connection: counts queries, rows fetched and seconds spent in the database."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.queries = 0
        self.rows = 0
        self.seconds = 0.0

    def execute(self, *args: Any, **kwargs: Any) -> _Rows:
        started = time.perf_counter()
        rows = _Rows(self._conn.execute(*args, **kwargs).all())
        self.seconds += time.perf_counter() - started
        self.queries += 1
        self.rows += len(rows)
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def _status_mb(field: str) -> float | None:
    match = re.search(rf"^{field}:\s+(\d+) kB", _read("/proc/self/status"), re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def reset_peak_rss() -> bool:
    """Restart the kernel's peak-RSS count (VmHWM) from the current RSS (Linux >= 4.0).

    Needed because a spawned child inherits its parent's high-water mark across fork and
    exec, so ``ru_maxrss`` alone would report the parent's size.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def rss_mb() -> float:
    """This process's resident set size now, in MB."""
    current = _status_mb("VmRSS")
    return current if current is not None else peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's peak resident set size since the last reset, in MB."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def measured(run: Callable[[], dict[str, Any]], repeat: int, heap: bool = True) -> dict[str, Any]:
    """Call ``run`` ``repeat`` times (timed), then, with ``heap``, once under tracemalloc.

    Returns the runs' seconds and their own figures, the peak RSS over the RSS just before
    the first run, the Python/numpy heap peak, and the last run's ``result``.
    """
    exact = reset_peak_rss()
    baseline = rss_mb()
    runs: list[dict[str, Any]] = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        result["seconds"] = time.perf_counter() - started
        runs.append(result)
    rss_growth = peak_rss_mb() - baseline
    heap_peak = None
    if heap:
        tracemalloc.start()
        run()
        heap_peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    last = runs[-1]
    return {
        "seconds": [r["seconds"] for r in runs],
        "median_s": statistics.median(r["seconds"] for r in runs),
        "first_s": runs[0]["seconds"],
        "db_s": statistics.median(r.get("db_s", 0.0) for r in runs),
        "rows_read": last.get("rows_read"),
        "queries": last.get("queries"),
        "baseline_rss_mb": baseline,
        "rss_growth_mb": rss_growth,
        "rss_growth_exact": exact,  # False: ru_maxrss, may include the parent's size
        "heap_peak_mb": heap_peak,
        "result": last.get("result"),
    }


def in_fresh_process(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function(*args)`` in a new spawned interpreter, so its memory is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def settings_for(url: str, var_dir: Path, now: datetime | None = None) -> Settings:
    """Settings on the benchmark store, without Redis (the in-process cache)."""
    return Settings(database_url=url, var_dir=var_dir, redis_url=None, now=now)


def open_store(url: str) -> Engine:
    """The store's engine (schema created when missing)."""
    return get_engine(url)
