"""Benchmarks cannot rot: every script in ``bench/`` answers ``--help`` and runs once on
the tiny city (``--repeat 1``, small sizes). Behaviour only: no figure is judged here."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_"))


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_every_benchmark_is_smoke_run_here() -> None:
    assert set(SCRIPTS) == set(SMOKE), "add the new benchmark's smoke run to SMOKE"


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_answers_help(script: str) -> None:
    done = _run(f"bench/{script}", "--help")
    assert done.returncode == 0 and "usage:" in done.stdout, done.stderr[-2000:]


SMOKE = {
    "kpi_overview.py": ["--repeat", "1", "--windows", "week"],
    "pages.py": ["--repeat", "1"],
    "request_kpis.py": ["--repeat", "1", "--windows", "week,year"],
    "ingest.py": ["--rows", "2000"],
    "csv_export.py": ["--rows", "2000"],
    "mqtt_ingest.py": ["--messages", "200", "--repeat", "1"],
    "scale_out.py": ["--rows", "500", "--sources", "2", "--workers", "1", "--messages", "100"],
    "partitions.py": ["--assets", "4", "--months", "4", "--step-minutes", "360", "--repeat", "1"],
    "live.py": ["--seconds", "2", "--clients", "1", "--every", "1", "--batch", "10",
                "--workers", "1"],
    "request_duplicates.py": ["--open", "3000", "--batch", "200", "--repeat", "1"],
    "hotspots.py": ["--requests", "3000", "--repeat", "1"],
    "district_assign.py": ["--points", "2000", "--districts", "80", "--repeat", "1"],
    "notify_matching.py": ["--users", "20", "--subscriptions", "40", "--events", "200",
                           "--repeat", "1"],
    "opendata_export.py": ["--rows", "2000"],
}


@pytest.fixture(scope="module")
def tiny_copy(tiny_city: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny city's var folder (benchmarks may write next to their store)."""
    target = tmp_path_factory.mktemp("bench") / "tiny"
    shutil.copytree(tiny_city.var_dir, target)
    return target


@pytest.mark.postgres
@pytest.mark.parametrize("script", sorted(SMOKE))
def test_every_benchmark_runs_once_on_the_tiny_city(script: str, tiny_copy: Path) -> None:
    done = _run(f"bench/{script}", "--var-dir", str(tiny_copy), *SMOKE[script])
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
