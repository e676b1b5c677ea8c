"""The city's commitments: saving one (each refusal, a department head's scope, progress rows
only on a change, the audit entry), the YAML import through the command line, the read
model (a district's own plus the city-wide ones, late flags on constructed dates), the
public page in es and en and the staff page over Dash's endpoint, and the kiosk's slide on
the tiny city (whose demo loads data/commitments.example.yaml)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from dashboard.auth import ADMIN, DEPARTMENT_HEAD, OFFICIAL
from dashboard.auth.audit import entries
from dashboard.auth.users import ANONYMOUS, Principal
from dashboard.commitments import save_commitment
from dashboard.model import Commitment, CommitmentProgress, District, Service
from dashboard.queries.commitments import commitments_for
from dashboard.settings import Settings
from dashboard.store import get_engine
from tests.conftest import router_body, sign_in

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
ANA = Principal("ana", OFFICIAL)
WASTE_HEAD = Principal("wh", DEPARTMENT_HEAD, ("Residuos y Limpieza",))
SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A store of its own with two districts, at ``NOW``."""
    made = Settings(var_dir=tmp_path, database_url="", redis_url=None, now=NOW)
    with get_engine(made.resolved_database_url).begin() as conn:
        conn.execute(insert(District), [{"id": "d1", "name": "Centro", "geometry": SQUARE},
                                        {"id": "d2", "name": "Norte", "geometry": SQUARE}])
    return made


def commitment(**changes: Any) -> dict[str, Any]:
    """A valid commitment of the waste department for the whole city, with ``changes``."""
    return {"id": "bins", "title": {"es": "Contenedores nuevos", "en": "New bins"},
            "summary": {"es": "Mil contenedores"}, "department": "Residuos y Limpieza",
            "district_id": None, "budget_eur": 480000, "spent_eur": 100000,
            "starts_on": "2026-02-01", "ends_on": "2027-01-31", "status": "under_way",
            "percent_complete": 45, "kpis": ["waste_fill"],
            "milestones": [{"title": {"es": "Piloto"}, "due": "2026-04-30",
                            "done_on": "2026-04-20"},
                           {"title": {"es": "Todos"}, "due": "2027-01-31", "done_on": None}],
            **changes}


def _rows(settings: Settings, table: Any) -> int:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _audited(settings: Settings) -> list[dict[str, Any]]:
    with get_engine(settings.resolved_database_url).connect() as conn:
        return [e for e in entries(conn) if e["action"] == "commitment"]


def at(settings: Settings, moment: datetime) -> Settings:
    return settings.model_copy(update={"now": moment})


# ---- saving ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "says"), [
    ({"title": {"en": "New bins"}}, "title: a text in es"),
    ({"percent_complete": 101}, "percent_complete: a number from 0 to 100"),
    ({"percent_complete": -1}, "percent_complete"),
    ({"percent_complete": "half"}, "percent_complete"),
    ({"ends_on": "2026-01-31"}, "ends_on must not come before starts_on"),
    ({"starts_on": "1 Feb"}, "starts_on: '1 Feb' is not a date"),
    ({"status": "paused"}, "status 'paused' is not one of"),
    ({"status": "done"}, "done is 100 % complete"),
    ({"kpis": ["waste_fill", "happiness"]}, "KPIs not in the KPI catalogue: happiness"),
    ({"milestones": [{"title": {"es": "Piloto"}, "due": "2026-13-01"}]}, "milestone 1 due"),
    ({"milestones": [{"title": {"en": "Pilot"}, "due": "2026-04-30"}]}, "milestone 1 title"),
    ({"id": "Bins 2026"}, "a slug"),
    ({"district_id": "d9"}, "'d9' is not a district"),
    ({"department": " "}, "department"),
    ({"budget_eur": -5}, "budget_eur"),
    ({"note": "x" * 301}, "note: at most 300"),
])
def test_each_refusal_says_why_in_one_line_and_writes_nothing(
        settings: Settings, changes: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError) as refused:
        save_commitment(settings, ANA, commitment(**changes))
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert _rows(settings, Commitment) == _rows(settings, CommitmentProgress) == 0
    assert not _audited(settings)


def test_only_staff_keep_commitments(settings: Settings) -> None:
    with pytest.raises(PermissionError):
        save_commitment(settings, ANONYMOUS, commitment())
    assert _rows(settings, Commitment) == 0


def test_a_department_head_keeps_only_their_departments_commitments(settings: Settings) -> None:
    assert save_commitment(settings, WASTE_HEAD, commitment()) == "bins"
    save_commitment(settings, ANA, commitment(id="lane", department="Movilidad"))
    for refused in (commitment(id="lane", department="Movilidad"),  # another department's
                    commitment(id="lane"),  # ... taken over by naming their own
                    commitment(department="Movilidad"),  # their own, handed away
                    commitment(id="new-lane", department="Movilidad")):
        with pytest.raises(PermissionError, match="their own departments"):
            save_commitment(settings, WASTE_HEAD, refused)
    departments = {c["id"]: c["department"] for c in commitments_for(settings, None)}
    assert departments == {"bins": "Residuos y Limpieza", "lane": "Movilidad"}


def test_progress_rows_only_when_percent_or_status_change_and_every_save_audited(
        settings: Settings) -> None:
    later = NOW + timedelta(days=30)
    save_commitment(settings, ANA, commitment())
    save_commitment(settings, ANA, {"id": "bins", "budget_eur": 500000, "note": "more"})
    assert _rows(settings, CommitmentProgress) == 1  # the budget is no progress
    save_commitment(at(settings, later), ANA, {"id": "bins", "percent_complete": 60,
                                               "note": "Half the bins in place"})
    save_commitment(at(settings, later + timedelta(days=1)), ANA,
                    {"id": "bins", "status": "delayed"})
    [found] = commitments_for(at(settings, later + timedelta(days=1)), None)
    assert [(h["percent_complete"], h["status"], h["note"]) for h in found["history"]] == [
        (45, "under_way", ""), (60, "under_way", "Half the bins in place"), (60, "delayed", "")]
    assert found["budget_eur"] == 500000 and found["title"]["en"] == "New bins"  # kept
    audited = _audited(settings)
    assert len(audited) == 4 and {(e["username"], e["subject"]) for e in audited} == {
        ("ana", "bins")}
    assert audited[-1]["reason"] == "created: 45 % complete, under_way"
    # two changes in the same instant keep one point, the last
    save_commitment(at(settings, later), ANA, {"id": "bins", "percent_complete": 65})
    assert _rows(settings, CommitmentProgress) == 3


# ---- reading ---------------------------------------------------------------------------------

def test_a_district_gets_its_own_and_the_city_wide_commitments(settings: Settings) -> None:
    save_commitment(settings, ANA, commitment())
    save_commitment(settings, ANA, commitment(id="centre", district_id="d1"))
    save_commitment(settings, ANA, commitment(id="north", district_id="d2",
                                              department="Movilidad"))
    assert [c["id"] for c in commitments_for(settings, "d1")] == ["centre", "bins"]
    assert {c["id"] for c in commitments_for(settings, None)} == {"centre", "bins", "north"}
    assert [c["id"] for c in commitments_for(settings, None, "Movilidad")] == ["north"]
    found = commitments_for(settings, "d1")[0]
    assert found["district_name"] == "Centro" and "updated_by" not in found
    assert found["department_name"] == {"es": "Residuos y Limpieza", "en": "Waste and Cleaning"}
    assert [k["id"] for k in found["kpi_values"]] == ["waste_fill"]
    assert set(found["kpi_values"][0]) == {"id", "name", "unit", "decimals", "value",
                                           "status", "place"}


@pytest.mark.parametrize(("changes", "late", "past_end", "overdue", "next_due"), [
    ({}, False, False, 0, "2027-01-31"),
    ({"ends_on": "2026-11-22"}, True, True, 0, "2027-01-31"),
    ({"ends_on": "2026-11-23"}, False, False, 0, "2027-01-31"),  # ends today: not yet late
    ({"milestones": [{"title": "Piloto", "due": "2026-11-01"}]}, True, False, 1, "2026-11-01"),
    ({"status": "done", "percent_complete": 100, "ends_on": "2026-11-01"}, False, False, 0,
     None),
    ({"status": "cancelled", "ends_on": "2026-11-01"}, False, False, 0, None),
])
def test_late_flags(settings: Settings, changes: dict[str, Any], late: bool, past_end: bool,
                    overdue: int, next_due: str | None) -> None:
    save_commitment(settings, ANA, commitment(**changes))
    [found] = commitments_for(settings, None)
    assert (found["late"], found["past_end"], found["overdue_milestones"]) == (
        late, past_end, overdue)
    assert (found["next_milestone"] or {}).get("due") == next_due


# ---- the command line ------------------------------------------------------------------------

def test_the_yaml_import_creates_and_updates_all_or_nothing(cli_store: Any,
                                                            tmp_path: Path) -> None:
    import yaml

    def write(*items: dict[str, Any]) -> str:
        path = tmp_path / "commitments.yaml"
        path.write_text(yaml.safe_dump({"commitments": list(items)}), encoding="utf-8")
        return str(path)

    done = cli_store("commitments", "import", write(commitment(), commitment(id="lamps")))
    assert done.exit_code == 0 and "imported 2 commitments: bins, lamps" in done.output
    broken = cli_store("commitments", "import", write(commitment(percent_complete=70),
                                                      commitment(id="odd", status="paused")))
    assert broken.exit_code == 2 and "odd: status 'paused'" in broken.output
    listed = cli_store("commitments", "list")
    assert "bins" in listed.output and "45 %" in listed.output  # the first was not saved
    assert cli_store("commitments", "import", write(commitment(percent_complete=70))
                     ).exit_code == 0
    found = json.loads(cli_store("commitments", "list", "--json").output)
    bins = next(c for c in found if c["id"] == "bins")
    assert [h["percent_complete"] for h in bins["history"]] == [45, 70]
    example = Path(__file__).resolve().parents[1] / "data" / "commitments.example.yaml"
    unknown = cli_store("commitments", "import", str(example))
    assert unknown.exit_code == 2 and "is not a district of this city" in unknown.output


# ---- the pages over Dash's endpoint ----------------------------------------------------------

@pytest.fixture
def app_on(settings: Settings) -> Any:
    """The app on ``settings``' store, with three commitments and two members of staff."""
    from app import create_app
    from dashboard.auth.users import add_user

    save_commitment(settings, ANA, commitment(district_id="d1"))
    save_commitment(settings, ANA, commitment(id="lane", department="Movilidad",
                                              title={"es": "Carril bici"}, percent_complete=10))
    save_commitment(settings, ANA, commitment(id="north", district_id="d2",
                                              title={"es": "Parque del norte"}))
    with get_engine(settings.resolved_database_url).begin() as conn:
        conn.execute(insert(Service).values(service_code="bins", service_name="Contenedor",
                                            department="Residuos y Limpieza"))
        add_user(conn, "mayor", OFFICIAL, "a long enough password")
        add_user(conn, "wh", DEPARTMENT_HEAD, "a long enough password",
                 departments=["Residuos y Limpieza"])
    return create_app(settings)


def _page(client: Any, path: str, search: str) -> str:
    body = router_body(path)
    body["inputs"][1]["value"] = search
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return json.dumps(response.get_json()["response"]["_pages_content"], ensure_ascii=False)


def test_the_public_page_in_spanish_and_english(app_on: Any) -> None:
    client = app_on.server.test_client()
    es = _page(client, "/commitments", "?lang=es&district=d1")
    assert "Qué hace el Ayuntamiento" in es and "45\xa0% completado" in es
    assert "Contenedores nuevos" in es and "Carril bici" in es and "Toda la ciudad" in es
    assert "Parque del norte" not in es  # another district's
    assert "Presupuesto" in es and "Próximo hito" in es and "Avance en el tiempo" in es
    en = _page(client, "/commitments", "?lang=en")
    assert "What the city is doing" in en and "45% complete" in en and "New bins" in en
    assert "Whole city" in en and "Parque del norte" in en and "Budget" in en
    assert '"(es)"' in en and "not translated yet: shown in Spanish" in en  # "Carril bici"
    assert '"ana"' not in es + en  # who changed a commitment is the audit log's business
    assert '<html lang="es">' in client.get("/commitments?lang=es").get_data(as_text=True)


def test_the_staff_page_is_refused_to_the_public_and_saves_for_staff(
        app_on: Any, settings: Settings) -> None:
    public = app_on.server.test_client()
    assert public.get("/commitments/manage").status_code == 302
    assert public.post("/_dash-update-component",
                       json=router_body("/commitments/manage")).status_code == 401
    head = app_on.server.test_client()
    sign_in(head, "wh", "a long enough password")
    page = _page(head, "/commitments/manage", "")
    assert "New bins" in page and "Carril bici" not in page  # their department's only
    assert "citylens commitments import" in page
    mayor = app_on.server.test_client()
    sign_in(mayor, "mayor", "a long enough password")
    assert "Carril bici" in _page(mayor, "/commitments/manage", "")

    def field(name: str, value: Any) -> dict[str, Any]:
        return {"id": {"id": "bins", "type": f"commitments-manage-{name}"},
                "property": "n_clicks" if name == "save" else "value", "value": value}

    deps = head.get("/_dash-dependencies").get_json()
    output = next(d["output"] for d in deps if "commitments-manage-result" in d["output"])
    body = {"output": output, "outputs": {"id": {"id": "bins",
                                                 "type": "commitments-manage-result"},
                                          "property": "children"},
            "inputs": [field("save", 1)],
            "state": [field("percent", 55), field("status", "under_way"),
                      field("note", "Calle Mayor done"), field("milestones", [0, 1])],
            "changedPropIds": ['{"id":"bins","type":"commitments-manage-save"}.n_clicks']}
    answer = head.post("/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert "Saved: Under way, 55 % complete" in answer.get_data(as_text=True)
    [found] = [c for c in commitments_for(settings, None) if c["id"] == "bins"]
    assert found["history"][-1]["note"] == "Calle Mayor done"
    assert [m["done_on"] for m in found["milestones"]] == ["2026-04-20", "2026-11-23"]
    assert _audited(settings)[0]["username"] == "wh"


# ---- the demo city and the kiosk -------------------------------------------------------------

def test_the_kiosk_shows_the_districts_and_the_city_wide_commitments(tiny_city: Settings,
                                                                     in_app: None) -> None:
    from dashboard.queries.kiosk import kiosk_data
    from layouts.kiosk import layout
    from tests.tree import text_of

    everything = commitments_for(tiny_city, None)
    assert len(everything) == 7 and all(len(c["history"]) >= 2 for c in everything
                                        if c["status"] == "under_way")
    data = kiosk_data(tiny_city, district="santander-03")
    shown = data["commitments"]
    assert len(shown) == 4 and {c["district_id"] for c in shown} == {"santander-03", None}
    assert not {"history", "updated_by", "kpi_values"} & set(shown[0])
    text = text_of(layout(lang="es", district="santander-03"))
    assert "Qué hace el Ayuntamiento en su distrito" in text
    assert "Renovación de la red de agua en El Sardinero" in text and "% completado" in text
    assert "Alumbrado LED en Monte" not in text  # another district's
    assert "What the city is doing" in text_of(layout(lang="en"))
