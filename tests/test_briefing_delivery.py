"""The briefing arrives: ``citylens briefing send`` and the scheduler's notifier e-mail it
through a real SMTP server (aiosmtpd in its own process); the message parses, its inline
charts are there, its PDF attachment is a valid PDF whose text (pdftotext) carries the
city score and the best and worst KPIs with the values ``citylens kpis --json`` gives; a
department head's holds only their department; each user's briefing of a period is sent
once however many notifiers run."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboard.briefing.content import briefing_period
from dashboard.briefing.formats import kpi_value_text, score_text
from dashboard.settings import Settings
from tests.conftest import TINY_NOW
from tests.side_servers import SideSmtp

pytestmark = pytest.mark.browser  # the PDF is printed by headless Chromium

CITYLENS = str(Path(sys.executable).with_name("citylens"))


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SideSmtp]:
    server = SideSmtp(tmp_path / "smtp")
    yield server
    server.close()


@pytest.fixture
def city(tiny_city: Settings, tmp_path: Path, smtp: SideSmtp) -> tuple[Settings, dict[str, str]]:
    """A copy of the tiny city's store (its demo users have e-mail addresses; the mayor
    reads Spanish) and the environment that sends its mail to ``smtp``."""
    var = tmp_path / "var"
    shutil.copytree(tiny_city.var_dir, var)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CITYLENS_VAR_DIR": str(var),
           "CITYLENS_DATABASE_URL": "", "CITYLENS_REDIS_URL": "",
           "CITYLENS_NOW": TINY_NOW.isoformat(), "CITYLENS_SMTP_HOST": "127.0.0.1",
           "CITYLENS_SMTP_PORT": str(smtp.port),
           "CITYLENS_PUBLIC_URL": "https://citylens.city.example"}
    settings = Settings(var_dir=var, database_url="", redis_url=None, now=TINY_NOW,
                        smtp_host="127.0.0.1", smtp_port=smtp.port,
                        public_url="https://citylens.city.example")
    return settings, env


def _period_end(frequency: str = "weekly") -> str:
    """The last second of the period a briefing sent at TINY_NOW tells (``citylens kpis``
    at that moment gives the briefing's numbers)."""
    last = briefing_period(frequency, TINY_NOW, "Europe/Madrid")[1]
    end = datetime.combine(last + timedelta(days=1), time(0), ZoneInfo("Europe/Madrid"))
    return (end - timedelta(seconds=1)).astimezone(timezone.utc).isoformat()


def _kpis(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``citylens kpis --json --window week`` as of the end of the briefing's week."""
    done = _citylens({**env, "CITYLENS_NOW": _period_end()}, "kpis", "--json", "--window",
                     "week", *args)
    return dict(json.loads(done.stdout))


def _citylens(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CITYLENS, *args], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "briefing.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout
    return _words(text)


def _words(text: str) -> str:
    """Whitespace (no-break spaces too) as single spaces, as pdftotext's lines fall."""
    return re.sub(r"\s+", " ", text)


def _attachment(message: Any) -> tuple[str, bytes]:
    (pdf,) = [part for part in message.iter_attachments()
              if part.get_content_type() == "application/pdf"]
    return pdf.get_filename(), pdf.get_content()


def test_the_mayors_briefing_arrives_with_the_numbers_of_citylens_kpis(
        city: tuple[Settings, dict[str, str]], smtp: SideSmtp, tmp_path: Path) -> None:
    _, env = city
    kpis = _kpis(env)
    _citylens(env, "briefing", "send", "--user", "mayor")
    (message,) = smtp.messages()
    assert message["To"] == "mayor@citylens.example"
    assert "CityLens" in message["Subject"]
    html = message.get_body(preferencelist=("html",))
    related = [part["Content-ID"].strip("<>") for part in message.walk()
               if part.get_content_type() == "image/png"]
    assert related, "the charts travel as inline images"
    assert all(f"cid:{cid}" in html.get_content() for cid in related)
    assert 'lang="es"' in html.get_content()
    name, pdf = _attachment(message)
    assert name.endswith(".pdf") and pdf.startswith(b"%PDF-")
    text = _pdf_text(pdf, tmp_path)
    assert _words(score_text(kpis["city_score"], "es")) in text
    scored = sorted((k for k in kpis["kpis"] if k["score"] is not None),
                    key=lambda k: k["score"])
    for kpi in (scored[-1], scored[0]):  # the best and the worst
        assert _words(kpi["names"]["es"]) in text
        assert _words(kpi_value_text(kpi["value"], kpi["unit"], kpi["decimals"], "es")) in text
    assert "citylens.example" not in text.replace("mayor@citylens.example", "")


def test_a_department_heads_briefing_holds_only_their_department(
        city: tuple[Settings, dict[str, str]], smtp: SideSmtp, tmp_path: Path) -> None:
    _, env = city
    mine = _kpis(env, "--department", "Residuos y Limpieza")
    every = _kpis(env)
    _citylens(env, "briefing", "send", "--user", "waste.head")
    (message,) = smtp.messages()
    text = _pdf_text(_attachment(message)[1], tmp_path)
    own = {k["names"]["en"] for k in mine["kpis"]}
    assert any(name in text for name in own)
    others = {k["names"]["en"] for k in every["kpis"]} - own
    assert others and not [name for name in others if name in text]
    assert _words(score_text(mine["city_score"], "en")) in text


def test_dry_run_writes_the_pdf_and_sends_nothing(
        city: tuple[Settings, dict[str, str]], smtp: SideSmtp, tmp_path: Path) -> None:
    _, env = city
    out = tmp_path / "mayor.pdf"
    done = _citylens(env, "briefing", "send", "--user", "mayor", "--dry-run", "--out",
                     str(out))
    assert out.read_bytes().startswith(b"%PDF-") and str(out) in done.stdout
    assert smtp.messages() == []


def test_the_scheduler_sends_each_users_briefing_of_a_period_once(
        city: tuple[Settings, dict[str, str]], smtp: SideSmtp) -> None:
    """Two notifiers (as two schedulers would) run the same Monday: every staff user with
    an address gets last week's briefing, once; the delivery log says so."""
    from app import render_briefing
    from dashboard.notify.cycle import notify_once
    from dashboard.queries.notifications import delivery_log
    from dashboard.store import get_engine

    settings, _ = city
    engine = get_engine(settings.resolved_database_url)
    for holder in ("scheduler-a", "scheduler-b", "scheduler-a"):
        notify_once(engine, settings, render_briefing, clock=lambda: TINY_NOW, holder=holder)
    received = sorted(m["To"] for m in smtp.messages())
    assert received == ["admin@citylens.example", "mayor@citylens.example",
                        "mobility.head@citylens.example", "waste.head@citylens.example"]
    briefings = [d for d in delivery_log(settings) if d["kind"] == "briefing"]
    assert len(briefings) == 4 and {d["status"] for d in briefings} == {"sent"}
