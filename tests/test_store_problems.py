"""A store that cannot be reached, opened or written gives one line naming the problem and
what to do, exit 1, never a traceback: a full disk and a read-only disk (a small tmpfs of
the test's own), a missing folder, an unreachable server, a database that does not exist."""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.store import init_store, make_engine
from dashboard.store.problems import store_problem
from tests.conftest import CITYLENS_CLI

ROOT = Path(__file__).resolve().parents[1]


def citylens(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": ""}
    return subprocess.run([*CITYLENS_CLI, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def one_line_error(done: subprocess.CompletedProcess[str], exit_code: int = 1) -> str:
    assert done.returncode == exit_code, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return lines[0]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs of the test's own (skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def requests_file(path: Path, count: int) -> Path:
    path.write_text(json.dumps([
        {"service_request_id": f"SR-{n}", "status": "open", "service_code": "pothole",
         "description": "a deep pothole in front of the school gates " * 5,
         "requested_datetime": f"2026-05-01T10:{n % 60:02d}:00Z"} for n in range(count)]),
        encoding="utf-8")
    return path


def test_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_disk / 'citylens.db'}"
    engine = make_engine(url)
    init_store(engine)
    engine.dispose()
    feed = requests_file(tmp_path / "requests.json", 20_000)
    line = one_line_error(citylens(url, "ingest", "open311", str(feed)))
    assert "the disk holding the store is full: free some space" in line, line
    kpis = citylens(url, "kpis", "--json")  # what was stored before is still readable
    assert kpis.returncode == 0, kpis.stderr[-2000:]


def test_a_read_only_store(small_disk: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{small_disk / 'citylens.db'}"
    engine = make_engine(url)
    init_store(engine)
    engine.dispose()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    feed = requests_file(tmp_path / "requests.json", 3)
    line = one_line_error(citylens(url, "ingest", "open311", str(feed)))
    assert line.startswith(f"error: store {url}: ")
    assert "read-only" in line or "cannot be opened" in line
    served = subprocess.run(
        [*CITYLENS_CLI[:2], "import app; app._create_or_exit()"], cwd=ROOT, text=True,
        capture_output=True, timeout=300,
        env={**os.environ, "CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": ""})
    assert served.returncode == 4 and "Traceback" not in served.stderr, served.stderr[-2000:]
    assert served.stderr.startswith(f"CityLens cannot start: store {url}: ")


@pytest.mark.parametrize(("url", "meaning"), [
    ("postgresql+psycopg://citylens:s3cret@127.0.0.1:1/test", "cannot be reached"),
    ("postgresql+psycopg://postgres@127.0.0.1:5432/citylens_absent", "does not exist"),
    ("sqlite:////proc/no-such-folder/citylens.db", "cannot be opened"),
])
def test_a_store_that_is_not_there(url: str, meaning: str) -> None:
    line = one_line_error(citylens(url, "kpis"))
    assert meaning in line and "s3cret" not in line


def test_an_unknown_problem_is_still_one_line() -> None:
    problem = store_problem(RuntimeError("something\nodd"), "sqlite:///x.db")
    assert problem == "store sqlite:///x.db: RuntimeError: something odd"
