"""The command line end to end on a tiny demo city: demo, reuse, kpis --json."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CITYLENS_CLI

ROOT = Path(__file__).resolve().parents[1]


def _citylens(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CITYLENS_CLI, *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    var_dir = tmp_path_factory.mktemp("cli-var")
    env = {**os.environ, "CITYLENS_VAR_DIR": str(var_dir), "CITYLENS_REDIS_URL": ""}
    env.pop("CITYLENS_DATABASE_URL", None)
    done = _citylens(env, "demo", "--scale", "tiny", "--no-serve")
    assert done.returncode == 0, done.stderr
    assert "generated" in done.stdout
    assert (var_dir / "citylens.db").exists()
    return env


def test_second_demo_run_reuses_the_data(demo_env: dict[str, str]) -> None:
    again = _citylens(demo_env, "demo", "--scale", "tiny", "--no-serve")
    assert again.returncode == 0
    assert "reusing" in again.stdout


def test_kpis_json_prints_real_values(demo_env: dict[str, str]) -> None:
    done = _citylens(demo_env, "kpis", "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    kpis = payload["kpis"]
    assert len(kpis) >= 12
    for key in ("id", "name", "domain", "value", "unit", "target", "direction", "score",
                "trend", "as_of"):
        assert all(key in k for k in kpis), key
    with_values = [k for k in kpis if k["value"] is not None]
    assert len(with_values) >= 12, [k["id"] for k in kpis if k["value"] is None]
    assert 0 < payload["city_score"] < 2
    scores = [k["score"] for k in with_values]
    assert payload["city_score"] == pytest.approx(sum(scores) / len(scores))


def test_kpis_for_a_district_differ_from_the_city(demo_env: dict[str, str]) -> None:
    city = json.loads(_citylens(demo_env, "kpis", "--json", "--window", "month").stdout)
    district = json.loads(
        _citylens(demo_env, "kpis", "--json", "--window", "month",
                  "--district", "santander-01").stdout
    )
    assert district["district"] == "santander-01"
    assert [k["value"] for k in district["kpis"]] != [k["value"] for k in city["kpis"]]


def test_unknown_district_and_window_are_clear_errors(demo_env: dict[str, str]) -> None:
    bad = _citylens(demo_env, "kpis", "--district", "atlantis")
    assert bad.returncode == 2 and "unknown district 'atlantis'" in bad.stderr
    bad = _citylens(demo_env, "kpis", "--window", "decade")
    assert bad.returncode == 2 and "unknown window" in bad.stderr


def test_a_demo_reused_hours_later_tops_itself_up(tmp_path: Path) -> None:
    """The next day, ``citylens demo`` brings the reused demo's data up to the current hour
    (no --refresh needed)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import create_engine, text

    env = {**os.environ, "CITYLENS_VAR_DIR": str(tmp_path), "CITYLENS_REDIS_URL": ""}
    env.pop("CITYLENS_DATABASE_URL", None)
    assert _citylens(env, "demo", "--scale", "tiny", "--no-serve").returncode == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'citylens.db'}")
    with engine.begin() as conn:
        meta = json.loads(conn.execute(text("SELECT value FROM meta WHERE key = 'demo'"))
                          .scalar_one())
        current_end = meta["end"]
        meta["end"] = (datetime.fromisoformat(current_end) - timedelta(hours=5)).isoformat()
        conn.execute(text("UPDATE meta SET value = :v WHERE key = 'demo'"),
                     {"v": json.dumps(meta)})
    again = _citylens(env, "demo", "--scale", "tiny", "--no-serve")
    assert again.returncode == 0, again.stderr
    assert "topping it up to the current hour" in again.stdout
    with engine.connect() as conn:
        end = json.loads(conn.execute(text("SELECT value FROM meta WHERE key = 'demo'"))
                         .scalar_one())["end"]
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    assert datetime.fromisoformat(end) >= min(datetime.fromisoformat(current_end), hour)
    engine.dispose()


def test_a_busy_port_is_one_line_before_any_work(tmp_path: Path) -> None:
    """``demo`` and ``serve`` on a port something already listens on: one line saying what
    to do, exit 1, and no city generated first."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "CITYLENS_VAR_DIR": str(tmp_path / "var"), "CITYLENS_REDIS_URL": ""}
        env.pop("CITYLENS_DATABASE_URL", None)
        for command in (["demo", "--scale", "tiny"], ["serve"]):
            done = _citylens(env, *command, "--port", str(port))
            assert done.returncode == 1, done.stderr[-2000:]
            assert done.stderr.strip() == (
                f"error: port {port} on 127.0.0.1 is already in use (another CityLens, or "
                f"another program): stop it, or serve on another port with --port {port + 1} "
                f"(or CITYLENS_PORT={port + 1})")
            assert "Dash is running" not in done.stdout
        assert not (tmp_path / "var" / "citylens.db").exists()


def test_kpis_speak_spanish_whole(demo_env: dict[str, str]) -> None:
    """``kpis --lang es``: every word from the catalogue, Spanish number format, and the
    district by its name, not only the KPI names."""
    import re
    import sqlite3

    db = sqlite3.connect(Path(demo_env["CITYLENS_VAR_DIR"]) / "citylens.db")
    district, name = db.execute("SELECT id, name FROM districts ORDER BY id").fetchone()
    db.close()
    done = _citylens(demo_env, "kpis", "--lang", "es", "--district", district)
    assert done.returncode == 0, done.stderr
    first, *rows = done.stdout.strip().splitlines()
    assert re.fullmatch(rf"Puntuación de la ciudad \({re.escape(name)}, semana\): "
                        r"(\d+,\d\d|–) · \d+ de \d+ indicadores puntuados", first), first
    assert rows and all(" objetivo " in r and " puntuación " in r for r in rows)
    text = done.stdout
    assert not re.search(r"\b(target|score|City|days|n/a)\b", text), text
    assert not re.search(r"\d\.\d{1,2}\b", text.replace("PM2.5", "")), "English decimals"
    assert "/1,000" not in text


def test_help_says_where_every_other_setting_is(demo_env: dict[str, str]) -> None:
    done = _citylens(demo_env, "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "--database-url" in text and "--var-dir" in text
    assert "every other setting" in text and "CITYLENS_<NAME>" in text
