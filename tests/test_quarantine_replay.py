"""Quarantine replay (``connectors.replay``): records refused for a reference the store did
not hold yet are stored by the run that brings it; ``citylens quarantine retry`` replays by
hand; what is still refused stays with its new reason; a cut payload is never replayed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from typer.testing import CliRunner

from connectors.cli import quarantine_app
from connectors.csv_source import CsvConnector
from connectors.open311 import Open311Connector
from connectors.replay import replay_quarantine
from connectors.runner import QUARANTINE_PAYLOAD_CHARS, _raw_text, run_source
from dashboard.model import Citizen, FeedRun, Quarantine, ServiceRequest
from dashboard.settings import Settings, get_settings

CITIZENS = """entity: citizens
columns: {id: dni_hash, name: nombre}
"""


def requests(count: int, citizens: int) -> list[dict[str, Any]]:
    """``count`` requests, all but every fourth naming one of ``citizens`` residents."""
    return [{"service_request_id": f"SR-{n}", "status": "open", "service_code": "pothole",
             "requested_datetime": f"2026-05-01T10:{n % 60:02d}:00Z",
             **({"account_id": f"C-{n % citizens}"} if n % 4 else {})}
            for n in range(count)]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def quarantined(engine: Engine, source: str) -> list[tuple[str, str | None, str | None]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(Quarantine.reason, Quarantine.missing, Quarantine.missing_ref)
            .where(Quarantine.source_id == source).order_by(Quarantine.id))]


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_requests_before_their_register_are_stored_when_it_arrives(
        fresh_engine: Engine, settings: Settings, tmp_path: Path) -> None:
    sent = requests(446, citizens=40)
    late = {f"C-{n}" for n in range(30, 40)}  # residents the register does not hold yet
    waiting_late = sum(1 for r in sent if r.get("account_id") in late)
    feed = write(tmp_path / "requests.json", json.dumps(sent))
    crm = run_source(fresh_engine, settings, Open311Connector({"location": str(feed)}), "crm")
    assert (crm.stored, crm.quarantined) == (112, 334)  # only those naming nobody
    waiting = quarantined(fresh_engine, "crm")
    assert waiting[0] == ("service_requests: unknown citizen 'C-1'", "citizen", "C-1")
    assert {m for _, m, _ in waiting} == {"citizen"}

    register = "dni_hash,nombre\n" + "".join(f"C-{n},Vecino {n}\n" for n in range(30))
    padron = run_source(fresh_engine, settings, CsvConnector({
        "location": str(write(tmp_path / "padron.csv", register)),
        "mapping": str(write(tmp_path / "padron.yaml", CITIZENS))}), "padron")
    assert padron.stored == 30
    # the register's run replayed those awaiting its citizens; C-30..C-39 still wait
    still = quarantined(fresh_engine, "crm")
    assert len(still) == waiting_late and {ref for _, _, ref in still} == {
        r["account_id"] for r in sent if r.get("account_id") in late}
    assert count(fresh_engine, ServiceRequest) == 446 - waiting_late
    with fresh_engine.connect() as conn:
        replay = conn.execute(select(FeedRun.records_in, FeedRun.stored, FeedRun.quarantined)
                              .where(FeedRun.status == "replay")).one()
    replayed = 334 - waiting_late
    assert tuple(replay) == (replayed, replayed, 0)  # only those whose citizen had arrived

    with fresh_engine.begin() as conn:  # the last ten residents, entered by hand
        conn.execute(insert(Citizen), [{"id": f"C-{n}", "name": "x", "consent": {}}
                                       for n in range(30, 40)])
    reports = replay_quarantine(fresh_engine, settings, source_id="crm")
    assert (reports["crm"].tried, reports["crm"].stored) == (waiting_late, waiting_late)
    assert quarantined(fresh_engine, "crm") == [] and count(fresh_engine, ServiceRequest) == 446
    again = run_source(fresh_engine, settings, Open311Connector({"location": str(feed)}),
                       "crm", full=True)
    assert (again.stored, again.quarantined) == (446, 0)
    assert count(fresh_engine, ServiceRequest) == 446  # nothing twice


def test_still_refused_records_stay_with_their_new_reason(
        fresh_engine: Engine, settings: Settings, tmp_path: Path) -> None:
    feed = write(tmp_path / "requests.json", json.dumps(requests(8, citizens=2)))
    run_source(fresh_engine, settings, Open311Connector({"location": str(feed)}), "crm")
    with fresh_engine.begin() as conn:  # one payload was cut when quarantined
        first = conn.execute(select(func.min(Quarantine.id))).scalar_one()
        conn.execute(update(Quarantine).where(Quarantine.id == first)
                     .values(payload=_raw_text({"long": "x" * QUARANTINE_PAYLOAD_CHARS})))
        conn.execute(insert(Citizen), [{"id": "C-0", "name": "x", "consent": {}}])
    before = quarantined(fresh_engine, "crm")
    reports = replay_quarantine(fresh_engine, settings)
    assert (reports["crm"].tried, reports["crm"].stored,
            reports["crm"].still_quarantined) == (6, 2, 4)
    after = quarantined(fresh_engine, "crm")
    assert after[0] == before[0]  # the cut one, untouched
    assert {ref for _, _, ref in after[1:]} == {"C-1"}


def test_quarantine_retry_command(fresh_engine: Engine, tmp_path: Path,
                                  monkeypatch) -> None:
    url = fresh_engine.url.render_as_string(hide_password=False)
    feed = write(tmp_path / "requests.json", json.dumps(requests(4, citizens=1)))
    run_source(fresh_engine, Settings(), Open311Connector({"location": str(feed)}), "crm")
    with fresh_engine.begin() as conn:
        conn.execute(insert(Citizen), [{"id": "C-0", "name": "x", "consent": {}}])
    get_settings.cache_clear()
    monkeypatch.setattr("dashboard.store.get_engine", lambda _url: fresh_engine)
    try:
        done = CliRunner().invoke(quarantine_app, ["retry", "--source", "crm"],
                                  env={"CITYLENS_DATABASE_URL": url, "CITYLENS_REDIS_URL": ""})
        nothing = CliRunner().invoke(quarantine_app, ["retry"],
                                     env={"CITYLENS_DATABASE_URL": url})
    finally:
        get_settings.cache_clear()
    assert done.exit_code == 0, done.output
    assert done.output == "crm: 3 tried, 3 stored, 0 still quarantined\n"
    assert nothing.output == "Nothing to replay.\n"
    assert count(fresh_engine, ServiceRequest) == 4
